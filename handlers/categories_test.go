package handlers_test

import (
	"net/http/httptest"
	"testing"
)

func TestCategoriesTreeAndBreadcrumb(t *testing.T) {
	t.Parallel()
	e, d := newCatalogServer(t)
	var tree struct {
		Items []*struct {
			ID           uint64 `json:"id"`
			Slug         string `json:"slug"`
			ProductCount int64  `json:"product_count"`
			Children     []*struct {
				Slug         string `json:"slug"`
				ProductCount int64  `json:"product_count"`
				Children     []*struct {
					Slug         string `json:"slug"`
					ProductCount int64  `json:"product_count"`
				} `json:"children"`
			} `json:"children"`
		} `json:"items"`
	}
	if rec := getJSON(t, e, "/v1/categories", &tree); rec.Code != 200 {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	if len(tree.Items) != 6 || len(tree.Items[0].Children) != 4 || len(tree.Items[0].Children[0].Children) != 4 {
		t.Fatalf("want 6 × 4 × 4, got %d top-level", len(tree.Items))
	}
	// product_count agrees with the listing: active products in or below.
	for _, top := range tree.Items {
		var n int64
		err := d.DB.QueryRow(`SELECT COUNT(DISTINCT pc.product_id) FROM product_categories pc
			JOIN category_ancestors ca ON ca.category_id = pc.category_id
			JOIN products p ON p.id = pc.product_id AND p.status = 'active'
			WHERE ca.ancestor_id = ?`, top.ID).Scan(&n)
		if err != nil {
			t.Fatal(err)
		}
		if top.ProductCount != n || n == 0 {
			t.Errorf("%s: product_count %d, want %d", top.Slug, top.ProductCount, n)
		}
		var p listPage
		getJSON(t, e, "/v1/products?limit=100&category="+top.Slug, &p)
		if int64(len(p.Items)) != min(n, 100) {
			t.Errorf("%s: listing has %d, want %d", top.Slug, len(p.Items), min(n, 100))
		}
	}
	leaf := tree.Items[1].Children[2].Children[3]
	var v struct {
		Slug      string `json:"slug"`
		Ancestors []struct {
			Slug string `json:"slug"`
		} `json:"ancestors"`
		Children []any `json:"children"`
	}
	if rec := getJSON(t, e, "/v1/categories/"+leaf.Slug, &v); rec.Code != 200 {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	if len(v.Ancestors) != 2 || v.Ancestors[0].Slug != tree.Items[1].Slug || v.Ancestors[1].Slug != tree.Items[1].Children[2].Slug || len(v.Children) != 0 {
		t.Errorf("breadcrumb of %s: %+v", leaf.Slug, v)
	}
	getJSON(t, e, "/v1/categories/"+tree.Items[1].Slug, &v)
	if len(v.Ancestors) != 0 || len(v.Children) != 4 {
		t.Errorf("top-level view: %+v", v)
	}
	if rec := do(e, httptest.NewRequest("GET", "/v1/categories/no-such", nil)); rec.Code != 404 {
		t.Errorf("unknown category: %d", rec.Code)
	}
}
