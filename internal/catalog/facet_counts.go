package catalog

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/shelfcommerce/shelf/internal/store"
)

// listing_facet_counts holds, per category a product is listed under, how
// many listed products have each brand (facet "brand") and a lowest price
// in each price band (facet "price", the band's floor in minor units): the
// brand and price facets of a listing with no filter, read from a few rows
// instead of every listing row of the category. It changes only where
// product_listing does, so writeListing keeps it in the same statement
// sequence: -1 for every listing row it replaces or deletes, +1 for every
// row it writes.

// Facet names in listing_facet_counts.
const (
	facetBrand = "brand"
	facetPrice = "price"
)

// priceBands are the floors, in minor units, of the price bands counted:
// every edge of the price facet's buckets (priceEdges, in major units) in
// every currency exponent the money package knows (0, 2 and 3), so that
// each bucket of any currency is a run of whole bands. Migration 00171
// backfills with the same floors (TestPriceBandsMatchBackfill).
var priceBands = func() []int64 {
	var out []int64
	for _, exp := range []int{0, 2, 3} {
		for _, e := range priceEdges {
			out = append(out, e*pow10(exp))
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}()

// priceBand is the floor of the band amount falls in.
func priceBand(amount int64) int64 {
	i := sort.Search(len(priceBands), func(i int) bool { return priceBands[i] > amount })
	return priceBands[max(i-1, 0)]
}

// facetDelta is what a sync changes in listing_facet_counts (name: the
// facet).
type facetDelta map[countKey]int64

// count adds n for the brand and the price band of listing row r.
func (d facetDelta) count(r listingRow, n int64) {
	d[countKey{r.CategoryID, facetBrand, r.Brand}] += n
	d[countKey{r.CategoryID, facetPrice, strconv.FormatInt(priceBand(r.PriceMin), 10)}] += n
}

// write applies d.
func (d facetDelta) write(ctx context.Context, tx *store.Tx) error {
	return writeCounts(ctx, tx, "listing_facet_counts", "facet", d)
}

// RecountFacets fills listing_facet_counts from the listing as it stands, for
// a bulk load that wrote product_listing without SyncListing (the table is
// empty before its first product); migration 00171 is the same count.
func RecountFacets(ctx context.Context, ex store.Execer) error {
	if _, err := ex.ExecContext(ctx, `INSERT INTO listing_facet_counts (category_id, facet, value, products)
		SELECT category_id, ?, brand, COUNT(*) FROM product_listing GROUP BY category_id, brand
		ON DUPLICATE KEY UPDATE products = VALUES(products)`, facetBrand); err != nil {
		return fmt.Errorf("count brands: %w", err)
	}
	var band strings.Builder
	args := []any{facetPrice}
	band.WriteString("CASE")
	for i := len(priceBands) - 1; i > 0; i-- {
		band.WriteString(" WHEN price_min >= ? THEN ?")
		args = append(args, priceBands[i], strconv.FormatInt(priceBands[i], 10))
	}
	band.WriteString(" ELSE ? END")
	args = append(args, strconv.FormatInt(priceBands[0], 10))
	if _, err := ex.ExecContext(ctx, `INSERT INTO listing_facet_counts (category_id, facet, value, products)
		SELECT category_id, ?, band, COUNT(*) FROM (SELECT category_id, `+band.String()+` AS band FROM product_listing) b
		GROUP BY category_id, band
		ON DUPLICATE KEY UPDATE products = VALUES(products)`, args...); err != nil {
		return fmt.Errorf("count price bands: %w", err)
	}
	return nil
}
