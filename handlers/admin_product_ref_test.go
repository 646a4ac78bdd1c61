package handlers_test

import (
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
