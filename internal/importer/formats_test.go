package importer

import (
	"errors"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/shelfcommerce/shelf/internal/catalog"
)

func TestOwnCSVExample(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("testdata/example.csv")
	if err != nil {
		t.Fatal(err)
	}
	res := readAll(t, "csv", string(b))
	if len(res.errs) != 0 {
		t.Fatalf("errors: %v", res.errs)
	}
	if !slices.Equal(res.handles(), []string{"organic-cotton-tee", "ceramic-mug", "gift-card"}) {
		t.Fatalf("handles = %q", res.handles())
	}
	tee, mug, gift := res.products[0], res.products[1], res.products[2]
	if tee.DescriptionHTML != "<p>Soft, \"heavyweight\" organic cotton.</p>\n<p>Made in Portugal.</p>" ||
		!slices.Equal(tee.CategoryPath, []string{"Apparel & Accessories", "Clothing", "Shirts & Tops"}) ||
		!slices.Equal(tee.OptionNames, []string{"Size", "Colour"}) || tee.Brand != "Acme" || tee.Status != "active" {
		t.Errorf("tee = %+v", tee)
	}
	want := []catalog.VariantInput{
		{Line: 2, SKU: "TEE-S-RED", Options: []string{"S", "Red"}, Price: 1999, CompareAtPrice: ptr(2500), Currency: "USD", InventoryQty: ptr(10)},
		{Line: 4, SKU: "TEE-M-RED", Options: []string{"M", "Red"}, Price: 1999, CompareAtPrice: ptr(2500), Currency: "USD", InventoryQty: ptr(4)},
		{Line: 5, SKU: "TEE-M-BLUE", Options: []string{"M", "Blue"}, Price: 2150, Currency: "USD"},
	}
	if !reflect.DeepEqual(tee.Variants, want) {
		t.Errorf("tee variants:\n got %+v\nwant %+v", tee.Variants, want)
	}
	wantAttrs := map[string][]string{"color": {"Blue", "Red"}, "size": {"M", "S"}, "material": {"cotton", "organic cotton"}, "fit": {"regular"}}
	if !reflect.DeepEqual(tee.Attributes, wantAttrs) {
		t.Errorf("tee attributes = %q", tee.Attributes)
	}
	if len(tee.Images) != 3 || tee.Images[2] != (catalog.ImageInput{Src: "https://cdn.example.com/tee-blue.jpg", Position: 3}) {
		t.Errorf("tee images = %+v", tee.Images)
	}
	if mug.Title != "Ceramic Mug ☕" || mug.Status != "draft" || mug.Variants[0].Currency != "EUR" || mug.Variants[0].Price != 1200 ||
		*mug.Variants[0].InventoryQty != 0 || mug.OptionNames != nil || mug.Variants[0].Options != nil || mug.Line != 6 {
		t.Errorf("mug = %+v", mug)
	}
	if gift.Status != "archived" || gift.Variants[0].Options[0] != "50" {
		t.Errorf("gift = %+v", gift)
	}
}

const ownHeader = "handle,title,sku,price,compare_at_price,currency,stock,option1_name,option1_value,attributes,status\n"

func TestOwnCSVRows(t *testing.T) {
	t.Parallel()
	res := readAll(t, "csv", ownHeader+
		"Tee,Tee,T1,1,,,,,,,\n"+ // handles are not lower-cased in the own format
		"mug,Mug,M1,1,,,,Size,S,,\n"+
		"mug,,,1,,,,,M,,\n"+
		"mug,,M3,1,,XYZ,,,L,,\n"+
		"mug,,M4,1,,,,Colour,XL,,\n"+
		"mug,,M5,1,,JPY,,,XXL,,\n"+
		"mug,,M6,1.5,,JPY,,,3XL,,\n"+
		"mug,,M7,1,,,,,4XL,color,\n"+
		"mug,,M8,1,0,,,,5XL,color=red|=x,\n"+
		"bowl,Bowl,B1,1,,,,,,,sold\n")
	if !slices.Equal(res.handles(), []string{"mug"}) || len(res.errs) != 2 {
		t.Fatalf("got %q, errs %v", res.handles(), res.errs)
	}
	if e := rowErrors(t, res.errs[0]); !hasRowError(e, "handle", "a-z") {
		t.Errorf("Tee: %v", e)
	}
	if e := rowErrors(t, res.errs[1]); !hasRowError(e, "status", "active, draft or archived") {
		t.Errorf("bowl: %v", e)
	}
	p := res.products[0]
	// The SKU-less row is a variant (matched by its options on re-import).
	if len(p.Variants) != 3 || p.Variants[1].SKU != "" || p.Variants[1].Options[0] != "M" ||
		p.Variants[2].SKU != "M5" || p.Variants[2].Currency != "JPY" || p.Variants[2].Price != 1 {
		t.Errorf("variants = %+v", p.Variants)
	}
	for _, w := range []struct{ field, msg string }{
		{"currency", "ISO-4217"},
		{"option1_name", `differs from the product's first row ("Size")`},
		{"price", "whole number"},
		{"attributes", "color=red"},
	} {
		if !hasRowError(p.Errors, w.field, w.msg) {
			t.Errorf("missing %s error %q in %+v", w.field, w.msg, p.Errors)
		}
	}
	if len(p.Errors) != 5 {
		t.Errorf("%d errors: %+v", len(p.Errors), p.Errors)
	}

	res = readAll(t, "csv", "handle,title,price\na,A,1\n")
	var fe *catalog.FileError
	if len(res.errs) != 1 || !errors.As(res.errs[0], &fe) || !strings.Contains(fe.Message, `"sku"`) {
		t.Errorf("missing sku column: %v", res.errs)
	}
}

func TestNDJSON(t *testing.T) {
	t.Parallel()
	long := `{"handle":"big","title":"` + strings.Repeat("x", MaxLineBytes) + `"}`
	input := "\ufeff" + `{"handle":"tee","title":"Tee ✓","description":"<p>hi</p>","brand":"Acme","status":"Draft","type":"Shirts","category":"Apparel > Shirts","tags":["a","b","a"],"attributes":{"Material":["cotton","cotton"],"fit":"slim"},"images":[{"src":"https://x/1.jpg","alt":"front"},{"src":"https://x/2.jpg"}],"variants":[{"sku":"T-M-R","price":"19.99","compare_at_price":"25.00","currency":"usd","stock":10,"options":{"Size":"M","Colour":"Red"}},{"sku":"T-L-R","price":"21","options":{"Colour":"Red","Size":"L"},"unknown":true}],"extra":{"ignored":[1,2]}}` + "\r\n" +
		"\n" +
		`{"handle":"num","title":"Num","variants":[{"sku":"N","price":19.99}]}` + "\n" +
		`{"handle":"mixed","title":"Mixed","variants":[{"sku":"A","price":"1","options":{"Size":"S"}},{"sku":"B","price":"1","options":{"Size":"M","Fit":"x"}},{"sku":"C","price":"1","stock":"3","options":{"Size":"L"}},{"sku":"D","price":"1","stock":-1,"options":{"Size":"XL"}},{"sku":"E","price":"1","stock":1.5,"options":{"Size":"XXL"}},{"sku":"F","price":"1.001","options":{"Size":"3XL"}},{"sku":"G","price":"1","currency":"XXX","options":{"Size":"4XL"}},{"sku":"H","options":{"Size":"5XL"}},{"sku":"I","price":"1","options":{"Size":7}}]}` + "\n" +
		`{"handle":"broken",` + "\n" +
		long + "\n" +
		`{"handle":"tee","title":"Again","variants":[{"price":"1"}]}` + "\n" +
		`{"handle":"no-variants","title":"None"}` + "\n" +
		`{"handle":"typed","title":5,"variants":[{"price":"1"}]}` + "\n" +
		`[1]` + "\n" +
		`{"handle":"last","title":"Last","variants":[{"price":"0"}]}`
	res := readAll(t, "ndjson", input)
	if !slices.Equal(res.handles(), []string{"tee", "mixed", "last"}) {
		t.Fatalf("handles = %q; errs %v", res.handles(), res.errs)
	}
	tee := res.products[0]
	wantVariants := []catalog.VariantInput{
		{Line: 1, SKU: "T-M-R", Options: []string{"M", "Red"}, Price: 1999, CompareAtPrice: ptr(2500), Currency: "USD", InventoryQty: ptr(10)},
		{Line: 1, SKU: "T-L-R", Options: []string{"L", "Red"}, Price: 2100, Currency: "USD"},
	}
	if !reflect.DeepEqual(tee.Variants, wantVariants) || !slices.Equal(tee.OptionNames, []string{"Size", "Colour"}) {
		t.Errorf("tee variants = %+v, options %q", tee.Variants, tee.OptionNames)
	}
	wantAttrs := map[string][]string{"material": {"cotton"}, "fit": {"slim"}, "size": {"L", "M"}, "color": {"Red"}}
	if !reflect.DeepEqual(tee.Attributes, wantAttrs) {
		t.Errorf("attributes = %q", tee.Attributes)
	}
	if tee.Status != "draft" || tee.Title != "Tee ✓" || !slices.Equal(tee.Tags, []string{"a", "b"}) || !slices.Equal(tee.CategoryPath, []string{"Apparel", "Shirts"}) ||
		len(tee.Images) != 2 || tee.Images[1].Position != 2 || tee.Brand != "Acme" || tee.ProductType != "Shirts" {
		t.Errorf("tee = %+v", tee)
	}
	mixed := res.products[1]
	if len(mixed.Variants) != 1 || mixed.Line != 4 {
		t.Errorf("mixed variants = %+v", mixed.Variants)
	}
	for _, w := range []struct {
		sku, field, msg string
		variant         int
	}{
		{"B", "options", `"Fit"`, 2},
		{"C", "stock", "JSON number", 3},
		{"D", "stock", "negative", 4},
		{"E", "stock", "whole number", 5},
		{"F", "price", "2 decimal places", 6},
		{"G", "currency", "ISO-4217", 7},
		{"H", "price", "is required", 8},
		{"I", "options", "must be a string", 9},
	} {
		found := false
		for _, e := range mixed.Errors {
			found = found || (e.SKU == w.sku && e.Field == w.field && strings.Contains(e.Message, w.msg) && e.Variant == w.variant && e.Line == 4)
		}
		if !found {
			t.Errorf("no error %+v in %+v", w, mixed.Errors)
		}
	}
	wantErrs := []struct {
		line        int
		field, part string
	}{
		{3, "price", "decimal string"},
		{5, "", "not valid JSON"},
		{6, "", "longer than 1 MiB"},
		{7, "handle", "already appeared at line 1"},
		{8, "variants", "at least one"},
		{9, "title", "must not be a JSON number"},
		{10, "", "must be a JSON object"},
	}
	if len(res.errs) != len(wantErrs) {
		t.Fatalf("errs = %v", res.errs)
	}
	for i, w := range wantErrs {
		e := rowErrors(t, res.errs[i])
		if e[0].Line != w.line || !hasRowError(e, w.field, w.part) {
			t.Errorf("error %d = %+v; want line %d %s %q", i, e, w.line, w.field, w.part)
		}
	}
	if last := res.products[2]; last.Line != 11 || last.Variants[0].Price != 0 {
		t.Errorf("last = %+v", last)
	}
}

func TestNDJSONDuplicateVariants(t *testing.T) {
	t.Parallel()
	res := readAll(t, "ndjson", `{"handle":"a","title":"A","variants":[{"sku":"X","price":"1","options":{"Size":"S"}},{"sku":"X","price":"1","options":{"Size":"M"}},{"sku":"Y","price":"1","options":{"Size":"S"}}]}`)
	if len(res.products) != 1 {
		t.Fatalf("errs %v", res.errs)
	}
	want := []catalog.RowError{
		{Line: 1, SKU: "X", Field: "sku", Message: "is already used by an earlier variant of this product", Variant: 2},
		{Line: 1, SKU: "Y", Field: "option1_value", Message: `repeats the options "S" of an earlier variant`, Variant: 3},
	}
	if got := res.products[0].Errors; !reflect.DeepEqual(got, want) {
		t.Errorf("errors:\n got %+v\nwant %+v", got, want)
	}
	if got := want[0].Error(); got != `line 1 (SKU "X") variant 2: sku is already used by an earlier variant of this product` {
		t.Errorf("Error() = %q", got)
	}
}
