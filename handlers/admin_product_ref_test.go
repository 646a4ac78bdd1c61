package handlers_test

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/shelfcommerce/shelf/internal/auth"
)

// GET, PATCH and DELETE take the id or the slug, as the storefront does; a
// slug made of digits is found as a slug when no product has that id.
func TestAdminProductByIDOrSlug(t *testing.T) {
	t.Parallel()
	e, d, _ := newServer(t)
	key := adminKey(t, d, "editor", auth.ScopeCatalogWrite)
	rec := send(t, e, key, "PUT", "/v1/admin/products/1984", `{"title":"Nineteen Eighty-Four","status":"draft","variants":[{"sku":"NEF-1","price":"9.00"}]}`)
	if rec.Code != http.StatusCreated {
		t.Fatalf("PUT: %d %s", rec.Code, rec.Body)
	}
	created := decodeProduct(t, rec)
	for _, ref := range []string{"1984", itoa(created.ID)} {
		got := send(t, e, key, "GET", "/v1/admin/products/"+ref, "")
		if got.Code != http.StatusOK || decodeProduct(t, got).ID != created.ID {
			t.Fatalf("GET %s: %d %s", ref, got.Code, got.Body)
		}
	}
	rec = send(t, e, key, "PATCH", "/v1/admin/products/1984", `{"title":"1984"}`)
	if rec.Code != http.StatusOK || decodeProduct(t, rec).Title != "1984" {
		t.Fatalf("PATCH by slug: %d %s", rec.Code, rec.Body)
	}
	if rec := send(t, e, key, "DELETE", "/v1/admin/products/1984", ""); rec.Code != http.StatusNoContent {
		t.Fatalf("DELETE by slug: %d %s", rec.Code, rec.Body)
	}
	if p := decodeProduct(t, send(t, e, key, "GET", "/v1/admin/products/1984", "")); p.Status != "archived" {
		t.Fatalf("after DELETE by slug: status %q", p.Status)
	}
	for _, ref := range []string{"no-such-product", "Not_A_Slug", "0"} {
		if rec := send(t, e, key, "GET", "/v1/admin/products/"+ref, ""); rec.Code != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", ref, rec.Code)
		}
	}
}

// A slug with a leading zero ("01") is a slug: it never names the product
// whose id it spells, on the admin API or on the storefront, so a script
// that PUTs a product by such a slug and then archives it by that slug
// archives that product and no other.
func TestAZeroPaddedRefIsASlug(t *testing.T) {
	t.Parallel()
	e, d, _ := newServer(t)
	key := adminKey(t, d, "editor", auth.ScopeCatalogWrite)
	first := send(t, e, key, "PUT", "/v1/admin/products/seven", `{"title":"Seven","status":"active","variants":[{"sku":"SEV-1","price":"7.00"}]}`)
	if first.Code != http.StatusCreated {
		t.Fatalf("PUT seven: %d %s", first.Code, first.Body)
	}
	seven := decodeProduct(t, first)
	padded := "0" + itoa(seven.ID)
	rec := send(t, e, key, "PUT", "/v1/admin/products/"+padded, `{"title":"Padded","status":"active","variants":[{"sku":"PAD-1","price":"1.00"}]}`)
	if rec.Code != http.StatusCreated {
		t.Fatalf("PUT %s: %d %s", padded, rec.Code, rec.Body)
	}
	if got := decodeProduct(t, send(t, e, key, "GET", "/v1/admin/products/"+padded, "")); got.Slug != padded {
		t.Fatalf("GET /v1/admin/products/%s: product %q (id %d), want slug %q", padded, got.Slug, got.ID, padded)
	}
	page := send(t, e, "", "GET", "/v1/products/"+padded, "")
	var shown struct{ Slug string }
	if page.Code != http.StatusOK || json.Unmarshal(page.Body.Bytes(), &shown) != nil || shown.Slug != padded {
		t.Fatalf("GET /v1/products/%s: %d %s", padded, page.Code, page.Body)
	}
	if rec := send(t, e, key, "DELETE", "/v1/admin/products/"+padded, ""); rec.Code != http.StatusNoContent {
		t.Fatalf("DELETE %s: %d %s", padded, rec.Code, rec.Body)
	}
	if p := decodeProduct(t, send(t, e, key, "GET", "/v1/admin/products/seven", "")); p.Status != "active" {
		t.Fatalf("DELETE %s archived %q too: status %q", padded, p.Slug, p.Status)
	}
}
