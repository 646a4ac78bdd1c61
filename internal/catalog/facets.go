package catalog

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/sync/errgroup"

	"github.com/shelfcommerce/shelf/db"
	"github.com/shelfcommerce/shelf/internal/money"
	"github.com/shelfcommerce/shelf/internal/store"
)

// Facet shapes (documented in openapi.yaml):
//
//	"category": [{"id", "slug", "name", "count"}]  the children of the filtered
//	            category (top-level categories without one) that hold matches;
//	            count includes their descendants
//	"brand":    [{"value", "count"}]                the 50 largest, by count
//	"price":    {"min", "max", "buckets": [{"min", "max", "count"}]}  min/max
//	            of the matches' lowest prices; buckets of fixed edges, the last
//	            with "max": null
//	"attr.X":   [{"value", "count"}]                the 50 largest
//
// Counts are over the whole filtered set, with every filter applied
// (including the facet's own), whatever the page or cursor.

// ValueCount is one bucket of a brand or attribute facet.
type ValueCount struct {
	Value string `json:"value"`
	Count int64  `json:"count"`
}

// CategoryCount is one bucket of the category facet.
type CategoryCount struct {
	ID    uint64 `json:"id"`
	Slug  string `json:"slug"`
	Name  string `json:"name"`
	Count int64  `json:"count"`
}

// PriceBucket is one range of the price facet; Max is exclusive, nil for
// the last bucket.
type PriceBucket struct {
	Min   money.Money  `json:"min"`
	Max   *money.Money `json:"max"`
	Count int64        `json:"count"`
}

// PriceFacet is the price facet.
type PriceFacet struct {
	Min     *money.Money  `json:"min"`
	Max     *money.Money  `json:"max"`
	Buckets []PriceBucket `json:"buckets"`
}

// priceEdges are the bucket boundaries in major units.
var priceEdges = []int64{0, 10, 25, 50, 100, 250, 500, 1000}

const facetValues = 50

func pow10(n int) int64 {
	p := int64(1)
	for range n {
		p *= 10
	}
	return p
}

// facetCounts computes (or reuses, for FacetTTL) the facets q asks for.
func (s *Storefront) facetCounts(ctx context.Context, q *ListQuery, catID uint64) (map[string]any, error) {
	key := string(q.fingerprint()) + "\x00" + strings.Join(q.Facets, ",")
	return s.facets.getOrLoad(ctx, key, s.now(), func(ctx context.Context) (map[string]any, error) {
		return s.computeFacets(ctx, s.reader(s.recent.listing(s.now())), q, catID)
	})
}

// computeFacets runs the facet queries side by side (each takes and returns
// its own connection, never two at once): a cold facet set costs its slowest
// facet, not their sum.
func (s *Storefront) computeFacets(ctx context.Context, st *store.Store, q *ListQuery, catID uint64) (map[string]any, error) {
	results := make([]any, len(q.Facets))
	g, gctx := errgroup.WithContext(ctx)
	for i, f := range q.Facets {
		g.Go(func() error {
			var err error
			switch {
			case strings.HasPrefix(f, "attr.") && !q.filtered():
				results[i], err = attributeCounts(gctx, st, catID, f[len("attr."):])
			case f == "brand" && !q.filtered():
				results[i], err = brandCounts(gctx, st, catID)
			case f == "price" && !q.filtered():
				results[i], err = priceBandFacet(gctx, st, q, catID)
			case f == "brand" || strings.HasPrefix(f, "attr."):
				query, args := facetSQL(q, catID, f, nil, s.cfg.SearchMaxMatches)
				results[i], err = valueCounts(gctx, st, query, args)
			case f == "price":
				query, args := facetSQL(q, catID, f, nil, s.cfg.SearchMaxMatches)
				results[i], err = priceFacet(gctx, st, q, query, args)
			case f == "category":
				results[i], err = s.categoryFacet(gctx, st, q, catID)
			}
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	out := make(map[string]any, len(q.Facets))
	for i, f := range q.Facets {
		out[f] = results[i]
	}
	return out, nil
}

func valueCounts(ctx context.Context, st *store.Store, query string, args []any) ([]ValueCount, error) {
	rows, err := st.DB.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("facet: %w", err)
	}
	defer rows.Close()
	out := []ValueCount{}
	for rows.Next() {
		var v ValueCount
		if err := rows.Scan(&v.Value, &v.Count); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// attributeCounts is an attribute facet of a whole category (no filter),
// from listing_attribute_counts: the same counts the facet's query would
// make, without touching the category's products.
func attributeCounts(ctx context.Context, st *store.Store, catID uint64, name string) ([]ValueCount, error) {
	rows, err := st.Q.AttributeFacet(ctx, db.AttributeFacetParams{CategoryID: catID, Name: name})
	if err != nil {
		return nil, fmt.Errorf("facet: %w", err)
	}
	out := make([]ValueCount, 0, len(rows))
	for _, r := range rows {
		out = append(out, ValueCount{Value: r.Value, Count: r.Products})
	}
	return out, nil
}

// brandCounts is the brand facet of a whole category (no filter), from
// listing_facet_counts.
func brandCounts(ctx context.Context, st *store.Store, catID uint64) ([]ValueCount, error) {
	rows, err := st.Q.BrandFacet(ctx, catID)
	if err != nil {
		return nil, fmt.Errorf("brand facet: %w", err)
	}
	out := make([]ValueCount, 0, len(rows))
	for _, r := range rows {
		out = append(out, ValueCount{Value: r.Value, Count: r.Products})
	}
	return out, nil
}

// priceBandFacet is the price facet of a whole category (no filter): its
// two ends from product_listing_price, each bucket the sum of the counted
// price bands inside it (every bucket edge is a band floor).
func priceBandFacet(ctx context.Context, st *store.Store, q *ListQuery, catID uint64) (*PriceFacet, error) {
	ends, err := st.Q.ListingPriceRange(ctx, catID)
	if err != nil {
		return nil, fmt.Errorf("price facet: %w", err)
	}
	bands, err := st.Q.PriceBandCounts(ctx, catID)
	if err != nil {
		return nil, fmt.Errorf("price facet: %w", err)
	}
	unit := pow10(currencyExponent(q.Currency))
	vals := make([]int64, 2+len(priceEdges))
	vals[0], vals[1] = ends.Lowest, ends.Highest
	for _, b := range bands {
		floor, err := strconv.ParseInt(b.Value, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("price facet: band %q: %w", b.Value, err)
		}
		i := len(priceEdges) - 1
		for i > 0 && floor < priceEdges[i]*unit {
			i--
		}
		vals[2+i] += b.Products
	}
	return pricesOf(q, vals), nil
}

func priceFacet(ctx context.Context, st *store.Store, q *ListQuery, query string, args []any) (*PriceFacet, error) {
	vals := make([]int64, 2+len(priceEdges))
	ptrs := make([]any, len(vals))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	if err := st.DB.QueryRowContext(ctx, query, args...).Scan(ptrs...); err != nil {
		return nil, fmt.Errorf("price facet: %w", err)
	}
	return pricesOf(q, vals), nil
}

// currencyExponent is the exponent the price facet's buckets are scaled by:
// the storefront currency's.
func currencyExponent(currency string) int {
	exp, _ := money.Exponent(currency)
	return exp
}

// pricesOf shapes the price facet from the lowest and highest lowest price
// (-1 for none) and the count of each bucket of priceEdges, in that order.
func pricesOf(q *ListQuery, vals []int64) *PriceFacet {
	exp := currencyExponent(q.Currency)
	unit := pow10(exp)
	pf := &PriceFacet{Buckets: []PriceBucket{}}
	if vals[0] >= 0 {
		pf.Min = &money.Money{Amount: vals[0], Currency: q.Currency}
		pf.Max = &money.Money{Amount: vals[1], Currency: q.Currency}
	}
	for i, e := range priceEdges {
		b := PriceBucket{Min: money.Money{Amount: e * unit, Currency: q.Currency}, Count: vals[2+i]}
		if i+1 < len(priceEdges) {
			b.Max = &money.Money{Amount: priceEdges[i+1] * unit, Currency: q.Currency}
		}
		pf.Buckets = append(pf.Buckets, b)
	}
	return pf
}

func (s *Storefront) categoryFacet(ctx context.Context, st *store.Store, q *ListQuery, catID uint64) ([]CategoryCount, error) {
	var kids []CategoryCount
	if catID == RootCategory {
		cs, err := st.Q.TopCategories(ctx)
		if err != nil {
			return nil, err
		}
		for _, c := range cs {
			kids = append(kids, CategoryCount{ID: c.ID, Slug: c.Slug, Name: c.Name, Count: c.ProductCount})
		}
	} else {
		cs, err := st.Q.CategoryChildren(ctx, nullID(catID))
		if err != nil {
			return nil, err
		}
		for _, c := range cs {
			kids = append(kids, CategoryCount{ID: c.ID, Slug: c.Slug, Name: c.Name, Count: c.ProductCount})
		}
	}
	out := []CategoryCount{}
	if len(kids) == 0 {
		return out, nil
	}
	if !q.filtered() {
		// With no filter, a child's count is its product_count: SyncListing
		// keeps it equal to the child's listing rows, which are what the
		// query below would count.
		for _, k := range kids {
			if k.Count > 0 {
				out = append(out, k)
			}
		}
		return out, nil
	}
	ids := make([]uint64, len(kids))
	for i, k := range kids {
		ids[i] = k.ID
	}
	query, args := facetSQL(q, catID, "category", ids, s.cfg.SearchMaxMatches)
	rows, err := st.DB.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("category facet: %w", err)
	}
	defer rows.Close()
	counts := map[uint64]int64{}
	for rows.Next() {
		var id uint64
		var n int64
		if err := rows.Scan(&id, &n); err != nil {
			return nil, err
		}
		counts[id] = n
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for _, k := range kids {
		if n := counts[k.ID]; n > 0 {
			k.Count = n
			out = append(out, k)
		}
	}
	return out, nil
}

// filtered reports whether q narrows its category's listing at all.
func (q *ListQuery) filtered() bool {
	return q.HasMin || q.HasMax || len(q.Brands) > 0 || q.InStock || len(q.Attrs) > 0 || len(q.Terms) > 0
}
