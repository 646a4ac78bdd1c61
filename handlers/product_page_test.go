package handlers_test

import (
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/shelfcommerce/shelf/internal/auth"
)

func TestProductDetailETagAndNotModified(t *testing.T) {
	t.Parallel()
	e, d := newCatalogServer(t)
	var p listPage
	getJSON(t, e, "/v1/products?limit=1&sort=price", &p)
	it := p.Items[0]
	var byID, bySlug map[string]any
	rec := getJSON(t, e, fmt.Sprintf("/v1/products/%d", it.ID), &byID)
	if rec.Code != 200 {
		t.Fatalf("by id: %d %s", rec.Code, rec.Body)
	}
	etag := rec.Header().Get("ETag")
	if !strings.HasPrefix(etag, `"`) {
		t.Fatalf("ETag = %q", etag)
	}
	if rec2 := getJSON(t, e, "/v1/products/"+it.Slug, &bySlug); rec2.Code != 200 || rec2.Header().Get("ETag") != etag {
		t.Fatalf("by slug: %d, ETag %q vs %q", rec2.Code, rec2.Header().Get("ETag"), etag)
	}
	vs, _ := byID["variants"].([]any)
	if len(vs) == 0 {
		t.Fatalf("no variants: %v", byID)
	}
	v0 := vs[0].(map[string]any)
	for _, k := range []string{"sku", "options", "price", "compare_at_price", "available"} {
		if _, ok := v0[k]; !ok {
			t.Errorf("variant lacks %q: %v", k, v0)
		}
	}
	for _, k := range []string{"id", "slug", "title", "brand", "images", "attributes", "categories"} {
		if _, ok := byID[k]; !ok {
			t.Errorf("product lacks %q", k)
		}
	}
	for _, inm := range []string{etag, "W/" + etag, `"nope", ` + etag, "*"} {
		req := httptest.NewRequest("GET", fmt.Sprintf("/v1/products/%d", it.ID), nil)
		req.Header.Set("If-None-Match", inm)
		if rec := do(e, req); rec.Code != 304 || rec.Body.Len() != 0 {
			t.Errorf("If-None-Match %s: %d, want 304 with no body", inm, rec.Code)
		}
	}
	req := httptest.NewRequest("GET", fmt.Sprintf("/v1/products/%d", it.ID), nil)
	req.Header.Set("If-None-Match", `"stale"`)
	if rec := do(e, req); rec.Code != 200 {
		t.Errorf("stale If-None-Match: %d", rec.Code)
	}
	// A change to what the page shows changes the ETag (the test server has
	// no page cache).
	if _, err := d.DB.Exec("UPDATE inventory SET on_hand = on_hand + 7 WHERE product_id = ?", it.ID); err != nil {
		t.Fatal(err)
	}
	if rec := do(e, httptest.NewRequest("GET", fmt.Sprintf("/v1/products/%d", it.ID), nil)); rec.Header().Get("ETag") == etag {
		t.Error("ETag unchanged after a stock change")
	}
	// gzip when asked and worth it; the body is the same JSON.
	req = httptest.NewRequest("GET", "/v1/products/"+it.Slug, nil)
	req.Header.Set("Accept-Encoding", "gzip")
	rec = do(e, req)
	if rec.Header().Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(rec.Body)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(zr)
		if !json.Valid(b) {
			t.Error("gzipped body is not JSON")
		}
	}
	// Drafts, archived and unknown products are 404.
	var draft string
	if err := d.DB.QueryRow("SELECT slug FROM products WHERE status <> 'active' LIMIT 1").Scan(&draft); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/v1/products/" + draft, "/v1/products/999999999", "/v1/products/No_Such"} {
		if rec := do(e, httptest.NewRequest("GET", path, nil)); rec.Code != 404 {
			t.Errorf("GET %s = %d, want 404", path, rec.Code)
		} else {
			decodeProblem(t, rec)
		}
	}
}

// A product with more variants than one page statement returns rows shows
// every variant's own stock (its page reads the stock in a second
// statement), and a change to one of them shows on the next read.
func TestProductPageWithManyVariantsShowsEachStock(t *testing.T) {
	t.Parallel()
	e, d, _ := newServer(t)
	key := adminKey(t, d, "editor", auth.ScopeCatalogWrite, auth.ScopeInventoryWrite)
	var vs []string
	for i := range 12 {
		vs = append(vs, fmt.Sprintf(`{"sku":"WIDE-%d","price":"%d.00","on_hand":%d,"options":{"Size":"S%d"}}`, i, 10+i, i*3, i))
	}
	if rec := send(t, e, key, "POST", "/v1/admin/products", `{"slug":"wide","title":"Wide","variants":[`+strings.Join(vs, ",")+`]}`); rec.Code != http.StatusCreated {
		t.Fatalf("create: %d %s", rec.Code, rec.Body)
	}
	type page struct {
		InStock  bool `json:"in_stock"`
		Variants []struct {
			SKU       string `json:"sku"`
			Available int64  `json:"available"`
		} `json:"variants"`
	}
	var p page
	if rec := getJSON(t, e, "/v1/products/wide", &p); rec.Code != 200 {
		t.Fatalf("GET: %d %s", rec.Code, rec.Body)
	}
	if len(p.Variants) != 12 || !p.InStock {
		t.Fatalf("page: %+v", p)
	}
	for i, v := range p.Variants {
		if v.SKU != fmt.Sprintf("WIDE-%d", i) || v.Available != int64(i*3) {
			t.Errorf("variant %d: %+v, want WIDE-%d with %d available", i, v, i, i*3)
		}
	}
	if _, err := d.DB.Exec("UPDATE inventory i JOIN variants v ON v.id = i.variant_id SET i.on_hand = 99 WHERE v.sku = 'WIDE-11'"); err != nil {
		t.Fatal(err)
	}
	getJSON(t, e, "/v1/products/wide", &p)
	if got := p.Variants[11].Available; got != 99 {
		t.Errorf("after the stock change: %d available, want 99", got)
	}
}
