package catalog

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/shelfcommerce/shelf/internal/store"
)

// listing_attribute_counts holds, per category a product is listed under
// and per attribute value, how many listed products carry it: the attribute
// facets of an unfiltered listing. It changes only where product_listing or
// the attributes of a listed product change, so SyncListing keeps it, from
// two snapshots of each product it syncs: the categories it was listed under
// (its listing rows before the sync) with the attributes its page showed
// (product_pages, rewritten after this), and the categories it is listed
// under now with the attributes it has now.

// countKey is one row of listing_attribute_counts (name: the attribute's)
// or of listing_facet_counts (name: the facet's): a category, a name and a
// value, whose count of listed products writeCounts adjusts.
type countKey struct {
	category    uint64
	name, value string
}

// listedIn is, per product, the categories it is listed under (RootCategory
// included), before and after a sync, and the attributes of the products
// whose attributes the caller knows (ones it has just written), which are
// then not read.
type listedIn struct {
	before, after map[uint64][]uint64
	attrs         map[uint64][]Attribute
}

func newListedIn() *listedIn {
	return &listedIn{before: map[uint64][]uint64{}, after: map[uint64][]uint64{}, attrs: map[uint64][]Attribute{}}
}

// attributeCountChanges is the difference the sync makes to
// listing_attribute_counts: -1 for every (category, attribute) a product was
// counted under, +1 for every one it is counted under now. It must run
// before SyncPages rewrites the pages it reads the old attributes from;
// writeCounts applies it.
func attributeCountChanges(ctx context.Context, tx *store.Tx, l *listedIn) (map[countKey]int64, error) {
	delta := map[countKey]int64{}
	err := inChunks(mapKeys(l.before), func(ids []uint64) error {
		pages, err := tx.Q.ListingPageAttributes(ctx, ids)
		if err != nil {
			return fmt.Errorf("read counted attributes: %w", err)
		}
		for _, p := range pages {
			var shown struct {
				Attributes []Attribute `json:"attributes"`
			}
			if err := json.Unmarshal(p.Body, &shown); err != nil {
				return fmt.Errorf("product page %d: %w", p.ProductID, err)
			}
			for _, c := range l.before[p.ProductID] {
				for _, a := range shown.Attributes {
					delta[countKey{c, a.Name, a.Value}]--
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	var unknown []uint64
	for _, id := range mapKeys(l.after) {
		attrs, known := l.attrs[id]
		if !known {
			unknown = append(unknown, id)
			continue
		}
		for _, a := range attrs {
			for _, c := range l.after[id] {
				delta[countKey{c, a.Name, a.Value}]++
			}
		}
	}
	err = inChunks(unknown, func(ids []uint64) error {
		attrs, err := tx.Q.ListingAttributes(ctx, ids)
		if err != nil {
			return fmt.Errorf("read attributes: %w", err)
		}
		for _, a := range attrs {
			for _, c := range l.after[a.ProductID] {
				delta[countKey{c, a.Name, a.Value}]++
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return delta, nil
}

// writeCounts adds delta to the counts of table (listing_attribute_counts,
// whose name column is "name", or listing_facet_counts, "facet"), in key
// order, as every writer of the counts does, so that two syncs lock shared
// rows in one order.
func writeCounts(ctx context.Context, tx *store.Tx, table, nameCol string, delta map[countKey]int64) error {
	keys := make([]countKey, 0, len(delta))
	for k, d := range delta {
		if d != 0 {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return nil
	}
	slices.SortFunc(keys, func(a, b countKey) int {
		return cmp.Or(cmp.Compare(a.category, b.category), cmp.Compare(a.name, b.name), cmp.Compare(a.value, b.value))
	})
	args := make([]any, 0, len(keys)*4)
	for _, k := range keys {
		args = append(args, k.category, k.name, k.value, delta[k])
	}
	if _, err := store.InsertRows(ctx, tx, "INSERT INTO "+table+" (category_id, "+nameCol+", value, products)", 4, args,
		"ON DUPLICATE KEY UPDATE products = products + VALUES(products)"); err != nil {
		return fmt.Errorf("adjust %s: %w", table, err)
	}
	return nil
}

// inChunks calls fn with ids pagesPerStatement at a time.
func inChunks(ids []uint64, fn func([]uint64) error) error {
	for len(ids) > 0 {
		n := min(len(ids), pagesPerStatement)
		if err := fn(ids[:n]); err != nil {
			return err
		}
		ids = ids[n:]
	}
	return nil
}

func mapKeys(m map[uint64][]uint64) []uint64 {
	out := make([]uint64, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
