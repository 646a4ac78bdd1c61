package handlers_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/shelfcommerce/shelf/handlers"
	"github.com/shelfcommerce/shelf/internal/auth"
)

// On the instance that made a write, every read after the write's answer
// shows it, however long the cache TTLs: product pages, listings, facets
// and search pages.
func TestReadYourWritesOnTheWriter(t *testing.T) {
	t.Parallel()
	e, d, logs := newServer(t, func(c *handlers.Config) {
		c.Storefront.DetailTTL, c.Storefront.FacetTTL = time.Hour, time.Hour
	})
	key := adminKey(t, d, "editor", auth.ScopeCatalogWrite, auth.ScopeInventoryWrite)
	if rec := send(t, e, key, "POST", "/v1/admin/products", teeJSON); rec.Code != 201 {
		t.Fatalf("create: %d %s", rec.Code, rec.Body)
	}
	// Other products, so that full-text relevance has a corpus to work with.
	for _, slug := range []string{"mug", "cap", "bag"} {
		body := `{"slug":"` + slug + `","title":"A ` + slug + `","brand":"Other","variants":[{"sku":"` + slug + `-1","price":"5.00","on_hand":1}]}`
		if rec := send(t, e, key, "POST", "/v1/admin/products", body); rec.Code != 201 {
			t.Fatalf("create %s: %d %s", slug, rec.Code, rec.Body)
		}
	}
	page := func() (title string, avail []int64) {
		t.Helper()
		var p struct {
			Title    string
			Variants []struct{ Available int64 }
		}
		if rec := getJSON(t, e, "/v1/products/tee", &p); rec.Code != 200 {
			t.Fatalf("page: %d %s", rec.Code, rec.Body)
		}
		for _, v := range p.Variants {
			avail = append(avail, v.Available)
		}
		return p.Title, avail
	}
	type facetCount struct {
		Value string
		Count int
	}
	listing := func(query string) (titles []string, brands []facetCount) {
		t.Helper()
		var l struct {
			Items  []struct{ Title string }
			Facets map[string]json.RawMessage
		}
		if rec := getJSON(t, e, "/v1/products?facets=brand&"+query, &l); rec.Code != 200 {
			t.Fatalf("listing %s: %d %s\n%s", query, rec.Code, rec.Body, logs)
		}
		for _, it := range l.Items {
			titles = append(titles, it.Title)
		}
		_ = json.Unmarshal(l.Facets["brand"], &brands)
		return titles, brands
	}
	// Fill every cache.
	if _, avail := page(); len(avail) != 2 || avail[0] != 4 {
		t.Fatalf("page before: %v", avail)
	}
	if titles, brands := listing("in_stock=true&brand=Acme"); len(titles) != 1 || len(brands) != 1 || brands[0].Count != 1 {
		t.Fatalf("in-stock listing before: %v %v", titles, brands)
	}
	if titles, _ := listing("q=tee"); len(titles) != 1 || titles[0] != "Tee" {
		t.Fatalf("search before: %v", titles)
	}

	// Stock: the page and the in-stock listing and its facets follow.
	if rec := send(t, e, key, "PUT", "/v1/admin/inventory/TEE-S", `{"on_hand":0}`); rec.Code != 200 {
		t.Fatalf("set stock: %d %s", rec.Code, rec.Body)
	}
	if _, avail := page(); avail[0] != 0 {
		t.Fatalf("page after stock 0: %v", avail)
	}
	if titles, brands := listing("in_stock=true&brand=Acme"); len(titles) != 0 || len(brands) != 0 {
		t.Fatalf("in-stock listing after selling out: %v %v", titles, brands)
	}

	// A product write: page, search page and facets follow.
	renamed := strings.Replace(strings.Replace(teeJSON, `"title":"Tee"`, `"title":"Tee Deluxe"`, 1), `"brand":"Acme"`, `"brand":"Zenith"`, 1)
	if rec := send(t, e, key, "PUT", "/v1/admin/products/tee", renamed); rec.Code != 200 {
		t.Fatalf("put: %d %s", rec.Code, rec.Body)
	}
	if title, _ := page(); title != "Tee Deluxe" {
		t.Fatalf("page after rename: %q", title)
	}
	if titles, brands := listing("q=tee"); len(titles) != 1 || titles[0] != "Tee Deluxe" || len(brands) != 1 || brands[0].Value != "Zenith" {
		t.Fatalf("search after rename: %v %v", titles, brands)
	}

	// Archive: gone from the page and the listing.
	var id struct{ ID uint64 }
	getJSON(t, e, "/v1/products/tee", &id)
	if rec := send(t, e, key, "DELETE", "/v1/admin/products/"+itoa(id.ID), ""); rec.Code != 204 {
		t.Fatalf("archive: %d %s", rec.Code, rec.Body)
	}
	if rec := getJSON(t, e, "/v1/products/tee", &id); rec.Code != 404 {
		t.Fatalf("page after archive: %d", rec.Code)
	}
	if titles, _ := listing("q=tee"); len(titles) != 0 {
		t.Fatalf("search after archive: %v", titles)
	}
}

// A category created on this instance can be filtered on at once, even
// by a storefront that asked for its slug just before it existed.
func TestANewCategoryCanBeFilteredOnAtOnce(t *testing.T) {
	t.Parallel()
	e, d, _ := newServer(t)
	key := adminKey(t, d, "editor", auth.ScopeCatalogWrite)
	if rec := getJSON(t, e, "/v1/products?category=garden", nil); rec.Code != 400 {
		t.Fatalf("an unknown category: %d %s", rec.Code, rec.Body)
	}
	if rec := send(t, e, key, "POST", "/v1/admin/categories", `{"name":"Garden","slug":"garden"}`); rec.Code != 201 ||
		!strings.Contains(rec.Body.String(), `"slug":"garden"`) {
		t.Fatalf("create: %d %s", rec.Code, rec.Body)
	}
	if rec := getJSON(t, e, "/v1/products?category=garden", nil); rec.Code != 200 {
		t.Fatalf("the new category right after it was created: %d %s", rec.Code, rec.Body)
	}
	// So can one that a product write created on the way.
	if rec := getJSON(t, e, "/v1/products?category=kitchen", nil); rec.Code != 400 {
		t.Fatalf("an unknown category: %d %s", rec.Code, rec.Body)
	}
	mug := `{"slug":"mug","title":"Mug","category":"Kitchen","variants":[{"sku":"MUG-1","price":"9.00"}]}`
	if rec := send(t, e, key, "POST", "/v1/admin/products", mug); rec.Code != 201 {
		t.Fatalf("create product: %d %s", rec.Code, rec.Body)
	}
	var l struct{ Items []struct{ Slug string } }
	if rec := getJSON(t, e, "/v1/products?category=kitchen", &l); rec.Code != 200 || len(l.Items) != 1 || l.Items[0].Slug != "mug" {
		t.Fatalf("the category the product created: %d %s", rec.Code, rec.Body)
	}
}
