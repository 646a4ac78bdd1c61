package handlers_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/shelfcommerce/shelf/handlers"
	"github.com/shelfcommerce/shelf/internal/auth"
	"github.com/shelfcommerce/shelf/internal/catalog"
	"github.com/shelfcommerce/shelf/internal/dbtest"
	"github.com/shelfcommerce/shelf/internal/events"
	"github.com/shelfcommerce/shelf/internal/store"
)

// Category writes and the storefront's caches: with hour-long TTLs, every
// read after a category write shows it, on the writing instance at once
// and on another within the event tail.

func cachedServer(t *testing.T) (*server, string, func(string) uint64) {
	e, d, _ := newServer(t, func(c *handlers.Config) {
		c.Storefront = catalog.StorefrontConfig{DetailTTL: time.Hour, FacetTTL: time.Hour}
	})
	key := adminKey(t, d, "editor", auth.ScopeCatalogWrite, auth.ScopeInventoryWrite)
	catID := func(slug string) uint64 {
		return uint64(count(t, d, "SELECT id FROM categories WHERE slug = ?", slug))
	}
	return e, key, catID
}

func get(t *testing.T, e http.Handler, path string) (int, string) {
	t.Helper()
	rec := send(t, e, "", "GET", path, "")
	return rec.Code, rec.Body.String()
}

func TestCategoryRenameReachesEveryCachedRead(t *testing.T) {
	t.Parallel()
	e, key, catID := cachedServer(t)
	prod := `{"title":"Linen Tee","category":"Apparel > Shirts","variants":[{"sku":"T1","price":"5","on_hand":3}]}`
	if rec := send(t, e, key, "PUT", "/v1/admin/products/tee", prod); rec.Code != http.StatusCreated {
		t.Fatalf("product: %d %s", rec.Code, rec.Body)
	}
	paths := []string{"/v1/products/tee", "/v1/products?category=shirts", "/v1/products?category=apparel&facets=category",
		"/v1/products?q=linen&category=shirts", "/v1/products?facets=category"}
	for _, p := range paths {
		if c, b := get(t, e, p); c != 200 {
			t.Fatalf("%s: %d %s", p, c, b)
		}
	}
	shirts := catID("shirts")
	rec := send(t, e, key, "PATCH", "/v1/admin/categories/"+itoa(shirts), `{"name":"Tops","slug":"tops"}`)
	if rec.Code != 200 {
		t.Fatalf("rename: %d %s", rec.Code, rec.Body)
	}
	for _, p := range paths {
		c, b := get(t, e, p)
		if strings.Contains(p, "category=shirts") {
			if c != 400 {
				t.Errorf("%s after rename: %d %s (want 400)", p, c, b)
			}
			continue
		}
		if strings.Contains(b, "Shirts") || strings.Contains(b, `"shirts"`) {
			t.Errorf("%s after rename still shows Shirts: %s", p, b)
		}
	}
}

func TestCategoryReorderReachesTheCachedFacet(t *testing.T) {
	t.Parallel()
	e, key, catID := cachedServer(t)
	for _, p := range []string{`{"title":"A","category":"Alpha","variants":[{"sku":"A1","price":"5"}]}`,
		`{"title":"B","category":"Beta","variants":[{"sku":"B1","price":"5"}]}`} {
		var m map[string]any
		_ = json.Unmarshal([]byte(p), &m)
		if rec := send(t, e, key, "PUT", "/v1/admin/products/"+strings.ToLower(m["title"].(string)), p); rec.Code != http.StatusCreated {
			t.Fatalf("product: %d %s", rec.Code, rec.Body)
		}
	}
	order := func() string {
		_, b := get(t, e, "/v1/products?facets=category")
		var page struct {
			Facets struct{ Category []struct{ Slug string } }
		}
		_ = json.Unmarshal([]byte(b), &page)
		var s []string
		for _, c := range page.Facets.Category {
			s = append(s, c.Slug)
		}
		return strings.Join(s, ",")
	}
	_, tree0 := get(t, e, "/v1/categories")
	if got := order(); got != "alpha,beta" {
		t.Fatalf("facet order before: %q (tree %s)", got, tree0)
	}
	if rec := send(t, e, key, "PATCH", "/v1/admin/categories/"+itoa(catID("alpha")), `{"position":5}`); rec.Code != 200 {
		t.Fatalf("reorder: %d %s", rec.Code, rec.Body)
	}
	_, tree := get(t, e, "/v1/categories")
	if got := order(); got != "beta,alpha" {
		t.Errorf("facet order after moving alpha to position 5: %q, want beta,alpha (tree says %s)", got, tree)
	}
}

func TestCategoryMoveAndDeleteReachEveryCachedRead(t *testing.T) {
	t.Parallel()
	e, key, catID := cachedServer(t)
	prod := `{"title":"Linen Tee","category":"Apparel > Shirts","variants":[{"sku":"T1","price":"5","on_hand":3}]}`
	if rec := send(t, e, key, "PUT", "/v1/admin/products/tee", prod); rec.Code != http.StatusCreated {
		t.Fatalf("product: %d %s", rec.Code, rec.Body)
	}
	paths := []string{"/v1/products/tee", "/v1/products?category=apparel", "/v1/products?category=apparel&facets=category,brand,price",
		"/v1/products?q=linen&category=apparel", "/v1/products?facets=category", "/v1/products?q=linen&facets=category"}
	before := map[string]string{}
	for _, p := range paths {
		c, b := get(t, e, p)
		if c != 200 {
			t.Fatalf("%s: %d %s", p, c, b)
		}
		before[p] = b
	}
	rec := send(t, e, key, "PATCH", "/v1/admin/categories/"+itoa(catID("shirts")), `{"parent_id":null}`)
	if rec.Code != 200 {
		t.Fatalf("move: %d %s", rec.Code, rec.Body)
	}
	for _, p := range paths {
		c, b := get(t, e, p)
		if c != 200 || b == before[p] {
			t.Errorf("%s unchanged after move: %d %s", p, c, b)
		}
		if strings.Contains(p, "category=apparel") && strings.Contains(b, `"slug":"tee"`) {
			t.Errorf("%s after moving shirts out of apparel still lists tee: %s", p, b)
		}
	}
	rec = send(t, e, key, "DELETE", "/v1/admin/categories/"+itoa(catID("shirts")), "")
	if rec.Code != 204 {
		t.Fatalf("delete: %d %s", rec.Code, rec.Body)
	}
	for _, p := range []string{"/v1/products/tee", "/v1/products?facets=category", "/v1/products?q=linen&facets=category"} {
		if _, b := get(t, e, p); strings.Contains(b, "Shirts") {
			t.Errorf("%s after deleting shirts: %s", p, b)
		}
	}
	if c, b := get(t, e, "/v1/products?category=shirts"); c != 400 {
		t.Errorf("category=shirts after delete: %d %s", c, b)
	}
}

func TestCategoryWritesAreReadFromThePrimaryAfterwards(t *testing.T) {
	t.Parallel()
	lagging := dbtest.New(t)
	e, d, _ := newServer(t, func(c *handlers.Config) {
		c.ReadStore = lagging.Store // a read node that has not applied the writes yet
		c.Storefront = catalog.StorefrontConfig{ReadLag: time.Hour}
	})
	key := adminKey(t, d, "editor", auth.ScopeCatalogWrite)
	rec := send(t, e, key, "POST", "/v1/admin/categories", `{"name":"Sale"}`)
	if rec.Code != 201 {
		t.Fatalf("create: %d %s", rec.Code, rec.Body)
	}
	loc := rec.Header().Get("Location")
	if c, b := get(t, e, loc); c != 200 {
		t.Errorf("GET %s (the create's Location) on the writing instance: %d %s", loc, c, b)
	}
	if c, b := get(t, e, "/v1/categories"); !strings.Contains(b, `"sale"`) {
		t.Errorf("GET /v1/categories on the writing instance after the create: %d %s", c, b)
	}
	if c, b := get(t, e, "/v1/products?category=sale"); c != 200 {
		t.Errorf("GET /v1/products?category=sale on the writing instance after the create: %d %s", c, b)
	}
}

func TestACachedSearchDoesNotOutliveItsCategory(t *testing.T) {
	t.Parallel()
	e, key, catID := cachedServer(t)
	if rec := send(t, e, key, "POST", "/v1/admin/categories", `{"name":"Sale"}`); rec.Code != 201 {
		t.Fatalf("create: %d %s", rec.Code, rec.Body)
	}
	for _, p := range []string{"/v1/products?q=linen&category=sale", "/v1/products?category=sale&facets=brand"} {
		if c, b := get(t, e, p); c != 200 {
			t.Fatalf("%s: %d %s", p, c, b)
		}
	}
	if rec := send(t, e, key, "DELETE", "/v1/admin/categories/"+itoa(catID("sale")), ""); rec.Code != 204 {
		t.Fatalf("delete: %d %s", rec.Code, rec.Body)
	}
	for _, p := range []string{"/v1/products?category=sale", "/v1/products?q=linen&category=sale", "/v1/products?category=sale&facets=brand"} {
		if c, b := get(t, e, p); c != 400 {
			t.Errorf("%s after the category was deleted: %d %s (want 400)", p, c, b)
		}
	}
}

// TestAnotherInstanceFollowsCategoryWrites: instance B (own pool, own hub tailing the feed)
// follows instance A's writes.
func TestAnotherInstanceFollowsCategoryWrites(t *testing.T) {
	t.Parallel()
	cfgTTL := catalog.StorefrontConfig{DetailTTL: time.Hour, FacetTTL: time.Hour}
	a, d, _ := newServer(t, func(c *handlers.Config) { c.Storefront = cfgTTL })
	ctx, cancel := context.WithCancel(context.Background())
	stB, err := store.Open(ctx, d.DSN, store.DefaultPool)
	if err != nil {
		t.Fatal(err)
	}
	hub := events.NewHub(stB, events.HubConfig{Poll: 10 * time.Millisecond})
	done := make(chan struct{})
	go func() { hub.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done; stB.Close() })
	b := contractServer(t, handlers.New(handlers.Config{Store: stB, Events: hub, Storefront: cfgTTL}))

	key := adminKey(t, d, "editor", auth.ScopeCatalogWrite, auth.ScopeInventoryWrite)
	catID := func(slug string) uint64 { return uint64(count(t, d, "SELECT id FROM categories WHERE slug = ?", slug)) }
	for _, p := range []struct{ slug, body string }{
		{"a", `{"title":"A","category":"Alpha","variants":[{"sku":"A1","price":"5","on_hand":1}]}`},
		{"b", `{"title":"B","category":"Beta","variants":[{"sku":"B1","price":"5","on_hand":1}]}`}} {
		if rec := send(t, a, key, "PUT", "/v1/admin/products/"+p.slug, p.body); rec.Code != http.StatusCreated {
			t.Fatalf("product: %d %s", rec.Code, rec.Body)
		}
	}
	time.Sleep(300 * time.Millisecond) // B's hub has tailed the creates
	eventually := func(what, path string, ok func(string) bool) {
		t.Helper()
		var body string
		for start := time.Now(); time.Since(start) < 3*time.Second; time.Sleep(50 * time.Millisecond) {
			if _, body = get(t, b, path); ok(body) {
				return
			}
		}
		t.Errorf("%s: instance B still answers %s with %s", what, path, body)
	}
	for _, p := range []string{"/v1/products/a", "/v1/products?facets=category", "/v1/products?q=a&facets=category"} {
		get(t, b, p)
	}
	// Rename a category with a product: product page and facets on B follow.
	if rec := send(t, a, key, "PATCH", "/v1/admin/categories/"+itoa(catID("alpha")), `{"name":"Alfa"}`); rec.Code != 200 {
		t.Fatalf("rename: %d %s", rec.Code, rec.Body)
	}
	eventually("rename, product page", "/v1/products/a", func(s string) bool { return strings.Contains(s, "Alfa") })
	eventually("rename, facets", "/v1/products?facets=category", func(s string) bool { return strings.Contains(s, "Alfa") })
	// Stock out on A: B's listing in_stock follows.
	get(t, b, "/v1/products?in_stock=true&facets=brand")
	if rec := send(t, a, key, "PUT", "/v1/admin/inventory/A1", `{"on_hand":0}`); rec.Code != 200 {
		t.Fatalf("stock: %d %s", rec.Code, rec.Body)
	}
	eventually("sold out, in_stock facets", "/v1/products?in_stock=true&facets=brand", func(s string) bool { return !strings.Contains(s, `"A","count"`) && strings.Contains(s, `"count":1`) })
	// Reorder the categories on A: B's cached facet order follows?
	time.Sleep(200 * time.Millisecond)
	if _, s := get(t, b, "/v1/products?facets=category"); strings.Index(s, `"beta"`) < strings.Index(s, `"alpha"`) {
		t.Fatalf("order before: %s", s)
	}
	if rec := send(t, a, key, "PATCH", "/v1/admin/categories/"+itoa(catID("alpha")), `{"position":5}`); rec.Code != 200 {
		t.Fatalf("reorder: %d %s", rec.Code, rec.Body)
	}
	eventually("reorder, facets", "/v1/products?facets=category", func(s string) bool {
		return strings.Index(s, `"beta"`) < strings.Index(s, `"alpha"`)
	})
}
