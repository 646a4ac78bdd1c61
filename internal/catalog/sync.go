package catalog

import (
	"context"
	"fmt"
	"slices"
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
}

type listingKey struct{ category, product uint64 }

// SyncListing makes product_listing (and categories.product_count) agree with
// the normalised tables for the given products. Every write that changes a
// product's status, title, brand, slug, variants, prices, stock crossing zero
// or categories calls it inside the same transaction, so the storefront never
// sees a listing that disagrees with the product page. It writes only the rows
// that differ, locks them in (category, product) order, and adjusts category
// counts in id order so that concurrent writers cannot deadlock on them.
func SyncListing(ctx context.Context, tx *store.Tx, productIDs []uint64) error {
	if len(productIDs) == 0 {
		return nil
	}
	ids := slices.Clone(productIDs)
	slices.Sort(ids)
	ids = slices.Compact(ids)

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

	want := make(map[listingKey]listingRow, len(sources)*4)
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
		}
	}

	delta := map[uint64]int64{}
	have := make(map[listingKey]bool, len(existing))
	for _, e := range existing {
		k := listingKey{e.CategoryID, e.ProductID}
		have[k] = true
		w, ok := want[k]
		if !ok {
			if err := tx.Q.DeleteListingRow(ctx, db.DeleteListingRowParams{CategoryID: e.CategoryID, ProductID: e.ProductID}); err != nil {
				return fmt.Errorf("delete listing row: %w", err)
			}
			delta[e.CategoryID]--
			continue
		}
		if w.Slug == e.Slug && w.Title == e.Title && w.Brand == e.Brand && w.PriceMin == e.PriceMin &&
			w.Currency == e.Currency && w.InStock == e.InStock && w.CreatedAt.Equal(e.CreatedAt) {
			delete(want, k) // unchanged: nothing to write
		}
	}

	keys := make([]listingKey, 0, len(want))
	for k := range want {
		keys = append(keys, k)
		if !have[k] {
			delta[k.category]++
		}
	}
	slices.SortFunc(keys, func(a, b listingKey) int {
		if a.category != b.category {
			return cmpU(a.category, b.category)
		}
		return cmpU(a.product, b.product)
	})
	if len(keys) > 0 {
		args := make([]any, 0, len(keys)*9)
		for _, k := range keys {
			r := want[k]
			args = append(args, r.CategoryID, r.ProductID, r.Slug, r.Title, r.Brand, r.PriceMin, r.Currency, r.InStock, r.CreatedAt)
		}
		_, err := store.InsertRows(ctx, tx,
			"INSERT INTO product_listing (category_id, product_id, slug, title, brand, price_min, currency, in_stock, created_at)",
			9, args,
			"ON DUPLICATE KEY UPDATE slug = VALUES(slug), title = VALUES(title), brand = VALUES(brand), "+
				"price_min = VALUES(price_min), currency = VALUES(currency), in_stock = VALUES(in_stock), created_at = VALUES(created_at)")
		if err != nil {
			return fmt.Errorf("write listing rows: %w", err)
		}
	}

	catIDs := make([]uint64, 0, len(delta))
	for c, d := range delta {
		if c != RootCategory && d != 0 {
			catIDs = append(catIDs, c)
		}
	}
	slices.Sort(catIDs)
	for _, c := range catIDs {
		if err := tx.Q.AddCategoryProductCount(ctx, db.AddCategoryProductCountParams{ProductCount: delta[c], ID: c}); err != nil {
			return fmt.Errorf("adjust category count: %w", err)
		}
	}
	return nil
}

func cmpU(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
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
