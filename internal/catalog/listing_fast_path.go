package catalog

import (
	"context"
	"fmt"
	"slices"

	"github.com/shelfcommerce/shelf/db"
	"github.com/shelfcommerce/shelf/internal/store"
)

// syncListing brings the listing read model up to date for the batch. A
// product that existed goes through SyncListing's read-compare-write. A
// product created by this batch has no listing rows yet, and everything its
// rows hold is what this batch just wrote: its status, slug, title, brand and
// creation time; all its variants are active, so its lowest price and
// currency are its variants'; it is in stock if any of them has stock (a
// variant without a quantity got 0); and it is listed under its category and
// that category's ancestors (read from the closure table, as SyncListing
// does). So its rows are built here and only inserted, with the same counts
// SyncListing would add, and nothing is read back.
func (w *Writer) syncListing(ctx context.Context, tx *store.Tx, byID map[uint64]*plan, ids []uint64) error {
	var old []uint64
	var fresh []*plan
	var catIDs []uint64
	for _, id := range ids {
		pl := byID[id]
		switch {
		case pl.exists || !knownStatus(pl.p.Status) || !storedAsGiven(pl.p.Variants):
			old = append(old, id)
		case pl.p.Status == string(db.ProductsStatusActive):
			fresh = append(fresh, pl)
			if pl.catID != 0 {
				catIDs = append(catIDs, pl.catID)
			}
		}
		// A new draft or archived product is not listed: nothing to write.
	}
	ancestors := map[uint64][]uint64{}
	if len(catIDs) > 0 {
		slices.Sort(catIDs)
		catIDs = slices.Compact(catIDs)
		rows, err := tx.Q.ListingAncestorsOf(ctx, catIDs)
		if err != nil {
			return fmt.Errorf("read category ancestors: %w", err)
		}
		for _, r := range rows {
			ancestors[r.CategoryID] = append(ancestors[r.CategoryID], r.AncestorID)
		}
	}
	rows := make([]listingRow, 0, len(fresh)*3)
	for _, pl := range fresh {
		vs := pl.p.Variants
		row := listingRow{ProductID: pl.id, Slug: pl.p.Handle, Title: pl.p.Title, Brand: pl.p.Brand,
			PriceMin: vs[0].Price, Currency: vs[0].Currency, CreatedAt: pl.created}
		for _, v := range vs {
			row.PriceMin = min(row.PriceMin, v.Price)
			row.Currency = min(row.Currency, v.Currency)
			if v.InventoryQty != nil && *v.InventoryQty > 0 {
				row.InStock = true
			}
		}
		row.CategoryID = RootCategory
		rows = append(rows, row)
		for _, c := range ancestors[pl.catID] {
			row.CategoryID = c
			rows = append(rows, row)
		}
	}
	return syncListing(ctx, tx, old, rows)
}
