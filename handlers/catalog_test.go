package handlers_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/shelfcommerce/shelf/handlers"
	"github.com/shelfcommerce/shelf/internal/auth"
	"github.com/shelfcommerce/shelf/internal/catalog"
	"github.com/shelfcommerce/shelf/internal/dbtest"
	"github.com/shelfcommerce/shelf/internal/seed"
)

// newCatalogServer is a router over a database holding the demo catalog.
func newCatalogServer(t *testing.T, mutate ...func(*handlers.Config)) (*server, *dbtest.DB) {
	t.Helper()
	e, d, _ := newServer(t, append([]func(*handlers.Config){func(c *handlers.Config) {
		c.Storefront = catalog.StorefrontConfig{CursorSecret: []byte("test secret"), Currency: "USD"}
	}}, mutate...)...)
	if _, err := seed.Demo(context.Background(), d.Store); err != nil {
		t.Fatal(err)
	}
	return e, d
}

func getJSON(t *testing.T, e http.Handler, path string, v any) *httptest.ResponseRecorder {
	t.Helper()
	rec := do(e, httptest.NewRequest("GET", path, nil))
	if rec.Code == 200 && v != nil {
		if err := json.Unmarshal(rec.Body.Bytes(), v); err != nil {
			t.Fatalf("GET %s: %v: %s", path, err, rec.Body)
		}
	}
	return rec
}

type listItem struct {
	ID      uint64 `json:"id"`
	Slug    string `json:"slug"`
	Title   string `json:"title"`
	Brand   string `json:"brand"`
	InStock bool   `json:"in_stock"`
	Price   struct {
		Amount   string `json:"amount"`
		Currency string `json:"currency"`
	} `json:"price"`
}

type listPage struct {
	Items      []listItem                 `json:"items"`
	NextCursor *string                    `json:"next_cursor"`
	Facets     map[string]json.RawMessage `json:"facets"`
}

func TestListProductsRejectsBadParameters(t *testing.T) {
	t.Parallel()
	e, _ := newCatalogServer(t)
	cases := []struct{ query, field string }{
		{"colour=red", "colour"},
		{"limit=0", "limit"},
		{"limit=101", "limit"},
		{"limit=-1", "limit"},
		{"limit=ten", "limit"},
		{"limit=1&limit=2", "limit"},
		{"min_price=abc", "min_price"},
		{"min_price=-1", "min_price"},
		{"min_price=1.001", "min_price"},
		{"max_price=1e3", "max_price"},
		{"min_price=20&max_price=10", "max_price"},
		{"sort=cheapest", "sort"},
		{"sort=relevance", "sort"},
		{"in_stock=yes", "in_stock"},
		{"category=Not%20A%20Slug", "category"},
		{"category=no-such-category", "category"},
		{"q=", "q"},
		{"q=a%20b", "q"},
		{"q=the%20for", "q"},
		{"brand=", "brand"},
		{"attr.c%C3%B6lor=red", "attr.cölor"},
		{"attr.color=", "attr.color"},
		{"attr.=red", "attr."},
		{"facets=colour", "facets"},
		{"facets=attr.", "facets"},
		{"cursor=garbage", "cursor"},
		{"cursor=", "cursor"},
		{"q=%ZZ", "query"},
	}
	for _, c := range cases {
		t.Run(c.query, func(t *testing.T) {
			rec := do(e, httptest.NewRequest("GET", "/v1/products?"+c.query, nil))
			if rec.Code != 400 {
				t.Fatalf("GET /v1/products?%s = %d, want 400: %s", c.query, rec.Code, rec.Body)
			}
			p := decodeProblem(t, rec)
			errs, _ := p["errors"].([]any)
			found := false
			for _, fe := range errs {
				if m, ok := fe.(map[string]any); ok && m["field"] == c.field {
					found = true
				}
			}
			if !found {
				t.Errorf("problem does not name %q: %s", c.field, rec.Body)
			}
			if d, _ := p["detail"].(string); !strings.Contains(d, c.field) {
				t.Errorf("detail %q does not name %q", d, c.field)
			}
		})
	}
	// Several bad parameters are all reported at once, and the detail names them.
	rec := do(e, httptest.NewRequest("GET", "/v1/products?limit=0&sort=x&bogus=1", nil))
	p := decodeProblem(t, rec)
	if len(p["errors"].([]any)) != 3 {
		t.Errorf("want 3 field errors: %s", rec.Body)
	}
	if d, _ := p["detail"].(string); !strings.Contains(d, "3 fields") || !strings.Contains(d, "bogus") {
		t.Errorf("detail %q", d)
	}
	// Categories take no parameters at all.
	if rec := do(e, httptest.NewRequest("GET", "/v1/categories?depth=1", nil)); rec.Code != 400 {
		t.Errorf("GET /v1/categories?depth=1 = %d, want 400", rec.Code)
	}
}

func TestListProductsPagesWholeCatalogWithoutDraftsOrRepeats(t *testing.T) {
	t.Parallel()
	e, d := newCatalogServer(t)
	var active int
	if err := d.DB.QueryRow(`SELECT COUNT(*) FROM products p WHERE p.status = 'active'
		AND EXISTS (SELECT 1 FROM variants v WHERE v.product_id = p.id AND v.active)`).Scan(&active); err != nil {
		t.Fatal(err)
	}
	drafts := map[uint64]bool{}
	rows, err := d.DB.Query(`SELECT id FROM products WHERE status <> 'active'`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id uint64
		_ = rows.Scan(&id)
		drafts[id] = true
	}
	rows.Close()
	if len(drafts) == 0 {
		t.Fatal("the demo catalog should hold some drafts and archived products")
	}
	for _, sort := range []string{"newest", "price", "-price", "title"} {
		seen := map[uint64]bool{}
		path := "/v1/products?limit=37&sort=" + sort
		pages := 0
		for {
			var p listPage
			if rec := getJSON(t, e, path, &p); rec.Code != 200 {
				t.Fatalf("GET %s = %d: %s", path, rec.Code, rec.Body)
			}
			pages++
			for _, it := range p.Items {
				if seen[it.ID] {
					t.Fatalf("sort=%s: product %d repeated", sort, it.ID)
				}
				if drafts[it.ID] {
					t.Fatalf("sort=%s: draft/archived product %d listed", sort, it.ID)
				}
				if it.Slug == "" || it.Title == "" || it.Price.Currency != "USD" || !strings.Contains(it.Price.Amount, ".") {
					t.Fatalf("incomplete item %+v", it)
				}
				seen[it.ID] = true
			}
			if p.NextCursor == nil {
				break
			}
			path = "/v1/products?limit=37&sort=" + sort + "&cursor=" + url.QueryEscape(*p.NextCursor)
		}
		if len(seen) != active {
			t.Errorf("sort=%s: paged %d products in %d pages, want %d", sort, len(seen), pages, active)
		}
	}
	var def listPage
	getJSON(t, e, "/v1/products", &def)
	if len(def.Items) != catalog.DefaultLimit {
		t.Errorf("default page has %d items, want %d", len(def.Items), catalog.DefaultLimit)
	}
}

// A page that ends on the longest title a product may have (255
// characters of four-byte UTF-8) still hands out a cursor the listing
// takes back.
func TestTitleSortedPagingOverTheLongestTitles(t *testing.T) {
	t.Parallel()
	e, d, _ := newServer(t, func(c *handlers.Config) { c.BodyLimit = 1 << 20 })
	key := adminKey(t, d, "editor", auth.ScopeCatalogWrite, auth.ScopeInventoryWrite)
	const n = 3
	for i := range n {
		title := strings.Repeat("\U0001F600", 254) + string(rune('a'+i))
		body := fmt.Sprintf(`{"title":%q,"variants":[{"sku":"LONG-%d","price":"1.00","on_hand":1}]}`, title, i)
		if rec := send(t, e, key, "PUT", fmt.Sprintf("/v1/admin/products/long-%d", i), body); rec.Code != http.StatusCreated {
			t.Fatalf("create: %d %s", rec.Code, rec.Body)
		}
	}
	path := "/v1/products?limit=1&sort=title"
	var got []string
	for len(got) <= n {
		var p listPage
		if rec := getJSON(t, e, path, &p); rec.Code != 200 {
			t.Fatalf("GET %.120s... = %d: %s", path, rec.Code, rec.Body)
		}
		for _, it := range p.Items {
			got = append(got, it.Slug)
		}
		if p.NextCursor == nil {
			break
		}
		path = "/v1/products?limit=1&sort=title&cursor=" + url.QueryEscape(*p.NextCursor)
	}
	if want := []string{"long-0", "long-1", "long-2"}; !slices.Equal(got, want) {
		t.Errorf("paged %v, want %v", got, want)
	}
}

func TestCursorsAreTamperEvident(t *testing.T) {
	t.Parallel()
	e, d := newCatalogServer(t)
	var p listPage
	getJSON(t, e, "/v1/products?limit=5&sort=price&min_price=10", &p)
	if p.NextCursor == nil {
		t.Fatal("want a next cursor")
	}
	c := *p.NextCursor
	raw, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		t.Fatal(err)
	}
	bad := map[string]string{}
	for _, i := range []int{0, 1, 5, 20, 30, len(raw) - 1} {
		b := bytes.Clone(raw)
		b[i] ^= 0x01
		bad[fmt.Sprintf("byte %d flipped", i)] = "sort=price&min_price=10&cursor=" + base64.RawURLEncoding.EncodeToString(b)
	}
	bad["truncated"] = "sort=price&min_price=10&cursor=" + c[:len(c)-4]
	bad["other filter"] = "sort=price&min_price=11&cursor=" + c
	bad["other sort"] = "sort=-price&min_price=10&cursor=" + c
	bad["no filter"] = "sort=price&cursor=" + c
	for name, q := range bad {
		if rec := do(e, httptest.NewRequest("GET", "/v1/products?"+q, nil)); rec.Code != 400 {
			t.Errorf("%s: %d, want 400: %s", name, rec.Code, rec.Body)
		} else if !strings.Contains(rec.Body.String(), `"field":"cursor"`) {
			t.Errorf("%s: problem does not name cursor: %s", name, rec.Body)
		}
	}
	// The same cursor is fine with another limit...
	if rec := do(e, httptest.NewRequest("GET", "/v1/products?sort=price&min_price=10&limit=3&cursor="+c, nil)); rec.Code != 200 {
		t.Errorf("other limit: %d: %s", rec.Code, rec.Body)
	}
	// ...and refused by a process with another secret.
	other := contractServer(t, handlers.New(handlers.Config{Store: d.Store, Storefront: catalog.StorefrontConfig{CursorSecret: []byte("another")}}))
	if rec := do(other, httptest.NewRequest("GET", "/v1/products?sort=price&min_price=10&cursor="+c, nil)); rec.Code != 400 {
		t.Errorf("other secret: %d, want 400", rec.Code)
	}
}

func TestFacetsCountTheWholeFilteredSet(t *testing.T) {
	t.Parallel()
	e, _ := newCatalogServer(t)
	var all listPage
	if rec := getJSON(t, e, "/v1/products?limit=100&facets=category,brand,price,attr.color", &all); rec.Code != 200 {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	var brands []struct {
		Value string `json:"value"`
		Count int    `json:"count"`
	}
	if err := json.Unmarshal(all.Facets["brand"], &brands); err != nil || len(brands) == 0 {
		t.Fatalf("brand facet: %v %s", err, all.Facets["brand"])
	}
	// Each brand's count is what filtering by it lists.
	for _, b := range brands[:3] {
		n := 0
		path := "/v1/products?limit=100&brand=" + url.QueryEscape(b.Value)
		for {
			var p listPage
			getJSON(t, e, path, &p)
			n += len(p.Items)
			if p.NextCursor == nil {
				break
			}
			path = "/v1/products?limit=100&brand=" + url.QueryEscape(b.Value) + "&cursor=" + *p.NextCursor
		}
		if n != b.Count {
			t.Errorf("brand %s: facet %d, listing %d", b.Value, b.Count, n)
		}
	}
	var price struct {
		Min     *struct{ Amount string } `json:"min"`
		Buckets []struct {
			Count int `json:"count"`
		} `json:"buckets"`
	}
	if err := json.Unmarshal(all.Facets["price"], &price); err != nil || price.Min == nil {
		t.Fatalf("price facet: %v %s", err, all.Facets["price"])
	}
	var cats []struct {
		Slug  string `json:"slug"`
		Count int    `json:"count"`
	}
	if err := json.Unmarshal(all.Facets["category"], &cats); err != nil || len(cats) != 6 {
		t.Fatalf("category facet: %v %s", err, all.Facets["category"])
	}
	// Each top-level category's count is what filtering by it lists.
	for _, c := range cats[:2] {
		var p listPage
		n := 0
		path := "/v1/products?limit=100&category=" + c.Slug
		for {
			p = listPage{}
			getJSON(t, e, path, &p)
			n += len(p.Items)
			if p.NextCursor == nil {
				break
			}
			path = "/v1/products?limit=100&category=" + c.Slug + "&cursor=" + *p.NextCursor
		}
		if n != c.Count {
			t.Errorf("category %s: facet %d, listing %d", c.Slug, c.Count, n)
		}
	}
	var inStock listPage
	getJSON(t, e, "/v1/products?in_stock=true&min_price=20&facets=category&category="+cats[0].Slug, &inStock)
	if len(inStock.Facets["category"]) < 3 {
		t.Errorf("filtered category facet: %s", inStock.Facets["category"])
	}
	total, bucketSum := 0, 0
	for _, b := range price.Buckets {
		bucketSum += b.Count
	}
	for _, b := range brands {
		total += b.Count
	}
	if total != bucketSum {
		t.Errorf("brand counts sum to %d, price buckets to %d", total, bucketSum)
	}
	// Attribute names and values are case-insensitive: attr.Color=RED lists
	// what the attr.color facet counted for "red".
	var colors []struct {
		Value string `json:"value"`
		Count int    `json:"count"`
	}
	if err := json.Unmarshal(all.Facets["attr.color"], &colors); err != nil || len(colors) == 0 {
		t.Fatalf("attr.color facet: %v %s", err, all.Facets["attr.color"])
	}
	var shouted listPage
	getJSON(t, e, "/v1/products?limit=100&attr.Color="+url.QueryEscape(strings.ToUpper(colors[0].Value)), &shouted)
	if len(shouted.Items) != colors[0].Count {
		t.Errorf("attr.Color=%s lists %d, facet counted %d", strings.ToUpper(colors[0].Value), len(shouted.Items), colors[0].Count)
	}
	// The British spelling is read as writes store it: colour is color.
	var british listPage
	getJSON(t, e, "/v1/products?limit=100&facets=attr.colour&attr.colour="+url.QueryEscape(colors[0].Value), &british)
	if len(british.Items) != colors[0].Count || string(british.Facets["attr.color"]) == "" {
		t.Errorf("attr.colour=%s lists %d (facet counted %d for attr.color), facets %v", colors[0].Value, len(british.Items), colors[0].Count, british.Facets)
	}
}

// Words the full-text index never holds (InnoDB's stopwords) must not be
// required: "the sofa" finds what "sofa" finds, not nothing.
func TestSearchIgnoresStopwords(t *testing.T) {
	t.Parallel()
	e, _ := newCatalogServer(t)
	var plain, worded listPage
	if rec := getJSON(t, e, "/v1/products?limit=100&q=sofa", &plain); rec.Code != 200 {
		t.Fatalf("q=sofa = %d: %s", rec.Code, rec.Body)
	}
	if len(plain.Items) == 0 {
		t.Fatal("q=sofa found nothing in the demo catalog")
	}
	for _, q := range []string{"the%20sofa", "sofa%20for%20the", "Sofa,%20with%20that"} {
		if rec := getJSON(t, e, "/v1/products?limit=100&q="+q, &worded); rec.Code != 200 {
			t.Fatalf("q=%s = %d: %s", q, rec.Code, rec.Body)
		}
		if len(worded.Items) != len(plain.Items) {
			t.Errorf("q=%s found %d products, q=sofa %d", q, len(worded.Items), len(plain.Items))
		}
	}
}
