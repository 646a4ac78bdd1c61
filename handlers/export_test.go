package handlers_test

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/shelfcommerce/shelf/handlers"
	"github.com/shelfcommerce/shelf/internal/auth"
)

// exportSource is a catalog imported from the real Shopify exports (and,
// for the formats that carry them, Shelf's example file with attributes and
// other currencies), with a draft and an archived product.
func exportSource(t *testing.T, format string) (*server, string) {
	t.Helper()
	e, d, _ := newServer(t)
	key := adminKey(t, d, "sync", auth.ScopeCatalogRead, auth.ScopeCatalogWrite, auth.ScopeImportsWrite, auth.ScopeInventoryWrite)
	for _, f := range []string{"shopify_product_template.csv", "candles_products_export.csv", "pet-store_products_export.csv"} {
		runImport(t, e, key, "format=shopify", shopifyFile(t, f))
	}
	if format != "shopify" {
		example, err := os.ReadFile("../internal/importer/testdata/example.csv")
		if err != nil {
			t.Fatalf("fixture missing: %v", err)
		}
		runImport(t, e, key, "format=csv", example)
	}
	if rec := send(t, e, key, "PUT", "/v1/admin/products/spare-wick", `{"title":"Spare wick","status":"draft","variants":[{"sku":"WICK-1","price":"1.50","on_hand":3}]}`); rec.Code != http.StatusCreated {
		t.Fatalf("draft: %d %s", rec.Code, rec.Body)
	}
	if rec := send(t, e, key, "DELETE", "/v1/admin/products/garden-scent-beekman", ""); rec.Code != http.StatusNoContent {
		t.Fatalf("archive: %d %s", rec.Code, rec.Body)
	}
	return e, key
}

func export(t *testing.T, e http.Handler, key, format string) *httptest.ResponseRecorder {
	t.Helper()
	rec := send(t, e, key, "GET", "/v1/admin/exports?format="+format, "")
	if rec.Code != http.StatusOK {
		t.Fatalf("export %s: %d %s", format, rec.Code, rec.Body)
	}
	return rec
}

// Export, per format: importing the file back into its source changes
// nothing; importing it into an empty Shelf gives the same storefront and
// the same admin view of every product, drafts and archived included.
func TestExportImportsBack(t *testing.T) {
	t.Parallel()
	for _, format := range []string{"shopify", "csv", "ndjson"} {
		t.Run(format, func(t *testing.T) {
			t.Parallel()
			src, key := exportSource(t, format)
			rec := export(t, src, key, format)
			file := rec.Body.Bytes()
			if cd := rec.Header().Get("Content-Disposition"); !strings.HasPrefix(cd, `attachment; filename="shelf-products-`) {
				t.Errorf("Content-Disposition %q", cd)
			}
			if again := export(t, src, key, format).Body.Bytes(); string(again) != string(file) {
				t.Errorf("two exports of an unchanged catalog differ")
			}
			slugs := exportedSlugs(t, file, format)
			if len(slugs) < 15 {
				t.Fatalf("export holds %d products: %.400s", len(slugs), file)
			}

			r := runImport(t, src, key, "format="+format, file)
			if r.Unchanged != len(slugs) || r.Created+r.Updated+r.Failed != 0 || len(r.Errors) != 0 || !r.Complete {
				t.Errorf("re-import into the source: %+v, want all %d unchanged", r, len(slugs))
			}

			dst, dd, _ := newServer(t)
			dkey := adminKey(t, dd, "restore", auth.ScopeCatalogWrite, auth.ScopeImportsWrite, auth.ScopeInventoryWrite)
			r = runImport(t, dst, dkey, "format="+format, file)
			if r.Created != len(slugs) || r.Failed != 0 || len(r.Errors) != 0 {
				t.Errorf("import into an empty Shelf: %+v, want %d created", r, len(slugs))
			}
			for _, path := range []string{"/v1/products?sort=title&limit=100", "/v1/categories",
				"/v1/products?facets=category,brand,price&sort=title&limit=1"} {
				sameJSON(t, path, send(t, src, "", "GET", path, ""), send(t, dst, "", "GET", path, ""))
			}
			for _, slug := range slugs {
				sameJSON(t, slug, send(t, src, "", "GET", "/v1/products/"+slug, ""), send(t, dst, "", "GET", "/v1/products/"+slug, ""))
				sameJSON(t, slug, send(t, src, key, "GET", "/v1/admin/products/"+slug, ""), send(t, dst, dkey, "GET", "/v1/admin/products/"+slug, ""))
			}
		})
	}
}

// exportedSlugs are the handles in an export, in file order; the draft and
// the archived product must be among them.
func exportedSlugs(t *testing.T, file []byte, format string) []string {
	t.Helper()
	var handles []string
	if format == "ndjson" {
		for _, line := range strings.Split(strings.TrimSpace(string(file)), "\n") {
			var p struct{ Handle, Status string }
			if err := json.Unmarshal([]byte(line), &p); err != nil {
				t.Fatalf("export line %q: %v", line, err)
			}
			handles = append(handles, p.Handle)
		}
	} else {
		recs, err := csv.NewReader(bytes.NewReader(file)).ReadAll()
		if err != nil || len(recs) < 2 {
			t.Fatalf("export is not CSV: %v", err)
		}
		for _, r := range recs[1:] {
			if len(handles) == 0 || handles[len(handles)-1] != r[0] {
				handles = append(handles, r[0])
			}
		}
	}
	for _, want := range []string{"spare-wick", "garden-scent-beekman"} {
		if !slices.Contains(handles, want) {
			t.Errorf("export lacks %s", want)
		}
	}
	return handles
}

// sameJSON compares two responses with the ids, versions and times each
// database makes for itself left out.
func sameJSON(t *testing.T, what string, a, b *httptest.ResponseRecorder) {
	t.Helper()
	if a.Code != b.Code {
		t.Errorf("%s: status %d in the source, %d in the copy", what, a.Code, b.Code)
		return
	}
	var va, vb any
	_ = json.Unmarshal(a.Body.Bytes(), &va)
	_ = json.Unmarshal(b.Body.Bytes(), &vb)
	va, vb = withoutIdentity(va), withoutIdentity(vb)
	if !reflect.DeepEqual(va, vb) {
		ja, _ := json.Marshal(va)
		jb, _ := json.Marshal(vb)
		i := 0
		for i < len(ja) && i < len(jb) && ja[i] == jb[i] {
			i++
		}
		t.Errorf("%s differs at %d:\nsource %s\ncopy   %s", what, i, ja[max(0, i-200):min(len(ja), i+200)], jb[max(0, i-200):min(len(jb), i+200)])
	}
}

func withoutIdentity(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := map[string]any{}
		for k, val := range x {
			switch k {
			case "id", "version", "created_at", "updated_at", "next_cursor", "request_id":
				continue
			}
			out[k] = withoutIdentity(val)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, val := range x {
			out[i] = withoutIdentity(val)
		}
		return out
	}
	return v
}

// Image positions say an order, which Shelf's CSV carries as the order of
// its list: positions are stored as 1, 2, 3..., so that an export imports
// back unchanged; a | or a backslash in a tag, an alt text
// or an attribute value (text that CSV's lists hold) comes back as it went.
func TestImagePositionsAndSeparatorsSurviveTheRoundTrip(t *testing.T) {
	t.Parallel()
	e, d, _ := newServer(t, func(c *handlers.Config) { c.BodyLimit = 1 << 20 })
	key := adminKey(t, d, "sync", auth.ScopeCatalogRead, auth.ScopeCatalogWrite, auth.ScopeImportsWrite, auth.ScopeInventoryWrite)
	line := `{"handle":"lamp","title":"Lamp","tags":["a|b","c\\d"],"attributes":{"color":["red|blue"]},` +
		`"images":[{"src":"https://cdn.example.com/b.jpg","alt":"Brand | side","position":20},` +
		`{"src":"https://cdn.example.com/a.jpg","alt":"front\\","position":10}],"variants":[{"sku":"LAMP-1","price":"9.00"}]}` + "\n"
	if r := runImport(t, e, key, "format=ndjson", []byte(line)); r.Created != 1 {
		t.Fatalf("import: %+v", r)
	}
	before := send(t, e, key, "GET", "/v1/admin/products/lamp", "").Body.String()
	// (Shopify's format has no column for other attributes: TestExportImportsBack
	// round-trips it with the catalogs it can hold.)
	for _, format := range []string{"csv", "ndjson"} {
		file := export(t, e, key, format).Body.Bytes()
		if r := runImport(t, e, key, "format="+format, file); r.Unchanged != 1 || r.Updated != 0 {
			t.Errorf("%s export imported back: %+v, want the product unchanged:\n%s", format, r, file)
		}
	}
	var p struct {
		Tags   []string
		Images []struct {
			Src, Alt string
			Position int
		}
		Attributes map[string][]string
	}
	after := send(t, e, key, "GET", "/v1/admin/products/lamp", "").Body.String()
	if err := json.Unmarshal([]byte(after), &p); err != nil {
		t.Fatal(err)
	}
	if len(p.Images) != 2 || p.Images[0].Alt != `front\` || p.Images[0].Position != 1 || p.Images[1].Alt != "Brand | side" || p.Images[1].Position != 2 {
		t.Errorf("images %+v, want front\\ at 1 and \"Brand | side\" at 2", p.Images)
	}
	if !slices.Equal(p.Tags, []string{"a|b", `c\d`}) || !slices.Equal(p.Attributes["color"], []string{"red|blue"}) {
		t.Errorf("tags %q, color %q", p.Tags, p.Attributes["color"])
	}
	if before != after {
		t.Errorf("the product changed over the round trips:\n%s\n%s", before, after)
	}
	// Into an empty Shelf, Shelf's CSV gives the same product.
	dst, dd, _ := newServer(t, func(c *handlers.Config) { c.BodyLimit = 1 << 20 })
	dkey := adminKey(t, dd, "restore", auth.ScopeCatalogWrite, auth.ScopeImportsWrite, auth.ScopeInventoryWrite)
	if r := runImport(t, dst, dkey, "format=csv", export(t, e, key, "csv").Body.Bytes()); r.Created != 1 {
		t.Fatalf("import into an empty Shelf: %+v", r)
	}
	sameJSON(t, "lamp", send(t, e, key, "GET", "/v1/admin/products/lamp", ""), send(t, dst, dkey, "GET", "/v1/admin/products/lamp", ""))
}

// A Shopify file has no currency column and reads back in the catalog's
// currency: a catalog with prices in another currency is refused in that
// format (nothing sent but the problem), and exports in csv as it is.
func TestAShopifyExportOfPricesInAnotherCurrencyIsRefused(t *testing.T) {
	t.Parallel()
	e, d, _ := newServer(t, func(c *handlers.Config) { c.Currency = "USD" })
	key := adminKey(t, d, "sync", auth.ScopeCatalogRead, auth.ScopeCatalogWrite, auth.ScopeInventoryWrite)
	for _, body := range []string{
		`{"title":"Mug","status":"active","variants":[{"sku":"MUG-1","price":"9.00","on_hand":3}]}`,
		`{"title":"Yen mug","status":"active","variants":[{"sku":"YEN-1","price":"1500","currency":"JPY","on_hand":3}]}`,
	} {
		if rec := send(t, e, key, "POST", "/v1/admin/products", body); rec.Code != http.StatusCreated {
			t.Fatalf("create: %d %s", rec.Code, rec.Body)
		}
	}
	rec := send(t, e, key, "GET", "/v1/admin/exports?format=shopify", "")
	if rec.Code != http.StatusUnprocessableEntity {
		t.Fatalf("shopify export: %d %s, want 422", rec.Code, rec.Body)
	}
	p := decodeProblem(t, rec)
	errs, _ := p["errors"].([]any)
	if len(errs) != 1 || errs[0].(map[string]any)["field"] != "format" ||
		!strings.Contains(fmt.Sprint(errs[0]), "JPY") || rec.Header().Get("Content-Disposition") != "" {
		t.Fatalf("refusal %v (Content-Disposition %q): want it to name JPY, and no file", p, rec.Header().Get("Content-Disposition"))
	}
	if csv := export(t, e, key, "csv").Body.String(); !strings.Contains(csv, "JPY") {
		t.Fatalf("csv export lost the currency:\n%s", csv)
	}
	if rec := send(t, e, key, "GET", "/v1/admin/exports?format=xml", ""); !strings.Contains(rec.Body.String(), "must be shopify, csv or ndjson") {
		t.Fatalf("format=xml: %d %s", rec.Code, rec.Body)
	}
}
