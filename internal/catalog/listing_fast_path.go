package catalog

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/shelfcommerce/shelf/db"
	"github.com/shelfcommerce/shelf/internal/money"
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
// SyncListing would add, and nothing is read back. Its product page is built
// the same way (freshPage), from what was written, rather than read back.
func (w *Writer) syncListing(ctx context.Context, tx *store.Tx, byID map[uint64]*plan, ids []uint64) error {
	var old []uint64
	var fresh []*plan
	var catIDs []uint64
	for _, id := range ids {
		pl := byID[id]
		switch {
		case pl.exists || !knownStatus(pl.p.Status) || !storedAsGiven(pl.p.Variants) || !attrsAsGiven(pl.attrs) ||
			len(pl.vids) != len(pl.p.Variants):
			old = append(old, id)
		case pl.p.Status == string(db.ProductsStatusActive):
			fresh = append(fresh, pl)
			if pl.catID != 0 {
				catIDs = append(catIDs, pl.catID)
			}
		}
		// A new draft or archived product is not listed and has no page:
		// nothing to write.
	}
	ancestors := map[uint64][]uint64{}
	names := map[uint64]CategoryShort{}
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
		cats, err := tx.Q.ListingCategoryNames(ctx, catIDs)
		if err != nil {
			return fmt.Errorf("read category names: %w", err)
		}
		for _, c := range cats {
			names[c.ID] = CategoryShort{ID: c.ID, Slug: c.Slug, Name: c.Name}
		}
	}
	rows := make([]listingRow, 0, len(fresh)*3)
	pages := make([]Product, 0, len(fresh))
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
		var cat *CategoryShort
		if pl.catID != 0 {
			c, ok := names[pl.catID]
			if !ok {
				return fmt.Errorf("category %d of a new product is gone", pl.catID)
			}
			cat = &c
		}
		pages = append(pages, freshPage(pl, cat))
	}
	return syncListing(ctx, tx, old, rows, pages)
}

// freshPage is the page (see pageOf) of a product this batch created, from
// what it wrote: the product row, its variants (all active, at positions
// 0..n-1, ids in that order), images (ids in the order given), attributes as
// stored, and its one category (nil: none).
func freshPage(pl *plan, cat *CategoryShort) Product {
	in := pl.p
	p := Product{ID: pl.id, Slug: in.Handle, Title: in.Title, Brand: in.Brand, ProductType: in.ProductType,
		Description: in.DescriptionHTML, Version: pl.version, CreatedAt: pl.created, UpdatedAt: pl.created,
		OptionNames: []string{}, Variants: make([]Variant, 0, len(in.Variants)), Images: []Image{},
		Attributes: append([]Attribute{}, pl.attrs...), Categories: []CategoryShort{}}
	var names [3]string
	copy(names[:], in.OptionNames)
	for _, n := range names {
		if n != "" {
			p.OptionNames = append(p.OptionNames, n)
		}
	}
	for i, in := range in.Variants {
		v := Variant{ID: pl.vids[i], Price: money.Money{Amount: in.Price, Currency: in.Currency}, Options: []OptionValue{}}
		if in.SKU != "" {
			sku := in.SKU
			v.SKU = &sku
		}
		if in.CompareAtPrice != nil && *in.CompareAtPrice >= 0 {
			v.CompareAtPrice = &money.Money{Amount: *in.CompareAtPrice, Currency: in.Currency}
		}
		var vals [3]string
		copy(vals[:], in.Options)
		for k, val := range vals {
			if names[k] != "" || val != "" {
				v.Options = append(v.Options, OptionValue{Name: names[k], Value: val})
			}
		}
		if p.Price == nil || v.Price.Amount < p.Price.Amount {
			pr := v.Price
			p.Price = &pr
		}
		p.Variants = append(p.Variants, v)
	}
	for _, im := range in.Images {
		p.Images = append(p.Images, Image{Src: im.Src, Alt: im.Alt, position: int64(im.Position)})
	}
	slices.SortStableFunc(p.Images, func(a, b Image) int { return cmp.Compare(a.position, b.position) })
	slices.SortFunc(p.Attributes, func(a, b Attribute) int {
		return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.Value, b.Value))
	})
	if cat != nil {
		p.Categories = append(p.Categories, *cat)
	}
	return p
}

// attrsAsGiven reports whether the database compares each attribute value
// exactly as the writer's case-folding dedup does, so that the attributes
// stored are the ones the writer kept: printable ASCII without a trailing
// space (the collation folds accents and ignores trailing spaces, which the
// writer does not).
func attrsAsGiven(attrs []Attribute) bool {
	for _, a := range attrs {
		for i := 0; i < len(a.Value); i++ {
			if c := a.Value[i]; c < 0x20 || c > 0x7e {
				return false
			}
		}
		if strings.HasSuffix(a.Value, " ") {
			return false
		}
	}
	return true
}
