package handlers_test

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/shelfcommerce/shelf/internal/auth"
)

func TestAdminCategoryTree(t *testing.T) {
	t.Parallel()
	e, d, _ := newServer(t)
	key := adminKey(t, d, "editor", auth.ScopeCatalogWrite)
	create := func(body string) uint64 {
		t.Helper()
		rec := send(t, e, key, "POST", "/v1/admin/categories", body)
		if rec.Code != http.StatusCreated || rec.Header().Get("Location") == "" {
			t.Fatalf("create %s: %d %s", body, rec.Code, rec.Body)
		}
		var c struct{ ID uint64 }
		_ = json.Unmarshal(rec.Body.Bytes(), &c)
		return c.ID
	}
	apparel := create(`{"name":"Apparel"}`)
	shirts := create(`{"name":"Shirts","parent_id":` + itoa(apparel) + `}`)
	tees := create(`{"name":"Tees","parent_id":` + itoa(shirts) + `}`)
	sale := create(`{"name":"Sale"}`)
	if rec := send(t, e, key, "POST", "/v1/admin/categories", `{"name":"X","depth":3}`); rec.Code != http.StatusBadRequest {
		t.Errorf("computed field accepted: %d", rec.Code)
	}
	// A product in Tees is listed under Tees, Shirts and Apparel.
	prod := `{"title":"Tee","category":"Apparel > Shirts > Tees","variants":[{"sku":"T1","price":"5"}]}`
	if rec := send(t, e, key, "PUT", "/v1/admin/products/tee", prod); rec.Code != http.StatusCreated {
		t.Fatalf("product: %d %s", rec.Code, rec.Body)
	}
	if got := count(t, d, "SELECT COUNT(*) FROM categories"); got != 4 {
		t.Fatalf("the product's path created categories: %d", got)
	}
	// Under its own descendant: 422, nothing moves.
	for _, target := range []uint64{apparel, tees} {
		rec := send(t, e, key, "PATCH", "/v1/admin/categories/"+itoa(apparel), `{"parent_id":`+itoa(target)+`}`)
		if rec.Code != http.StatusUnprocessableEntity {
			t.Errorf("move under %d: %d %s", target, rec.Code, rec.Body)
		}
	}
	// Move Shirts (with Tees) under Sale: the closure and the listing follow.
	before := count(t, d, "SELECT version FROM products WHERE slug = 'tee'")
	rec := send(t, e, key, "PATCH", "/v1/admin/categories/"+itoa(shirts), `{"parent_id":`+itoa(sale)+`,"name":"Shirts & Tops"}`)
	if rec.Code != http.StatusOK {
		t.Fatalf("move: %d %s", rec.Code, rec.Body)
	}
	if got := count(t, d, "SELECT version FROM products WHERE slug = 'tee'"); got != before+1 {
		t.Errorf("product below the moved category: version %d, want %d", got, before+1)
	}
	if got := count(t, d, "SELECT COUNT(*) FROM category_ancestors WHERE category_id = ? AND ancestor_id = ?", tees, sale); got != 1 {
		t.Error("Tees does not have Sale as an ancestor")
	}
	if got := count(t, d, "SELECT COUNT(*) FROM category_ancestors WHERE category_id = ? AND ancestor_id = ?", tees, apparel); got != 0 {
		t.Error("Tees still has Apparel as an ancestor")
	}
	if got := count(t, d, "SELECT depth FROM categories WHERE id = ?", tees); got != 2 {
		t.Errorf("Tees depth %d", got)
	}
	if got := count(t, d, "SELECT product_count FROM categories WHERE id = ?", sale); got != 1 {
		t.Errorf("Sale product_count %d, want 1", got)
	}
	if got := count(t, d, "SELECT product_count FROM categories WHERE id = ?", apparel); got != 0 {
		t.Errorf("Apparel product_count %d, want 0", got)
	}
	if got := count(t, d, "SELECT COUNT(*) FROM product_listing WHERE category_id = ?", sale); got != 1 {
		t.Error("product not listed under Sale")
	}
	// Move to the top level.
	if rec := send(t, e, key, "PATCH", "/v1/admin/categories/"+itoa(shirts), `{"parent_id":null}`); rec.Code != http.StatusOK {
		t.Fatalf("to top: %d %s", rec.Code, rec.Body)
	}
	if got := count(t, d, "SELECT COUNT(*) FROM category_ancestors WHERE category_id = ?", tees); got != 2 {
		t.Errorf("Tees has %d closure rows, want 2", got)
	}
	// Delete: a category with children is a 409; a leaf goes, its products leave it.
	if rec := send(t, e, key, "DELETE", "/v1/admin/categories/"+itoa(shirts), ""); rec.Code != http.StatusConflict {
		t.Errorf("delete with children: %d", rec.Code)
	}
	version := count(t, d, "SELECT version FROM products WHERE slug = 'tee'")
	if rec := send(t, e, key, "DELETE", "/v1/admin/categories/"+itoa(tees), ""); rec.Code != http.StatusNoContent {
		t.Fatalf("delete leaf: %d %s", rec.Code, rec.Body)
	}
	if got := count(t, d, "SELECT product_count FROM categories WHERE id = ?", shirts); got != 0 {
		t.Errorf("Shirts product_count %d after its child went", got)
	}
	if got := count(t, d, "SELECT version FROM products WHERE slug = 'tee'"); got != version+1 {
		t.Errorf("product version %d after its category was deleted, want %d", got, version+1)
	}
	if got := count(t, d, "SELECT COUNT(*) FROM product_listing WHERE category_id = 0"); got != 1 {
		t.Error("the product left the catalog with its category")
	}
}

// Deleting a category takes its products out of it; PUTting a product's body
// again must put it back, as a re-run script expects, not report it unchanged.
func TestPutAfterCategoryDeleteRestoresTheCategory(t *testing.T) {
	t.Parallel()
	e, d, _ := newServer(t)
	key := adminKey(t, d, "editor", auth.ScopeCatalogWrite)
	prod := `{"title":"Tee","category":"Apparel > Tees","variants":[{"sku":"T1","price":"5"}]}`
	if rec := send(t, e, key, "PUT", "/v1/admin/products/tee", prod); rec.Code != http.StatusCreated {
		t.Fatalf("product: %d %s", rec.Code, rec.Body)
	}
	tees := count(t, d, "SELECT id FROM categories WHERE name = 'Tees'")
	if rec := send(t, e, key, "DELETE", "/v1/admin/categories/"+itoa(uint64(tees)), ""); rec.Code != http.StatusNoContent {
		t.Fatalf("delete: %d %s", rec.Code, rec.Body)
	}
	rec := send(t, e, key, "PUT", "/v1/admin/products/tee", prod)
	if rec.Code != http.StatusOK || decodeProduct(t, rec).Category != "Apparel > Tees" {
		t.Errorf("PUT after the delete: %d %s", rec.Code, rec.Body)
	}
	if got := count(t, d, "SELECT product_count FROM categories WHERE name = 'Tees'"); got != 1 {
		t.Errorf("product_count of the re-created category = %d, want 1", got)
	}
}
