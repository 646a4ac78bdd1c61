package catalog_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/shelfcommerce/shelf/internal/catalog"
	"github.com/shelfcommerce/shelf/internal/dbtest"
	"github.com/shelfcommerce/shelf/internal/events"
	"github.com/shelfcommerce/shelf/internal/orders/orderstest"
)

// TestStorefrontReadsWhatJustChangedFromThePrimary: with storefront reads on
// a read node that has not applied a write (here a second database that never
// does), the instance that made the write shows it at once, on the product
// page and in the listing, and does not cache what the read node still
// holds; what did not change is still read from the read node.
func TestStorefrontReadsWhatJustChangedFromThePrimary(t *testing.T) {
	primary, lagging := dbtest.New(t), dbtest.New(t)
	ctx := context.Background()
	for _, d := range []*dbtest.DB{primary, lagging} {
		if _, err := orderstest.Seed(ctx, d.Store, orderstest.Simple("lag", 2, 1000, 5)...); err != nil {
			t.Fatal(err)
		}
	}
	// Only the read node has this one: reads of lag-1 show where they went.
	three := int64(3)
	if _, err := catalog.SetStock(ctx, lagging.Store, catalog.StockChange{SKU: "lag-1", OnHand: &three, Reason: "recount"}); err != nil {
		t.Fatal(err)
	}
	sf := catalog.NewStorefront(lagging.Store, catalog.StorefrontConfig{Currency: "USD", Primary: primary.Store,
		ReadLag: time.Hour, DetailTTL: time.Hour, FacetTTL: time.Hour})
	events.FollowersOf(primary.Store).Add(sf.Forget) // as the server wires it

	available := func(slug string) int64 {
		t.Helper()
		r, err := sf.ProductPage(ctx, slug)
		if err != nil {
			t.Fatal(err)
		}
		var p catalog.Product
		if err := json.Unmarshal(r.Body, &p); err != nil || len(p.Variants) != 1 {
			t.Fatalf("page of %s: %v %s", slug, err, r.Body)
		}
		return p.Variants[0].Available
	}
	inStock := func() map[string]bool {
		t.Helper()
		page, err := sf.List(ctx, catalog.ListQuery{Sort: catalog.SortTitle, Limit: 10, Currency: "USD"})
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]bool{}
		for _, it := range page.Items {
			out[it.Slug] = it.InStock
		}
		return out
	}
	if got := available("lag-0"); got != 5 {
		t.Fatalf("lag-0 before any write: %d available, want 5", got)
	}
	if got := available("lag-1"); got != 3 {
		t.Fatalf("lag-1 shows %d available, want the read node's 3: storefront reads do not go to the read node", got)
	}

	for round, n := range []int64{9, 0, 4} {
		if _, err := catalog.SetStock(ctx, primary.Store, catalog.StockChange{SKU: "lag-0", OnHand: &n, Reason: "recount"}); err != nil {
			t.Fatal(err)
		}
		for range 2 { // the load, then what the cache kept
			if got := available("lag-0"); got != n {
				t.Errorf("round %d: stock set to %d on the primary, the page shows %d", round, n, got)
			}
			if got := inStock()["lag-0"]; got != (n > 0) {
				t.Errorf("round %d: stock set to %d on the primary, the listing says in_stock %v", round, n, got)
			}
		}
	}
	if got := available("lag-1"); got != 3 {
		t.Errorf("lag-1, never written, shows %d available, want the read node's 3", got)
	}
}
