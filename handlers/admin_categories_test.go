package handlers_test

import (
	"encoding/json"
	"maps"
	"net/http"
	"slices"
	"sync"
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

// Moves, adds and deletes running at once keep the tree whole: every
// category's closure rows are the path its parent_id chain gives, its depth
// is that path's length, and no category is left under a deleted parent.
// Before the tree lock, a move read ancestors that a concurrent move was
// rewriting, and a delete missed a child added while it checked.
func TestConcurrentCategoryChangesKeepTheTreeWhole(t *testing.T) {
	t.Parallel()
	e, d, _ := newServer(t)
	key := adminKey(t, d, "editor", auth.ScopeCatalogWrite)
	create := func(name string, parent uint64) (uint64, int) {
		body := `{"name":"` + name + `"}`
		if parent != 0 {
			body = `{"name":"` + name + `","parent_id":` + itoa(parent) + `}`
		}
		rec := send(t, e, key, "POST", "/v1/admin/categories", body)
		var c struct{ ID uint64 }
		_ = json.Unmarshal(rec.Body.Bytes(), &c)
		return c.ID, rec.Code
	}
	var tops, mids []uint64
	for i := range 4 {
		top, _ := create("Top "+itoa(uint64(i)), 0)
		mid, _ := create("Mid "+itoa(uint64(i)), top)
		tops, mids = append(tops, top), append(mids, mid)
	}
	ok := func(what string, code int, allowed ...int) {
		if code != http.StatusOK && code != http.StatusCreated && code != http.StatusNoContent && !slices.Contains(allowed, code) {
			t.Errorf("%s: %d", what, code)
		}
	}
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(3)
		go func() { // moves of a subtree under another one, and back
			defer wg.Done()
			for i := range 12 {
				from, to := tops[(w+i)%4], mids[(w+i+1)%4]
				if i%3 == 2 {
					rec := send(t, e, key, "PATCH", "/v1/admin/categories/"+itoa(from), `{"parent_id":null}`)
					ok("move to the top", rec.Code)
					continue
				}
				rec := send(t, e, key, "PATCH", "/v1/admin/categories/"+itoa(from), `{"parent_id":`+itoa(to)+`}`)
				ok("move", rec.Code, http.StatusUnprocessableEntity) // under its own descendant, or too deep
			}
		}()
		go func() { // leaves added under the moving categories
			defer wg.Done()
			for i := range 12 {
				_, code := create("Leaf "+itoa(uint64(w))+"-"+itoa(uint64(i)), mids[(w+i)%4])
				ok("add", code, http.StatusUnprocessableEntity) // too deep
			}
		}()
		go func() { // a category deleted while a child is added to it
			defer wg.Done()
			for i := range 6 {
				c, code := create("Doomed "+itoa(uint64(w))+"-"+itoa(uint64(i)), mids[w])
				if code != http.StatusCreated {
					continue
				}
				var inner sync.WaitGroup
				inner.Add(1)
				go func() {
					defer inner.Done()
					_, code := create("Late child "+itoa(uint64(w))+"-"+itoa(uint64(i)), c)
					ok("add under a category being deleted", code, http.StatusUnprocessableEntity)
				}()
				rec := send(t, e, key, "DELETE", "/v1/admin/categories/"+itoa(c), "")
				ok("delete", rec.Code, http.StatusConflict) // the child came first
				inner.Wait()
			}
		}()
	}
	wg.Wait()

	if n := count(t, d, `SELECT COUNT(*) FROM categories c LEFT JOIN categories p ON p.id = c.parent_id
		WHERE c.parent_id IS NOT NULL AND p.id IS NULL`); n != 0 {
		t.Errorf("%d categories under a deleted parent", n)
	}
	parent, depth := map[uint64]uint64{}, map[uint64]int{}
	rows, err := d.DB.Query("SELECT id, COALESCE(parent_id, 0), depth FROM categories")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id, p uint64
		var dep int
		if err := rows.Scan(&id, &p, &dep); err != nil {
			t.Fatal(err)
		}
		parent[id], depth[id] = p, dep
	}
	_ = rows.Close()
	closure := map[uint64]map[uint64]int{}
	rows, err = d.DB.Query("SELECT category_id, ancestor_id, depth FROM category_ancestors")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var c, a uint64
		var dep int
		if err := rows.Scan(&c, &a, &dep); err != nil {
			t.Fatal(err)
		}
		if closure[c] == nil {
			closure[c] = map[uint64]int{}
		}
		closure[c][a] = dep
	}
	_ = rows.Close()
	for id := range parent {
		want := map[uint64]int{}
		for a, n := id, 0; a != 0 && n <= len(parent); a, n = parent[a], n+1 {
			want[a] = n
		}
		if !maps.Equal(closure[id], want) {
			t.Errorf("category %d: closure %v, want %v (from parent_id)", id, closure[id], want)
		}
		if depth[id] != len(want)-1 {
			t.Errorf("category %d: depth %d, want %d", id, depth[id], len(want)-1)
		}
	}
	for c := range closure {
		if _, ok := parent[c]; !ok {
			t.Errorf("closure rows of deleted category %d", c)
		}
	}
}

// A PATCH that does not send "category" leaves the product in its
// category, also when the category's name holds " > " or a sibling has the
// same name. Before, the names joined with " > " were looked up again, and
// the product moved to new categories or to the namesake.
func TestPatchKeepsTheCategoryByIdentity(t *testing.T) {
	t.Parallel()
	e, d, _ := newServer(t)
	key := adminKey(t, d, "editor", auth.ScopeCatalogWrite)
	put := func(slug, category string) {
		t.Helper()
		rec := send(t, e, key, "PUT", "/v1/admin/products/"+slug, `{"title":"P","category":"`+category+`","variants":[{"sku":"`+slug+`","price":"5"}]}`)
		if rec.Code != http.StatusCreated {
			t.Fatalf("put %s: %d %s", slug, rec.Code, rec.Body)
		}
	}
	rename := func(id uint64, name string) {
		t.Helper()
		if rec := send(t, e, key, "PATCH", "/v1/admin/categories/"+itoa(id), `{"name":"`+name+`"}`); rec.Code != http.StatusOK {
			t.Fatalf("rename %d: %d %s", id, rec.Code, rec.Body)
		}
	}
	put("in-kids", "Apparel > Kids")
	put("in-shoes", "Shoes")
	put("in-boots", "Boots")
	var kids, boots uint64
	mustScanCategory := func(name string) uint64 {
		return uint64(count(t, d, "SELECT id FROM categories WHERE name = ?", name))
	}
	kids, boots = mustScanCategory("Kids"), mustScanCategory("Boots")
	rename(kids, "Kids > Teens")
	rename(boots, "Shoes") // a second top-level "Shoes", after the first
	categories := count(t, d, "SELECT COUNT(*) FROM categories")
	for slug, want := range map[string]uint64{"in-kids": kids, "in-boots": boots} {
		if rec := send(t, e, key, "PATCH", "/v1/admin/products/"+slug, `{"title":"Renamed"}`); rec.Code != http.StatusOK {
			t.Fatalf("patch %s: %d %s", slug, rec.Code, rec.Body)
		}
		if got := count(t, d, "SELECT pc.category_id FROM product_categories pc JOIN products p ON p.id = pc.product_id WHERE p.slug = ?", slug); uint64(got) != want {
			t.Errorf("%s is in category %d after a PATCH of its title, want %d", slug, got, want)
		}
		if got := count(t, d, "SELECT COUNT(*) FROM product_listing l JOIN products p ON p.id = l.product_id WHERE p.slug = ? AND l.category_id = ?", slug, want); got != 1 {
			t.Errorf("%s is not listed in category %d", slug, want)
		}
	}
	if got := count(t, d, "SELECT COUNT(*) FROM categories"); got != categories {
		t.Errorf("the PATCHes created %d categories", got-categories)
	}
	// Sending the category still moves the product by its names.
	if rec := send(t, e, key, "PATCH", "/v1/admin/products/in-kids", `{"category":"Apparel"}`); rec.Code != http.StatusOK {
		t.Fatalf("patch category: %d %s", rec.Code, rec.Body)
	}
	if got := count(t, d, "SELECT pc.category_id FROM product_categories pc JOIN products p ON p.id = pc.product_id WHERE p.slug = 'in-kids'"); uint64(got) != mustScanCategory("Apparel") {
		t.Errorf("in-kids is in category %d, want Apparel", got)
	}
}
