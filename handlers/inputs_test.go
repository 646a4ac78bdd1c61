package handlers_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/shelfcommerce/shelf/handlers"
	"github.com/shelfcommerce/shelf/internal/auth"
)

// Whatever the admin API refuses, an import refuses too, as a row error:
// the rules live in one place that both paths read products through.
func TestImagesAndTextThatCouldHurtAReaderAreRefused(t *testing.T) {
	t.Parallel()
	e, d, _ := newServer(t, func(c *handlers.Config) { c.BodyLimit = 1 << 20 })
	key := adminKey(t, d, "editor", auth.ScopeCatalogWrite, auth.ScopeInventoryWrite, auth.ScopeImportsWrite)
	cases := []struct{ name, body, field string }{
		{"javascript: image", `{"title":"T","images":[{"src":"https://ok.example/a.jpg"},{"src":"javascript:alert(1)"}],"variants":[{"price":"1"}]}`, "images[1].src"},
		{"file: image", `{"title":"T","images":[{"src":"file:///etc/passwd"}],"variants":[{"price":"1"}]}`, "images[0].src"},
		{"gopher: image", `{"title":"T","images":[{"src":"gopher://x.example/1"}],"variants":[{"price":"1"}]}`, "images[0].src"},
		{"relative image", `{"title":"T","images":[{"src":"/img/a.jpg"}],"variants":[{"price":"1"}]}`, "images[0].src"},
		{"NUL in the title", `{"title":"Te\u0000e","variants":[{"price":"1"}]}`, "title"},
		{"escape in the brand", `{"title":"T","brand":"\u001b[2J","variants":[{"price":"1"}]}`, "brand"},
		{"bell in a SKU", `{"title":"T","variants":[{"sku":"A\u0007","price":"1"}]}`, "variants[0].sku"},
		{"C1 control in an option", `{"title":"T","variants":[{"price":"1","options":{"Size":"M\u0085L"}}]}`, "variants[0].option1_value"},
		{"lone CR in the description", `{"title":"T","description":"a\rb","variants":[{"price":"1"}]}`, "description"},
		{"control in a tag", `{"title":"T","tags":["ok","b\u0000d"],"variants":[{"price":"1"}]}`, "tags"},
	}
	for _, c := range cases {
		rec := send(t, e, key, "PUT", "/v1/admin/products/t", c.body)
		if rec.Code != http.StatusUnprocessableEntity || !strings.Contains(rec.Body.String(), `"field":"`+c.field+`"`) {
			t.Errorf("%s: %d %s, want 422 naming %s", c.name, rec.Code, rec.Body, c.field)
		}
	}
	// Tabs and newlines are text; a description is HTML, stored as given.
	ok := `{"title":"Tab\tted","description":"<p>one</p>\r\n<p>two</p>\n","images":[{"src":"HTTPS://cdn.example.com/a.jpg"}],"variants":[{"price":"1"}]}`
	if rec := send(t, e, key, "PUT", "/v1/admin/products/fine", ok); rec.Code != http.StatusCreated {
		t.Fatalf("tab, newlines and an https image: %d %s", rec.Code, rec.Body)
	}
	if got := count(t, d, "SELECT COUNT(*) FROM products"); got != 1 {
		t.Fatalf("%d products written, want only the good one", got)
	}

	// The same file through imports: the bad rows are row errors, the good
	// product is written.
	nd := strings.Join([]string{
		`{"handle":"good","title":"Good","images":[{"src":"https://cdn.example.com/g.jpg"}],"variants":[{"sku":"G1","price":"1"}]}`,
		`{"handle":"evil-img","title":"Evil","images":[{"src":"javascript:alert(1)"}],"variants":[{"sku":"E1","price":"1"}]}`,
		`{"handle":"evil-title","title":"Evil\u0000","variants":[{"sku":"E2","price":"1"}]}`,
		`{"handle":"evil-sku","title":"Evil","variants":[{"sku":"E3\u001b","price":"1"},{"sku":"E4","price":"1"}]}`,
	}, "\n")
	r := runImport(t, e, key, "format=ndjson", []byte(nd))
	fields := map[string]bool{}
	for _, er := range r.Errors {
		fields[er.Field] = true
	}
	for _, f := range []string{"images[0].src", "title", "sku"} {
		if !fields[f] {
			t.Errorf("import report %+v has no row error for %s", r.Errors, f)
		}
	}
	if got := count(t, d, "SELECT COUNT(*) FROM variants WHERE sku IN ('G1', 'E4')"); got != 2 {
		t.Errorf("good rows written: %d, want 2 (G1 and E4)", got)
	}
	if got := count(t, d, "SELECT COUNT(*) FROM variants WHERE sku IN ('E1', 'E2') OR sku LIKE 'E3%'"); got != 0 {
		t.Errorf("%d refused rows written", got)
	}
	csv := "handle,title,sku,price,image_urls\nc-good,Good,C1,1,https://cdn.example.com/c.jpg\nc-bad,Bad,C2,1,data:text/html;base64,PHNjcmlwdD4=\n"
	r = runImport(t, e, key, "format=csv", []byte(csv))
	if r.Failed != 1 || len(r.Errors) != 1 || r.Errors[0].Field != "images[0].src" || r.Errors[0].Line != 3 {
		t.Errorf("csv import with a data: image: %+v", r)
	}
	// Category names and stock notes follow the same rules.
	if rec := send(t, e, key, "POST", "/v1/admin/categories", `{"name":"Shoes\u0000"}`); rec.Code != http.StatusUnprocessableEntity || !strings.Contains(rec.Body.String(), `"field":"name"`) {
		t.Errorf("category name with NUL: %d %s", rec.Code, rec.Body)
	}
	if rec := send(t, e, key, "PUT", "/v1/admin/inventory/G1", `{"on_hand":1,"note":"x\u0000"}`); rec.Code != http.StatusUnprocessableEntity || !strings.Contains(rec.Body.String(), `"field":"note"`) {
		t.Errorf("stock note with NUL: %d %s", rec.Code, rec.Body)
	}
}

// Stock has its own scope: a catalog editor or an importer without
// inventory:write cannot change it through a product write or a file.
func TestStockChangesNeedInventoryWrite(t *testing.T) {
	t.Parallel()
	e, d, _ := newServer(t)
	editor := adminKey(t, d, "editor", auth.ScopeCatalogWrite)
	importer := adminKey(t, d, "importer", auth.ScopeImportsWrite)
	both := adminKey(t, d, "stock-keeper", auth.ScopeCatalogWrite, auth.ScopeInventoryWrite)

	for _, body := range []string{
		`{"title":"T","variants":[{"sku":"T1","price":"1","on_hand":50}]}`,
		`{"title":"T","variants":[{"sku":"T1","price":"1","stock":50}]}`,
	} {
		rec := send(t, e, editor, "PUT", "/v1/admin/products/t", body)
		if rec.Code != http.StatusForbidden || !strings.Contains(rec.Body.String(), "inventory:write") {
			t.Errorf("stock from a catalog:write key: %d %s, want 403 naming inventory:write", rec.Code, rec.Body)
		}
	}
	if got := count(t, d, "SELECT COUNT(*) FROM products"); got != 0 {
		t.Fatalf("refused writes created %d products", got)
	}
	// Without stock the editor may write the product; with the scope, stock too.
	if rec := send(t, e, editor, "PUT", "/v1/admin/products/t", `{"title":"T","variants":[{"sku":"T1","price":"1"}]}`); rec.Code != http.StatusCreated {
		t.Fatalf("product without stock: %d %s", rec.Code, rec.Body)
	}
	if rec := send(t, e, both, "PUT", "/v1/admin/products/t", `{"title":"T","variants":[{"sku":"T1","price":"1","on_hand":5}]}`); rec.Code != http.StatusOK {
		t.Fatalf("stock with inventory:write: %d %s", rec.Code, rec.Body)
	}
	// PATCH of other fields leaves stock alone and needs no stock scope.
	rec := send(t, e, editor, "PATCH", "/v1/admin/products/"+itoa(decodeProduct(t, send(t, e, both, "PUT", "/v1/admin/products/t", `{"title":"T","variants":[{"sku":"T1","price":"1","on_hand":5}]}`)).ID), `{"title":"Renamed"}`)
	if rec.Code != http.StatusOK {
		t.Fatalf("PATCH title by the editor: %d %s", rec.Code, rec.Body)
	}

	// An import by a key without inventory:write writes the products and
	// refuses each stock value as a row error naming the scope.
	r := runImport(t, e, importer, "format=csv", []byte("handle,title,sku,price,stock\nt,T,T1,1,999\nu,U,U1,1,\n"))
	if len(r.Errors) != 1 || r.Errors[0].Field != "stock" || !strings.Contains(r.Errors[0].Message, "inventory:write") {
		t.Fatalf("import of stock without the scope: %+v", r)
	}
	if got := count(t, d, "SELECT on_hand FROM inventory i JOIN variants v ON v.id = i.variant_id WHERE v.sku = 'T1'"); got != 5 {
		t.Errorf("T1 on hand %d after a refused import, want 5", got)
	}
	if got := count(t, d, "SELECT COUNT(*) FROM variants WHERE sku = 'U1'"); got != 1 {
		t.Errorf("the stock-less row was not imported")
	}
}
