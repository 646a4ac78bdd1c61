package catalog

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/shelfcommerce/shelf/db"
	"github.com/shelfcommerce/shelf/internal/store"
)

// RootCategory is the category_id of the listing rows that hold the whole
// catalog, so that a listing without a category filter is one index range too.
const RootCategory = 0

// listingRow is one row of product_listing.
type listingRow struct {
	CategoryID uint64
	ProductID  uint64
	Slug       string
	Title      string
	Brand      string
	PriceMin   int64
	Currency   string
	InStock    bool
	CreatedAt  time.Time
	// fresh: a row of a product this transaction created, which nobody
	// else can have written, so it is only inserted.
	fresh bool
}

type listingKey struct{ category, product uint64 }

// SyncListing makes the storefront's read models agree with the normalised
// tables for the given products: product_listing (and categories'
// product_count), and product_pages (SyncPages). Every write that changes
// what a listing or a product page shows (status, title, brand, slug,
// description, variants, prices, images, attributes, categories, stock
// crossing zero, the version) calls it inside the same transaction, so the
// storefront never sees a listing that disagrees with the product page. It
// writes only the listing rows that differ, locks them in (category, product)
// order, and adjusts category counts in id order so that concurrent writers
// cannot deadlock on them.
func SyncListing(ctx context.Context, tx *store.Tx, productIDs []uint64) error {
	return syncListing(ctx, tx, productIDs, nil, nil)
}

// syncListing is SyncListing for productIDs, plus the listing rows and
// pages of products created in this transaction (fresh, pages), which the
// caller built from what it wrote: such a product has no listing rows, page
// or counted attributes yet, so its rows and page are only inserted and
// counted, without reading anything. Its listing rows go into the same
// sorted write and the same count updates as the others', so the lock order
// stays one.
func syncListing(ctx context.Context, tx *store.Tx, productIDs []uint64, fresh []listingRow, pages []Product) error {
	if len(productIDs) == 0 && len(fresh) == 0 && len(pages) == 0 {
		return nil
	}
	ids := slices.Clone(productIDs)
	slices.Sort(ids)
	ids = slices.Compact(ids)

	want := make(map[listingKey]listingRow, len(ids)*4+len(fresh))
	delta := map[uint64]int64{}
	have := map[listingKey]bool{}
	listed := newListedIn()
	facets := facetDelta{}
	if len(ids) > 0 {
		if err := readListing(ctx, tx, ids, want, have, delta, listed, facets); err != nil {
			return err
		}
	}
	for _, r := range fresh {
		k := listingKey{r.CategoryID, r.ProductID}
		if _, dup := want[k]; dup || have[k] {
			return fmt.Errorf("listing row (%d, %d) of a new product is also an existing one's", r.CategoryID, r.ProductID)
		}
		r.fresh = true
		want[k] = r
		listed.after[r.ProductID] = append(listed.after[r.ProductID], r.CategoryID)
	}
	for i := range pages {
		listed.attrs[pages[i].ID] = pages[i].Attributes
	}
	if err := writeListing(ctx, tx, want, have, delta, facets); err != nil {
		return err
	}
	// The attribute counts' change is read before SyncPages rewrites the
	// pages it reads the old attributes from; the counts, rows that every
	// writer of a category shares, are written last, so that they are held
	// locked only from there to the commit.
	attrDelta, err := attributeCountChanges(ctx, tx, listed)
	if err != nil {
		return err
	}
	if err := SyncPages(ctx, tx, ids); err != nil {
		return err
	}
	newIDs := make([]uint64, len(pages))
	for i := range pages {
		newIDs[i] = pages[i].ID
	}
	if err := writeNewPages(ctx, tx, newIDs, pages); err != nil {
		return err
	}
	if err := writeCategoryCounts(ctx, tx, delta); err != nil {
		return err
	}
	if err := facets.write(ctx, tx); err != nil {
		return err
	}
	return writeCounts(ctx, tx, "listing_attribute_counts", "name", attrDelta)
}

// readListing reads the stored listing rows and their sources for ids, deletes
// the rows that should no longer exist, and leaves in want the rows to write,
// in listed the categories each product was and is listed under, and in
// facets the uncounting of every stored row it deletes or will replace.
func readListing(ctx context.Context, tx *store.Tx, ids []uint64, want map[listingKey]listingRow, have map[listingKey]bool, delta map[uint64]int64, listed *listedIn, facets facetDelta) error {
	existing, err := tx.Q.ListingRows(ctx, ids)
	if err != nil {
		return fmt.Errorf("read listing rows: %w", err)
	}
	sources, err := tx.Q.ListingSources(ctx, ids)
	if err != nil {
		return fmt.Errorf("read listing sources: %w", err)
	}
	cats, err := tx.Q.ListingCategories(ctx, ids)
	if err != nil {
		return fmt.Errorf("read listing categories: %w", err)
	}
	catsOf := make(map[uint64][]uint64, len(ids))
	for _, c := range cats {
		catsOf[c.ProductID] = append(catsOf[c.ProductID], c.AncestorID)
	}

	for _, s := range sources {
		if s.Status != db.ProductsStatusActive || s.PriceMin < 0 {
			continue // drafts, archived products and products with nothing to sell are not listed
		}
		row := listingRow{
			ProductID: s.ID, Slug: s.Slug, Title: s.Title, Brand: s.Brand,
			PriceMin: s.PriceMin, Currency: asString(s.Currency), InStock: s.InStock != 0,
			CreatedAt: s.CreatedAt,
		}
		for _, c := range append([]uint64{RootCategory}, catsOf[s.ID]...) {
			r := row
			r.CategoryID = c
			want[listingKey{c, s.ID}] = r
			listed.after[s.ID] = append(listed.after[s.ID], c)
		}
	}

	for _, e := range existing {
		k := listingKey{e.CategoryID, e.ProductID}
		have[k] = true
		listed.before[e.ProductID] = append(listed.before[e.ProductID], e.CategoryID)
		w, ok := want[k]
		if ok && w.Slug == e.Slug && w.Title == e.Title && w.Brand == e.Brand && w.PriceMin == e.PriceMin &&
			w.Currency == e.Currency && w.InStock == e.InStock && w.CreatedAt.Equal(e.CreatedAt) {
			delete(want, k) // unchanged: nothing to write
			continue
		}
		// Deleted or replaced: no longer counted as it was.
		facets.count(listingRow{CategoryID: e.CategoryID, Brand: e.Brand, PriceMin: e.PriceMin}, -1)
		if !ok {
			if err := tx.Q.DeleteListingRow(ctx, db.DeleteListingRowParams{CategoryID: e.CategoryID, ProductID: e.ProductID}); err != nil {
				return fmt.Errorf("delete listing row: %w", err)
			}
			delta[e.CategoryID]--
		}
	}
	return nil
}

// writeListing writes want in (category, product) order (the rows of new
// products inserted, the others upserted), adds to delta the rows that are
// new (not in have), for writeCategoryCounts, and to facets the rows it
// writes, for facetDelta.write.
func writeListing(ctx context.Context, tx *store.Tx, want map[listingKey]listingRow, have map[listingKey]bool, delta map[uint64]int64, facets facetDelta) error {
	keys := make([]listingKey, 0, len(want))
	for k, r := range want {
		keys = append(keys, k)
		if !have[k] {
			delta[k.category]++
		}
		facets.count(r, +1)
	}
	slices.SortFunc(keys, func(a, b listingKey) int {
		if a.category != b.category {
			return cmp.Compare(a.category, b.category)
		}
		return cmp.Compare(a.product, b.product)
	})
	var fresh, upserts []any
	for _, k := range keys {
		r := want[k]
		row := []any{r.CategoryID, r.ProductID, r.Slug, r.Title, r.Brand, r.PriceMin, r.Currency, r.InStock, r.CreatedAt}
		if r.fresh {
			fresh = append(fresh, row...)
		} else {
			upserts = append(upserts, row...)
		}
	}
	if err := productListingTable.Insert(ctx, tx, fresh); err != nil {
		return fmt.Errorf("write listing rows: %w", err)
	}
	if len(upserts) > 0 {
		if _, err := productListingTable.Upsert(ctx, tx, upserts,
			"ON DUPLICATE KEY UPDATE slug = VALUES(slug), title = VALUES(title), brand = VALUES(brand), "+
				"price_min = VALUES(price_min), currency = VALUES(currency), in_stock = VALUES(in_stock), created_at = VALUES(created_at)"); err != nil {
			return fmt.Errorf("write listing rows: %w", err)
		}
	}
	return nil
}

// writeCategoryCounts adds delta to the categories' product_count.
func writeCategoryCounts(ctx context.Context, tx *store.Tx, delta map[uint64]int64) error {
	catIDs := make([]uint64, 0, len(delta))
	for c, d := range delta {
		if c != RootCategory && d != 0 {
			catIDs = append(catIDs, c)
		}
	}
	slices.Sort(catIDs)
	if len(catIDs) > 0 {
		// One statement for all of them; it locks the rows in id (primary
		// key) order, like every other writer of the counts.
		var q strings.Builder
		args := make([]any, 0, len(catIDs)*3)
		q.WriteString("UPDATE categories SET product_count = product_count + CASE id")
		for _, c := range catIDs {
			q.WriteString(" WHEN ? THEN ?")
			args = append(args, c, delta[c])
		}
		q.WriteString(" ELSE 0 END WHERE id IN (")
		for i, c := range catIDs {
			if i > 0 {
				q.WriteByte(',')
			}
			q.WriteByte('?')
			args = append(args, c)
		}
		q.WriteByte(')')
		if _, err := tx.ExecContext(ctx, q.String(), args...); err != nil {
			return fmt.Errorf("adjust category counts: %w", err)
		}
	}
	return nil
}

// asString reads a text column that sqlc could only type as interface{}.
func asString(v any) string {
	switch s := v.(type) {
	case string:
		return s
	case []byte:
		return string(s)
	case nil:
		return ""
	}
	return fmt.Sprint(v)
}
