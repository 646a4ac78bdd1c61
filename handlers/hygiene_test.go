package handlers_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/shelfcommerce/shelf/internal/auth"
)

func TestEveryResponseSaysNosniff(t *testing.T) {
	t.Parallel()
	e, d, _ := newServer(t)
	key := adminKey(t, d, "editor", auth.ScopeCatalogWrite)
	for _, r := range []struct{ method, path, key string }{
		{"GET", "/healthz", ""},
		{"GET", "/v1/products", ""},
		{"GET", "/v1/products/nope", ""},    // 404 problem
		{"GET", "/no/such/route", ""},       // router 404
		{"DELETE", "/v1/categories", ""},    // 405
		{"GET", "/v1/admin/orders", ""},     // 401
		{"POST", "/v1/admin/products", key}, // 400
		{"GET", "/openapi.yaml", ""},
		{"GET", "/metrics", ""},
	} {
		rec := send(t, e, r.key, r.method, r.path, "")
		if got := rec.Header().Get("X-Content-Type-Options"); got != "nosniff" {
			t.Errorf("%s %s (%d): X-Content-Type-Options %q", r.method, r.path, rec.Code, got)
		}
	}
}

// A JSON body declared as anything but JSON is refused with 415: a browser
// may send text/plain to any origin without asking first.
func TestJSONEndpointsRefuseOtherContentTypes(t *testing.T) {
	t.Parallel()
	e, d, _ := newServer(t)
	key := adminKey(t, d, "editor", auth.ScopeCatalogWrite, auth.ScopeInventoryWrite)
	cases := []struct{ path, method, body string }{
		{"/v1/orders", "POST", orderJSON},
		{"/v1/admin/products", "POST", `{"title":"T","variants":[{"price":"1"}]}`},
		{"/v1/admin/inventory/X/adjust", "POST", `{"delta":1,"reason":"count"}`},
		{"/v1/admin/categories", "POST", `{"name":"Shoes"}`},
	}
	for _, c := range cases {
		for _, ct := range []string{"text/plain", "application/x-www-form-urlencoded", ""} {
			req := httptest.NewRequest(c.method, c.path, strings.NewReader(c.body))
			req.Header.Set("Authorization", "Bearer "+key)
			req.Header.Set("Idempotency-Key", "k-"+ct)
			if ct != "" {
				req.Header.Set("Content-Type", ct)
			}
			rec := do(e, req)
			if rec.Code != http.StatusUnsupportedMediaType {
				t.Errorf("%s %s as %q: %d, want 415", c.method, c.path, ct, rec.Code)
				continue
			}
			if p := decodeProblem(t, rec); p["type"] != "/problems/unsupported-media" {
				t.Errorf("415 type %v", p["type"])
			}
		}
	}
	// application/json with parameters, and +json types, are JSON.
	for _, ct := range []string{"application/json; charset=utf-8", "application/merge-patch+json"} {
		req := httptest.NewRequest("POST", "/v1/admin/categories", strings.NewReader(`{"name":"Shoes `+ct[12:16]+`"}`))
		req.Header.Set("Authorization", "Bearer "+key)
		req.Header.Set("Content-Type", ct)
		if rec := do(e, req); rec.Code != http.StatusCreated {
			t.Errorf("as %q: %d %s", ct, rec.Code, rec.Body)
		}
	}
}

const orderJSON = `{"email": "a@example.com", "lines": [{"sku": "X", "quantity": 1}], "shipping_address": {"name": "A", "line1": "1 St", "city": "C", "country": "US"}}`

// Field names are matched exactly: encoding/json alone would take "EMAIL"
// for "email", so two parsers (a proxy's and ours) could read one body two
// ways.
func TestJSONKeysAreCaseSensitive(t *testing.T) {
	t.Parallel()
	e, d, _ := newServer(t)
	key := adminKey(t, d, "editor", auth.ScopeCatalogWrite, auth.ScopeInventoryWrite)
	cases := []struct{ method, path, body, field string }{
		{"POST", "/v1/orders", strings.Replace(orderJSON, `"email"`, `"EMAIL"`, 1), "EMAIL"},
		{"POST", "/v1/orders", strings.Replace(orderJSON, `"quantity"`, `"Quantity"`, 1), "lines[0].Quantity"},
		{"POST", "/v1/orders", strings.Replace(orderJSON, `"city"`, `"City"`, 1), "shipping_address.City"},
		{"POST", "/v1/admin/products", `{"Title":"T","variants":[{"price":"1"}]}`, "Title"},
		{"POST", "/v1/admin/products", `{"title":"T","variants":[{"Price":"1"}]}`, "variants[0].Price"},
		{"POST", "/v1/admin/products", `{"title":"T","variants":[{"price":{"Amount":"1"}}]}`, "variants[0].price.Amount"},
		{"POST", "/v1/admin/products", `{"title":"T","images":[{"SRC":"https://x.example/a.jpg"}],"variants":[{"price":"1"}]}`, "images[0].SRC"},
		{"POST", "/v1/admin/inventory/X/adjust", `{"Delta":1,"reason":"count"}`, "Delta"},
	}
	for _, c := range cases {
		rec := send(t, e, key, c.method, c.path, c.body, "Idempotency-Key", "k-"+c.field)
		if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), `"field":"`+c.field+`"`) {
			t.Errorf("%s %s: %d %s, want 400 naming %s", c.method, c.path, rec.Code, rec.Body, c.field)
		}
	}
}

// Any SKU is addressable: a space as %20, a slash as %2F.
func TestInventoryPathsDecodeTheSKU(t *testing.T) {
	t.Parallel()
	e, d, _ := newServer(t)
	key := adminKey(t, d, "editor", auth.ScopeCatalogWrite, auth.ScopeInventoryWrite)
	body := `{"title":"Odd","variants":[{"sku":"A B/C","price":"1","options":{"Size":"1"}},{"sku":"D E","price":"1","options":{"Size":"2"}},{"sku":"100%","price":"1","options":{"Size":"3"}}]}`
	if rec := send(t, e, key, "PUT", "/v1/admin/products/odd", body); rec.Code != http.StatusCreated {
		t.Fatalf("create: %d %s", rec.Code, rec.Body)
	}
	for path, sku := range map[string]string{
		"/v1/admin/inventory/A%20B%2FC": "A B/C",
		"/v1/admin/inventory/D%20E":     "D E",
		"/v1/admin/inventory/100%25":    "100%",
	} {
		rec := send(t, e, key, "PUT", path, `{"on_hand":7}`)
		if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `"on_hand":7`) {
			t.Errorf("PUT %s: %d %s", path, rec.Code, rec.Body)
		}
		rec = send(t, e, key, "POST", path+"/adjust", `{"delta":-2,"reason":"count"}`)
		if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `"on_hand":5`) {
			t.Errorf("adjust %s: %d %s", path, rec.Code, rec.Body)
		}
		if got := count(t, d, "SELECT on_hand FROM inventory i JOIN variants v ON v.id = i.variant_id WHERE v.sku = ?", sku); got != 5 {
			t.Errorf("%q on hand %d, want 5", sku, got)
		}
	}
}
