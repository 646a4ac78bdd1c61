package handlers_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/shelfcommerce/shelf/handlers"
	"github.com/shelfcommerce/shelf/internal/auth"
	"github.com/shelfcommerce/shelf/internal/dbtest"
)

// adminKey creates an API key with scopes and returns its secret.
func adminKey(t testing.TB, d *dbtest.DB, name string, scopes ...string) string {
	t.Helper()
	secret, _, err := auth.NewKeys(d.Store.Q).Create(context.Background(), name, scopes)
	if err != nil {
		t.Fatal(err)
	}
	return secret
}

type importReport struct {
	Created, Updated, Unchanged, Failed, Rows int
	DryRun                                    bool `json:"dry_run"`
	Complete                                  bool
	Errors                                    []struct {
		Line    int
		SKU     string
		Field   string
		Message string
	}
}

func postImport(t testing.TB, e http.Handler, key, query string, body []byte) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, "/v1/admin/imports?"+query, bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "text/csv")
	if strings.Contains(query, "format=ndjson") {
		req.Header.Set("Content-Type", "application/x-ndjson")
	}
	return do(e, req)
}

func runImport(t *testing.T, e http.Handler, key, query string, body []byte) importReport {
	t.Helper()
	rec := postImport(t, e, key, query, body)
	if rec.Code != http.StatusOK {
		t.Fatalf("import %s: %d %s", query, rec.Code, rec.Body)
	}
	var r importReport
	if err := json.Unmarshal(rec.Body.Bytes(), &r); err != nil {
		t.Fatal(err)
	}
	return r
}

// shopifyFile is one of the real Shopify exports kept as the importer's
// test data (public samples).
func shopifyFile(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "internal", "importer", "testdata", "shopify", name))
	if err != nil {
		t.Fatalf("fixture missing: %v", err)
	}
	return b
}

func count(t *testing.T, d *dbtest.DB, query string, args ...any) int {
	t.Helper()
	var n int
	if err := d.DB.QueryRow(query, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

type tableCounts struct{ products, variants, images, categories, listing, movements, attributes int }

func counts(t *testing.T, d *dbtest.DB) tableCounts {
	return tableCounts{
		products:   count(t, d, "SELECT COUNT(*) FROM products"),
		variants:   count(t, d, "SELECT COUNT(*) FROM variants"),
		images:     count(t, d, "SELECT COUNT(*) FROM product_images"),
		categories: count(t, d, "SELECT COUNT(*) FROM categories"),
		listing:    count(t, d, "SELECT COUNT(*) FROM product_listing"),
		movements:  count(t, d, "SELECT COUNT(*) FROM stock_movements"),
		attributes: count(t, d, "SELECT COUNT(*) FROM product_attributes"),
	}
}

func TestImportRealShopifyExports(t *testing.T) {
	t.Parallel()
	e, d, logs := newServer(t)
	key := adminKey(t, d, "importer", auth.ScopeImportsWrite, auth.ScopeInventoryWrite)

	// Shopify's template: an older column set, and SKU-less variants.
	tpl := shopifyFile(t, "shopify_product_template.csv")
	r := runImport(t, e, key, "format=shopify", tpl)
	if r.Created != 2 || r.Failed != 0 || len(r.Errors) != 0 || !r.Complete {
		t.Fatalf("template: %+v", r)
	}
	if got := count(t, d, "SELECT COUNT(*) FROM variants WHERE sku IS NULL"); got != 2 {
		t.Errorf("SKU-less variants = %d, want 2", got)
	}
	if got := count(t, d, "SELECT COUNT(*) FROM variants v JOIN products p ON p.id = v.product_id WHERE p.slug = 'example-t-shirt'"); got != 3 {
		t.Errorf("example-t-shirt has %d variants, want 3", got)
	}

	// Candles: the same SKU on two products is reported, naming both, and
	// the first product keeps it.
	candles := shopifyFile(t, "candles_products_export.csv")
	r = runImport(t, e, key, "format=shopify", candles)
	if r.Created != 9 || r.Failed != 3 || len(r.Errors) != 3 {
		t.Fatalf("candles: %+v", r)
	}
	for _, er := range r.Errors {
		if er.Field != "sku" || er.SKU == "" || er.Line == 0 {
			t.Errorf("candles error %+v", er)
		}
	}
	if er := r.Errors[0]; er.SKU != "PIN-SMA" || !strings.Contains(er.Message, "rose-pedals-blist") || !strings.Contains(er.Message, "pumpkin-spice-candle") {
		t.Errorf("first conflict %+v: want PIN-SMA naming rose-pedals-blist and pumpkin-spice-candle", er)
	}
	if got := count(t, d, "SELECT COUNT(*) FROM products WHERE slug = 'pumpkin-spice-candle'"); got != 0 {
		t.Errorf("pumpkin-spice-candle was written without its only variant")
	}

	// Pet store: taxonomy paths become categories, image-only rows images.
	pets := shopifyFile(t, "pet-store_products_export.csv")
	r = runImport(t, e, key, "format=shopify", pets)
	if r.Created != 3 || r.Failed != 0 || len(r.Errors) != 0 {
		t.Fatalf("pet store: %+v", r)
	}
	before := counts(t, d)
	want := tableCounts{products: 2 + 9 + 3, variants: 4 + 9 + 16, images: 2 + 9 + 27, categories: 5}
	if before.products != want.products || before.variants != want.variants || before.images != want.images || before.categories != want.categories {
		t.Errorf("counts %+v; want %+v", before, want)
	}
	var path string
	if err := d.DB.QueryRow(`SELECT GROUP_CONCAT(c.slug ORDER BY c.depth SEPARATOR '/') FROM categories c`).Scan(&path); err != nil {
		t.Fatal(err)
	}
	if path != "animals-pet-supplies/pet-supplies/cat-supplies/cat-toys/stuffed-toys-plushies" {
		t.Errorf("category path %q", path)
	}
	// The bird is listed in its category and every ancestor (and the root).
	if got := count(t, d, `SELECT COUNT(*) FROM product_listing l JOIN products p ON p.id = l.product_id
		WHERE p.slug LIKE 'hot-simulated-bird%'`); got != 6 {
		t.Errorf("bird has %d listing rows, want 6", got)
	}
	if got := count(t, d, "SELECT product_count FROM categories WHERE slug = 'animals-pet-supplies'"); got != 1 {
		t.Errorf("top category product_count = %d, want 1", got)
	}
	if got := count(t, d, "SELECT COUNT(*) FROM product_attributes WHERE name = 'color'"); got == 0 {
		t.Error("no color attribute from the Color option")
	}
	if got := count(t, d, "SELECT COUNT(*) FROM stock_movements WHERE reason = 'import' AND actor = 'api key importer'"); got == 0 {
		t.Error("imported stock left no ledger rows")
	}

	// Re-running each file changes nothing: no version moves.
	versions := count(t, d, "SELECT CAST(SUM(version) AS SIGNED) FROM products")
	for _, f := range [][]byte{tpl, candles, pets} {
		r := runImport(t, e, key, "format=shopify", f)
		if r.Created+r.Updated != 0 || r.Unchanged == 0 {
			t.Errorf("re-run: %+v", r)
		}
	}
	if after := counts(t, d); after != before {
		t.Errorf("re-run changed counts: %+v -> %+v", before, after)
	}
	if got := count(t, d, "SELECT CAST(SUM(version) AS SIGNED) FROM products"); got != versions {
		t.Errorf("re-run moved versions: %d -> %d", versions, got)
	}
	if !strings.Contains(logs.String(), `"api_key":"importer"`) {
		t.Error("the import was not logged with the key's name")
	}
}

func TestImportUnpublishedShopifyProductsAreDrafts(t *testing.T) {
	t.Parallel()
	e, d, _ := newServer(t)
	key := adminKey(t, d, "importer", auth.ScopeImportsWrite, auth.ScopeInventoryWrite)
	tpl := string(shopifyFile(t, "shopify_product_template.csv"))
	draft := strings.Replace(tpl, "mens t-shirt,true,Title", "mens t-shirt,false,Title", 1)
	if draft == tpl {
		t.Fatal("template changed: no Published column to flip")
	}
	r := runImport(t, e, key, "format=shopify", []byte(draft))
	if r.Created != 2 {
		t.Fatalf("%+v", r)
	}
	if got := count(t, d, "SELECT COUNT(*) FROM products WHERE slug = 'black-t-shirt-os' AND status = 'draft'"); got != 1 {
		t.Error("Published=false did not give a draft")
	}
	if got := count(t, d, "SELECT COUNT(*) FROM product_listing l JOIN products p ON p.id = l.product_id WHERE p.slug = 'black-t-shirt-os'"); got != 0 {
		t.Error("a draft is listed on the storefront")
	}
	// Publishing it is an update that lists it.
	r = runImport(t, e, key, "format=shopify", []byte(tpl))
	if r.Updated != 1 || r.Unchanged != 1 {
		t.Fatalf("%+v", r)
	}
	if got := count(t, d, "SELECT COUNT(*) FROM product_listing l JOIN products p ON p.id = l.product_id WHERE p.slug = 'black-t-shirt-os'"); got != 1 {
		t.Error("the published product is not listed")
	}
}

func TestImportUpdatesChangedProductsOnly(t *testing.T) {
	t.Parallel()
	e, d, _ := newServer(t)
	key := adminKey(t, d, "importer", auth.ScopeImportsWrite, auth.ScopeInventoryWrite)
	file := "handle,title,sku,price,stock,option1_name,option1_value,category\n" +
		"tee,Tee,TEE-S,19.99,5,Size,S,Apparel > Shirts\n" +
		"tee,,TEE-M,19.99,5,,M,\n" +
		"mug,Mug,MUG,9.50,,,,Kitchen\n"
	r := runImport(t, e, key, "format=csv", []byte(file))
	if r.Created != 2 || r.Rows != 3 {
		t.Fatalf("%+v", r)
	}
	teeVersion := count(t, d, "SELECT version FROM products WHERE slug = 'tee'")
	mugVersion := count(t, d, "SELECT version FROM products WHERE slug = 'mug'")
	variantIDs := count(t, d, "SELECT CAST(SUM(id) AS SIGNED) FROM variants")

	changed := strings.Replace(file, "TEE-M,19.99,5", "TEE-M,21.00,3", 1)
	r = runImport(t, e, key, "format=csv", []byte(changed))
	if r.Updated != 1 || r.Unchanged != 1 {
		t.Fatalf("%+v", r)
	}
	if got := count(t, d, "SELECT version FROM products WHERE slug = 'tee'"); got != teeVersion+1 {
		t.Errorf("tee version %d, want %d", got, teeVersion+1)
	}
	if got := count(t, d, "SELECT version FROM products WHERE slug = 'mug'"); got != mugVersion {
		t.Errorf("unchanged mug's version moved")
	}
	if got := count(t, d, "SELECT CAST(SUM(id) AS SIGNED) FROM variants"); got != variantIDs {
		t.Errorf("variants were re-created instead of updated")
	}
	if got := count(t, d, "SELECT price FROM variants WHERE sku = 'TEE-M'"); got != 2100 {
		t.Errorf("price = %d", got)
	}
	if got := count(t, d, "SELECT price_min FROM product_listing WHERE category_id = 0 AND product_id = (SELECT id FROM products WHERE slug='tee')"); got != 1999 {
		t.Errorf("listing price_min = %d", got)
	}
	if got := count(t, d, "SELECT delta FROM stock_movements WHERE sku = 'TEE-M' ORDER BY id DESC LIMIT 1"); got != -2 {
		t.Errorf("ledger delta = %d, want -2", got)
	}
	// A variant dropped from the file is hidden, not deleted.
	dropped := strings.Replace(changed, "tee,,TEE-M,21.00,3,,M,\n", "", 1)
	r = runImport(t, e, key, "format=csv", []byte(dropped))
	if r.Updated != 1 {
		t.Fatalf("%+v", r)
	}
	if got := count(t, d, "SELECT COUNT(*) FROM variants WHERE sku = 'TEE-M' AND NOT active"); got != 1 {
		t.Errorf("TEE-M not hidden")
	}
}

func TestImportDryRunWritesNothingAndReportsTheRealRun(t *testing.T) {
	t.Parallel()
	e, d, _ := newServer(t)
	key := adminKey(t, d, "importer", auth.ScopeImportsWrite, auth.ScopeInventoryWrite)
	candles := shopifyFile(t, "candles_products_export.csv")
	empty := counts(t, d)
	dry := runImport(t, e, key, "format=shopify&dry_run=true", candles)
	if got := counts(t, d); got != empty {
		t.Fatalf("dry run wrote: %+v", got)
	}
	real := runImport(t, e, key, "format=shopify", candles)
	dry.DryRun = false
	dj, _ := json.Marshal(dry)
	rj, _ := json.Marshal(real)
	if string(dj) != string(rj) {
		t.Errorf("dry run reported\n%s\nreal run\n%s", dj, rj)
	}
}

func TestImportRefusesBadRequestsBeforeWriting(t *testing.T) {
	t.Parallel()
	e, d, _ := newServer(t, func(c *handlers.Config) { c.ImportBodyLimit = 200 })
	key := adminKey(t, d, "importer", auth.ScopeImportsWrite, auth.ScopeInventoryWrite)
	for _, tc := range []struct {
		name, query, body string
		status            int
	}{
		{"missing column", "format=shopify", "Handle,Title\nx,X\n", 400},
		{"no format", "", "handle,title,sku,price\n", 400},
		{"bad format", "format=xml", "", 400},
		{"unknown parameter", "format=csv&dryrun=1", "", 400},
		{"too large", "format=csv", "handle,title,sku,price\n" + strings.Repeat("a,A,SKU,1\n", 40), 413},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := postImport(t, e, key, tc.query, []byte(tc.body))
			if rec.Code != tc.status {
				t.Fatalf("status %d, want %d: %s", rec.Code, tc.status, rec.Body)
			}
			decodeProblem(t, rec)
		})
	}
	// A chunked body over the limit is imported in one transaction that
	// never commits: nothing of it is written.
	body := "handle,title,sku,price\n"
	for i := range 30 {
		body += "p" + string(rune('a'+i%26)) + strings.Repeat("x", i/26) + ",P,S" + string(rune('a'+i%26)) + strings.Repeat("x", i/26) + ",1\n"
	}
	req := httptest.NewRequest(http.MethodPost, "/v1/admin/imports?format=csv", io.MultiReader(strings.NewReader(body)))
	req.ContentLength = -1
	req.Header.Set("Authorization", "Bearer "+key)
	rec := do(e, req)
	if rec.Code != http.StatusRequestEntityTooLarge {
		t.Fatalf("chunked over the limit: %d %s", rec.Code, rec.Body)
	}
	if got := count(t, d, "SELECT COUNT(*) FROM products"); got != 0 {
		t.Errorf("%d products written by refused requests", got)
	}
}

func TestImportNeedsAKeyWithTheScope(t *testing.T) {
	t.Parallel()
	e, d, _ := newServer(t)
	wrong := adminKey(t, d, "catalog-only", auth.ScopeCatalogWrite)
	for _, tc := range []struct {
		auth   string
		status int
	}{
		{"", 401},
		{"Bearer shelf_notakey", 401},
		{"Bearer " + wrong, 403},
	} {
		req := httptest.NewRequest(http.MethodPost, "/v1/admin/imports?format=csv", strings.NewReader("handle,title,sku,price\na,A,S,1\n"))
		if tc.auth != "" {
			req.Header.Set("Authorization", tc.auth)
		}
		if rec := do(e, req); rec.Code != tc.status {
			t.Errorf("%q: %d, want %d", tc.auth, rec.Code, tc.status)
		}
	}
	if got := count(t, d, "SELECT COUNT(*) FROM products"); got != 0 {
		t.Errorf("unauthorised imports wrote %d products", got)
	}
}

// TestMalformedImportsNeverFail500 sends broken files of every format
// through the endpoint: each gets a report or a 4xx problem, never a 500.
func TestMalformedImportsNeverFail500(t *testing.T) {
	t.Parallel()
	e, d, _ := newServer(t)
	key := adminKey(t, d, "importer", auth.ScopeImportsWrite, auth.ScopeInventoryWrite)
	long := strings.Repeat("x", 300)
	cases := map[string][]string{
		"shopify": {
			"", "\xef\xbb\xbf", "Handle\n", "Handle,Title,Variant Price\n,,\n",
			"Handle,Title,Variant Price\n\"unterminated,T,1\n",
			"Handle,Title,Variant Price,Variant SKU\nA,T,1,S\na,T,abc,S\n",
			"Handle,Title,Variant Price,Variant Inventory Qty\nx,T,-1,-5\n",
			"Handle,Title,Variant Price,Option1 Name,Option1 Value\nx," + long + ",1,Size,S\nx,,2,,S\n",
			"Handle,Title,Variant Price,Vendor\nx,T,1," + long + "\n",
			"Handle,Title,Variant Price,Variant SKU\nx,T,99999999999999999999,S\n",
			"Handle,Title,Variant Price,Option1 Name,Option1 Value\nx,T,1,Größe,XL\n",
			"Handle,Title,Variant Price\nx,\xff\xfe,1\n",
		},
		"csv": {
			"handle,title,sku,price\n", "handle,title,sku,price\na,A,,1\n",
			"handle,title,sku,price,attributes\na,A,S,1,=|" + long + "=x\n",
			"handle,title,sku,price,image_urls\na,A,S,1," + strings.Repeat("h", 3000) + "\n",
			"handle,title,sku,price,currency\na,A,S,1,XXX\n",
			"handle,title,sku,price\na,A," + strings.Repeat("K", 200) + ",1\n",
		},
		"ndjson": {
			"{", "[]", "null\n", `{"handle":"a"}`, `{"handle":"a","title":"A","variants":[{"price":1}]}`,
			`{"handle":"a","title":"A","variants":[{"price":"1","stock":"x"}]}`,
			`{"handle":"a","title":"A","variants":[{"price":"1"}],"attributes":{"` + long + `":["x"]}}`,
		},
	}
	for format, bodies := range cases {
		for i, body := range bodies {
			rec := postImport(t, e, key, "format="+format, []byte(body))
			if rec.Code >= 500 {
				t.Errorf("%s #%d: %d %s", format, i, rec.Code, rec.Body)
			}
		}
	}
}

var _ = echo.New

func TestImportMatchesSKULessVariantsByOptions(t *testing.T) {
	t.Parallel()
	e, d, _ := newServer(t)
	key := adminKey(t, d, "importer", auth.ScopeImportsWrite, auth.ScopeInventoryWrite)
	line := func(s, m string) []byte {
		return []byte(`{"handle":"cap","title":"Cap","variants":[{` + s + `"price":"5","stock":2,"options":{"Size":"S"}},{` + m + `"price":"5","stock":3,"options":{"Size":"M"}}]}` + "\n")
	}
	if r := runImport(t, e, key, "format=ndjson", line("", "")); r.Created != 1 {
		t.Fatalf("%+v", r)
	}
	ids := count(t, d, "SELECT CAST(SUM(id) AS SIGNED) FROM variants")
	// Reordered and one price changed: still the same two variants.
	swapped := []byte(`{"handle":"cap","title":"Cap","variants":[{"price":"5","stock":3,"options":{"Size":"M"}},{"price":"6","stock":2,"options":{"Size":"S"}}]}` + "\n")
	if r := runImport(t, e, key, "format=ndjson", swapped); r.Updated != 1 {
		t.Fatalf("%+v", r)
	}
	// The file gains SKUs: the variants keep their ids and stock.
	if r := runImport(t, e, key, "format=ndjson", line(`"sku":"CAP-S",`, `"sku":"CAP-M",`)); r.Updated != 1 {
		t.Fatalf("%+v", r)
	}
	if got := count(t, d, "SELECT CAST(SUM(id) AS SIGNED) FROM variants"); got != ids {
		t.Error("variants were re-created instead of matched by options")
	}
	if got := count(t, d, "SELECT COUNT(*) FROM variants WHERE sku IN ('CAP-S','CAP-M') AND active"); got != 2 {
		t.Errorf("%d variants got their SKU", got)
	}
	if got := count(t, d, "SELECT on_hand FROM inventory i JOIN variants v ON v.id = i.variant_id WHERE v.sku = 'CAP-M'"); got != 3 {
		t.Errorf("CAP-M on hand %d", got)
	}
}

// A re-import whose row for a stored variant is refused leaves that
// variant as it was (a row is written whole or not at all), and still
// writes the product's good rows.
func TestARefusedRowKeepsItsStoredVariant(t *testing.T) {
	t.Parallel()
	e, d, _ := newServer(t, func(c *handlers.Config) { c.BodyLimit = 1 << 20 })
	key := adminKey(t, d, "sync", auth.ScopeCatalogWrite, auth.ScopeImportsWrite, auth.ScopeInventoryWrite)
	file := func(priceM string) []byte {
		return []byte(`{"handle":"tee","title":"Tee","variants":[` +
			`{"sku":"RT-S","price":"10.00","options":{"Size":"S"},"on_hand":5},` +
			`{"sku":"RT-M","price":` + priceM + `,"options":{"Size":"M"},"on_hand":7}]}` + "\n")
	}
	if r := runImport(t, e, key, "format=ndjson", file(`"10.00"`)); r.Created != 1 {
		t.Fatalf("first import: %+v", r)
	}
	r := runImport(t, e, key, "format=ndjson", []byte(strings.Replace(string(file(`"1,50"`)), `"price":"10.00"`, `"price":"12.00"`, 1)))
	if len(r.Errors) != 1 || r.Errors[0].SKU != "RT-M" || r.Errors[0].Field != "price" {
		t.Fatalf("re-import with a bad price for RT-M: %+v, want one error naming RT-M's price", r)
	}
	var p adminProduct
	rec := send(t, e, key, "GET", "/v1/admin/products/tee", "")
	if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil || rec.Code != 200 {
		t.Fatalf("GET: %d %s", rec.Code, rec.Body)
	}
	prices := map[string]string{}
	for _, v := range p.Variants {
		if v.SKU != nil { // the admin view lists the active variants
			prices[*v.SKU] = v.Price.Amount
		}
	}
	if prices["RT-S"] != "12.00" || prices["RT-M"] != "10.00" {
		t.Errorf("active variants and prices %v, want RT-S at 12.00 (its good row written) and RT-M kept at 10.00", prices)
	}
	// A file that moves the product to another currency does not keep a
	// stored variant of the old one: a product has one currency.
	eur := `{"handle":"tee","title":"Tee","variants":[` +
		`{"sku":"RT-S","price":"11.00","currency":"EUR","options":{"Size":"S"},"on_hand":5},` +
		`{"sku":"RT-M","price":"1,50","currency":"EUR","options":{"Size":"M"},"on_hand":7}]}` + "\n"
	if r := runImport(t, e, key, "format=ndjson", []byte(eur)); len(r.Errors) != 1 {
		t.Fatalf("re-import in EUR with a bad RT-M: %+v", r)
	}
	rec = send(t, e, key, "GET", "/v1/admin/products/tee", "")
	p = adminProduct{}
	if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil || rec.Code != 200 {
		t.Fatalf("GET: %d %s", rec.Code, rec.Body)
	}
	for _, v := range p.Variants {
		if v.Price.Currency != "EUR" {
			t.Errorf("variant %s in %s is still listed on a product now in EUR", *v.SKU, v.Price.Currency)
		}
	}
}
