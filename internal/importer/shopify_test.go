package importer

import (
	"errors"
	"io"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/shelfcommerce/shelf/internal/catalog"
)

func TestShopifyTemplate(t *testing.T) {
	t.Parallel()
	res := readAll(t, "shopify", string(readShopifyFile(t, "shopify_product_template.csv")))
	if len(res.errs) != 0 {
		t.Fatalf("errors: %v", res.errs)
	}
	if got, want := res.handles(), []string{"black-t-shirt-os", "example-t-shirt"}; !slices.Equal(got, want) {
		t.Fatalf("handles = %q; want %q", got, want)
	}
	os, ex := res.products[0], res.products[1]
	// Default Title: no options; the only variant has no SKU and is kept.
	if len(os.OptionNames) != 0 || len(os.Variants) != 1 || os.Variants[0].SKU != "" ||
		os.Variants[0].Options != nil || os.Variants[0].Price != 1999 || *os.Variants[0].InventoryQty != 1 {
		t.Errorf("black-t-shirt-os = %+v", os)
	}
	if os.Brand != "Acme" || os.ProductType != "Shirts" || !slices.Equal(os.Tags, []string{"mens t-shirt"}) ||
		os.Status != "active" || os.DescriptionHTML != "<p>Product Description Goes Here</p>" || os.Line != 2 {
		t.Errorf("black-t-shirt-os fields = %+v", os)
	}
	if len(os.Images) != 1 || os.Images[0].Alt != "A black t-shirt with the shopify logo" || os.Images[0].Position != 1 {
		t.Errorf("images = %+v", os.Images)
	}
	if !slices.Equal(ex.OptionNames, []string{"Size"}) || len(ex.Variants) != 3 {
		t.Fatalf("example-t-shirt = %+v", ex)
	}
	// "" inside a quoted cell is one quote; "25" (no decimals) is 25.00.
	v0 := ex.Variants[0]
	if v0.Options[0] != `Lithograph - Height: 9" x Width: 12"` || v0.Price != 2500 || v0.SKU != "" || v0.CompareAtPrice != nil || v0.Line != 3 {
		t.Errorf("first variant = %+v", v0)
	}
	v1 := ex.Variants[1]
	if v1.SKU != "example-shirt-s" || v1.Options[0] != "Small" || v1.Price != 1999 || *v1.CompareAtPrice != 2499 || v1.Line != 4 || v1.Currency != "USD" {
		t.Errorf("second variant = %+v", v1)
	}
	if got := ex.Attributes["size"]; !slices.Equal(got, []string{`Lithograph - Height: 9" x Width: 12"`, "Medium", "Small"}) {
		t.Errorf("size attribute = %q", got)
	}
}

func TestShopifyCandles(t *testing.T) {
	t.Parallel()
	res := readAll(t, "shopify", string(readShopifyFile(t, "candles_products_export.csv")))
	if len(res.errs) != 0 {
		t.Fatalf("errors: %v", res.errs)
	}
	if len(res.products) != 12 {
		t.Fatalf("%d products; want 12", len(res.products))
	}
	bySKU := map[string][]string{}
	for _, p := range res.products {
		if len(p.Variants) != 1 || len(p.OptionNames) != 0 || p.Variants[0].Options != nil || len(p.Images) != 1 {
			t.Errorf("%s: %d variants, options %q, %d images", p.Handle, len(p.Variants), p.OptionNames, len(p.Images))
		}
		if p.Variants[0].InventoryQty == nil {
			t.Errorf("%s: stock not read", p.Handle)
		}
		bySKU[p.Variants[0].SKU] = append(bySKU[p.Variants[0].SKU], p.Handle)
	}
	// The same SKU on two products is a database conflict: both must reach the writer.
	for sku, want := range map[string][]string{
		"PIN-SMA": {"rose-pedals-blist", "pumpkin-spice-candle"},
		"WHT-SMA": {"peony-george-edi", "velvetwoods-yankee"},
		"BLK-SMA": {"rituals-candle", "black-magic"},
	} {
		if !slices.Equal(bySKU[sku], want) {
			t.Errorf("SKU %s on %q; want %q", sku, bySKU[sku], want)
		}
	}
	// Multi-line HTML stays intact and line numbers count its physical lines.
	g := res.products[0]
	if g.Handle != "garden-scent-beekman" || !strings.Contains(g.DescriptionHTML, "\n<p><span>") ||
		!strings.HasPrefix(g.DescriptionHTML, `<meta charset="utf-8">`) || g.Variants[0].Price != 1300 || *g.Variants[0].InventoryQty != 75 {
		t.Errorf("garden-scent-beekman = %+v", g)
	}
	if res.products[1].Line != 6 || res.products[11].Line != 25 {
		t.Errorf("lines = %d, %d; want 6, 25", res.products[1].Line, res.products[11].Line)
	}
}

func TestShopifyPetStore(t *testing.T) {
	t.Parallel()
	res := readAll(t, "shopify", string(readShopifyFile(t, "pet-store_products_export.csv")))
	if len(res.errs) != 0 {
		t.Fatalf("errors: %v", res.errs)
	}
	if len(res.products) != 3 {
		t.Fatalf("%d products; want 3", len(res.products))
	}
	bird, bottle, bed := res.products[0], res.products[1], res.products[2]
	for _, c := range []struct {
		p        *catalog.ProductInput
		variants int
		options  []string
	}{{bird, 1, []string{"Color"}}, {bottle, 6, []string{"Color", "Size"}}, {bed, 9, []string{"Color", "Size"}}} {
		if len(c.p.Variants) != c.variants || !slices.Equal(c.p.OptionNames, c.options) {
			t.Errorf("%s: %d variants, options %q; want %d, %q", c.p.Handle, len(c.p.Variants), c.p.OptionNames, c.variants, c.options)
		}
		// Image-only continuation rows are attached to the product.
		if len(c.p.Images) != 9 {
			t.Errorf("%s: %d images; want 9", c.p.Handle, len(c.p.Images))
		}
		for i, im := range c.p.Images {
			if im.Position != i+1 {
				t.Errorf("%s: image %d has position %d", c.p.Handle, i, im.Position)
			}
		}
		for _, v := range c.p.Variants {
			// No inventory column: stock must be left alone. "0.00" compare-at means none.
			if v.InventoryQty != nil || v.CompareAtPrice != nil || v.SKU == "" {
				t.Errorf("%s line %d: stock %v, compare-at %v, SKU %q", c.p.Handle, v.Line, v.InventoryQty, v.CompareAtPrice, v.SKU)
			}
		}
		if c.p.Status != "active" || c.p.Brand == "" {
			t.Errorf("%s: status %q brand %q", c.p.Handle, c.p.Status, c.p.Brand)
		}
	}
	if want := []string{"Animals & Pet Supplies", "Pet Supplies", "Cat Supplies", "Cat Toys", "Stuffed Toys & Plushies"}; !slices.Equal(bird.CategoryPath, want) {
		t.Errorf("bird category = %q; want %q", bird.CategoryPath, want)
	}
	if bed.CategoryPath != nil {
		t.Errorf(`"Uncategorized" gave category %q; want none`, bed.CategoryPath)
	}
	if bird.Title != "Royal Flapping Bird™ — Interactive Cat Toy" || !strings.Contains(bird.DescriptionHTML, "🐦") ||
		!strings.Contains(bed.DescriptionHTML, "⭐⭐⭐⭐⭐") {
		t.Errorf("non-ASCII text damaged: %q", bird.Title)
	}
	if bird.Variants[0].Price != 3999 || bottle.Variants[5].Price != 3299 || bed.Variants[8].Price != 6499 {
		t.Errorf("prices: %d %d %d", bird.Variants[0].Price, bottle.Variants[5].Price, bed.Variants[8].Price)
	}
	if want := map[string][]string{"color": {"Blue", "Pink", "White"}, "size": {"350Ml", "550Ml"}}; !reflect.DeepEqual(bottle.Attributes, want) {
		t.Errorf("bottle attributes = %q", bottle.Attributes)
	}
	if !slices.Equal(bottle.Tags, []string{"Dog Supplies", "Home & Garden", "Pet Products"}) {
		t.Errorf("tags = %q", bottle.Tags)
	}
	if bed.Images[5].Alt != "Fluffy pet bed with a cat inside, surrounded by text." {
		t.Errorf("alt = %q", bed.Images[5].Alt)
	}
}

const classicHeader = "Handle,Title,Body (HTML),Vendor,Type,Tags,Published,Option1 Name,Option1 Value,Option2 Name,Option2 Value,Variant SKU,Variant Inventory Qty,Variant Price,Variant Compare At Price,Image Src,Image Position,Image Alt Text,Status\n"

func TestShopifyRows(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		input string
		check func(t *testing.T, res result)
	}{
		{
			name: "newer column names, BOM, CRLF",
			input: "\ufeffURL handle,Title,Description,Vendor,Product category,Type,Tags,Published on online store,Status,Option1 name,Option1 value,SKU,Price,Compare-at price,Inventory quantity,Product image URL,Image position,Image alt text\r\n" +
				"tee,Tee,\"<p>a\r\nb</p>\",Acme,Apparel > Shirts,Shirts,\"a, b, a\",FALSE,,Colour,Red,T-R,10,12.50,3,https://x/1.jpg,1,front\r\n" +
				"tee,,,,,,,,,,Blue,T-B,10.5,,,https://x/2.jpg,2,back\r\n",
			check: func(t *testing.T, res result) {
				if len(res.products) != 1 || len(res.errs) != 0 {
					t.Fatalf("got %v %v", res.handles(), res.errs)
				}
				p := res.products[0]
				if p.Status != "draft" || !slices.Equal(p.CategoryPath, []string{"Apparel", "Shirts"}) || p.DescriptionHTML != "<p>a\nb</p>" ||
					!slices.Equal(p.Tags, []string{"a", "b"}) || p.Brand != "Acme" || p.ProductType != "Shirts" {
					t.Errorf("product = %+v", p)
				}
				if len(p.Variants) != 2 || p.Variants[0].Price != 1000 || *p.Variants[0].CompareAtPrice != 1250 || *p.Variants[0].InventoryQty != 3 ||
					p.Variants[1].Price != 1050 || p.Variants[1].InventoryQty != nil || p.Variants[1].Line != 4 {
					t.Errorf("variants = %+v", p.Variants)
				}
				if !reflect.DeepEqual(p.Attributes, map[string][]string{"color": {"Blue", "Red"}}) || !slices.Equal(p.OptionNames, []string{"Colour"}) {
					t.Errorf("attributes = %v, options %q", p.Attributes, p.OptionNames)
				}
				if len(p.Images) != 2 || p.Images[1] != (catalog.ImageInput{Src: "https://x/2.jpg", Alt: "back", Position: 2}) {
					t.Errorf("images = %+v", p.Images)
				}
			},
		},
		{
			name:  "missing required columns name both dialects",
			input: "Name,Vendor,Variant SKU\nx,y,z\n",
			check: func(t *testing.T, res result) {
				var fe *catalog.FileError
				if len(res.errs) != 1 || !errors.As(res.errs[0], &fe) {
					t.Fatalf("errs = %v", res.errs)
				}
				for _, want := range []string{`"Handle" (or "URL handle")`, `"Title"`, `"Variant Price" (or "Price")`} {
					if !strings.Contains(fe.Message, want) {
						t.Errorf("message %q lacks %s", fe.Message, want)
					}
				}
			},
		},
		{
			name:  "empty file",
			input: "",
			check: func(t *testing.T, res result) {
				var fe *catalog.FileError
				if len(res.errs) != 1 || !errors.As(res.errs[0], &fe) {
					t.Fatalf("errs = %v", res.errs)
				}
			},
		},
		{
			name:  "header only",
			input: classicHeader,
			check: func(t *testing.T, res result) {
				if len(res.products)+len(res.errs) != 0 {
					t.Fatalf("got %v %v", res.handles(), res.errs)
				}
			},
		},
		{
			name: "status wins over published; published false is draft; neither is active",
			input: classicHeader +
				"a,A,,,,,false,,,,,A1,,1,,,,,Archived\n" +
				"b,B,,,,,false,,,,,B1,,1,,,,,\n" +
				"c,C,,,,,,,,,,C1,,1,,,,,\n" +
				"d,D,,,,,maybe,,,,,D1,,1,,,,,\n" +
				"e,E,,,,,,,,,,E1,,1,,,,,pending\n",
			check: func(t *testing.T, res result) {
				var got []string
				for _, p := range res.products {
					got = append(got, p.Handle+"="+p.Status)
				}
				if !slices.Equal(got, []string{"a=archived", "b=draft", "c=active"}) || len(res.errs) != 2 {
					t.Fatalf("got %q, errs %v", got, res.errs)
				}
				for _, err := range res.errs {
					if !hasRowError(rowErrors(t, err), "status", "") {
						t.Errorf("error %v is not about status", err)
					}
				}
			},
		},
		{
			name: "upper-case handle is lower-cased; bad handle and missing title reject only that product",
			input: classicHeader +
				"Blue-Shirt,Blue,,,,,,,,,,S1,,1,,,,,\n" +
				"blue-shirt,,,,,,,Size,M,,,S2,,1,,,,,\n" +
				"bad handle!,Bad,,,,,,,,,,S3,,1,,,,,\n" +
				"no-title,,,,,,,,,,,S4,,1,,,,,\n" +
				"no-title,,,,,,,,,,,S5,,1,,,,,\n" +
				",Orphan,,,,,,,,,,S6,,1,,,,,\n" +
				"last,Last,,,,,,,,,,S7,,1,,,,,\n",
			check: func(t *testing.T, res result) {
				if !slices.Equal(res.handles(), []string{"blue-shirt", "last"}) || len(res.errs) != 3 {
					t.Fatalf("got %q, errs %v", res.handles(), res.errs)
				}
				// "Size"/"M" on a continuation row of a product without option names.
				if p := res.products[0]; len(p.Variants) != 1 || !hasRowError(p.Errors, "option1_value", "no option name") {
					t.Errorf("blue-shirt = %+v", p)
				}
				if e := rowErrors(t, res.errs[0]); !hasRowError(e, "handle", "a-z") || e[0].Line != 4 {
					t.Errorf("bad handle: %v", e)
				}
				if e := rowErrors(t, res.errs[1]); !hasRowError(e, "title", "is required") || e[0].Line != 5 {
					t.Errorf("no title: %v", e)
				}
				if e := rowErrors(t, res.errs[2]); !hasRowError(e, "handle", "is required") || e[0].Line != 7 {
					t.Errorf("empty handle: %v", e)
				}
			},
		},
		{
			name: "bad variant rows are dropped into Errors, the product still comes back",
			input: classicHeader +
				"tee,Tee,,,,,,Size,S,,,T-S,5,19.99,,,,,\n" +
				"tee,,,,,,,,M,,,T-M,5,19.999,,,,,\n" +
				"tee,,,,,,,,L,,,T-L,-1,19.99,,,,,\n" +
				"tee,,,,,,,,XL,,,T-XL,1.5,19.99,abc,,,,\n" +
				"tee,,,,,,,,,,,T-none,,20,,,,,\n" +
				"tee,,,,,,,,S,,,T-S2,,20,,,,,\n" +
				"tee,,,,,,,,XS,,,T-S,,20,,,,,\n" +
				"tee,,,,,,,,XXL,,,,,20,,,,,\n" +
				"tee,,,,,,,,3XL,,,T-3XL,,,,,,,\n",
			check: func(t *testing.T, res result) {
				if len(res.products) != 1 {
					t.Fatalf("got %q, errs %v", res.handles(), res.errs)
				}
				p := res.products[0]
				if len(p.Variants) != 2 || p.Variants[1].SKU != "" || p.Variants[1].Options[0] != "XXL" {
					t.Errorf("variants = %+v", p.Variants)
				}
				want := []catalog.RowError{
					{Line: 3, SKU: "T-M", Field: "price", Message: "must be a decimal number with at most 2 decimal places"},
					{Line: 4, SKU: "T-L", Field: "stock", Message: "must not be negative"},
					{Line: 5, SKU: "T-XL", Field: "compare_at_price", Message: "must be a decimal number with at most 2 decimal places"},
					{Line: 5, SKU: "T-XL", Field: "stock", Message: "must be a whole number"},
					{Line: 6, SKU: "T-none", Field: "option1_value", Message: "is required (Size)"},
					{Line: 7, SKU: "T-S2", Field: "option1_value", Message: `repeats the options "S" of line 2`},
					{Line: 8, SKU: "T-S", Field: "sku", Message: "is already used by line 2 of this product"},
					{Line: 10, SKU: "T-3XL", Field: "price", Message: "is required"},
				}
				if !reflect.DeepEqual(p.Errors, want) {
					t.Errorf("errors:\n got %+v\nwant %+v", p.Errors, want)
				}
				if got := p.Errors[0].Error(); got != `line 3 (SKU "T-M"): price must be a decimal number with at most 2 decimal places` {
					t.Errorf("Error() = %q", got)
				}
			},
		},
		{
			name: "a product whose every variant is bad is an error",
			input: classicHeader +
				"tee,Tee,,,,,,,,,,T1,,free,,,,,\n" +
				"mug,Mug,,,,,,,,,,,,,,https://x/m.jpg,1,,\n" +
				"ok,Ok,,,,,,,,,,O1,,1,,,,,\n",
			check: func(t *testing.T, res result) {
				if !slices.Equal(res.handles(), []string{"ok"}) || len(res.errs) != 2 {
					t.Fatalf("got %q, errs %v", res.handles(), res.errs)
				}
				if e := rowErrors(t, res.errs[0]); !hasRowError(e, "price", "decimal") {
					t.Errorf("tee: %v", e)
				}
				if e := rowErrors(t, res.errs[1]); !hasRowError(e, "price", "no variant") {
					t.Errorf("mug: %v", e)
				}
			},
		},
		{
			name: "a handle that reappears later is an error for the second product",
			input: classicHeader +
				"a,A,,,,,,,,,,A1,,1,,,,,\n" +
				"b,B,,,,,,,,,,B1,,1,,,,,\n" +
				"A,A again,,,,,,,,,,A2,,1,,,,,\n",
			check: func(t *testing.T, res result) {
				if !slices.Equal(res.handles(), []string{"a", "b"}) || len(res.errs) != 1 {
					t.Fatalf("got %q, errs %v", res.handles(), res.errs)
				}
				if e := rowErrors(t, res.errs[0]); !hasRowError(e, "handle", `"a" already appeared at line 2`) {
					t.Errorf("errors = %v", e)
				}
			},
		},
		{
			name: "images: image-only rows, duplicates, missing positions, order",
			input: classicHeader +
				"a,A,,,,,,,,,,A1,,1,,https://x/3.jpg,3,three\n" +
				"a,,,,,,,,,,,,,,,https://x/1.jpg,1,one\n" +
				"a,,,,,,,,,,,,,,,https://x/1.jpg,2,dup\n" +
				"a,,,,,,,,,,,,,,,https://x/n.jpg,,next\n" +
				"a,,,,,,,,,,,,,,,,,\n",
			check: func(t *testing.T, res result) {
				if len(res.products) != 1 {
					t.Fatalf("got %v", res.errs)
				}
				want := []catalog.ImageInput{{Src: "https://x/1.jpg", Alt: "one", Position: 1}, {Src: "https://x/3.jpg", Alt: "three", Position: 3}, {Src: "https://x/n.jpg", Alt: "next", Position: 4}}
				if p := res.products[0]; !reflect.DeepEqual(p.Images, want) || len(p.Variants) != 1 || len(p.Errors) != 0 {
					t.Errorf("product = %+v", p)
				}
			},
		},
		{
			name: "three options, short rows, unknown columns, blank lines",
			input: "Handle,Extra,Title,Option1 Name,Option1 Value,Option2 Name,Option2 Value,Option3 Name,Option3 Value,Variant Price\n" +
				"a,?,A,Size,S,Color,Red,Material,Wool,5\n\n" +
				"a,?,,,M,,Red,,Wool,5\n" +
				"a\n",
			check: func(t *testing.T, res result) {
				if len(res.products) != 1 {
					t.Fatalf("errs %v", res.errs)
				}
				p := res.products[0]
				if !slices.Equal(p.OptionNames, []string{"Size", "Color", "Material"}) || len(p.Variants) != 2 ||
					!slices.Equal(p.Variants[1].Options, []string{"M", "Red", "Wool"}) || p.Variants[1].Line != 4 {
					t.Errorf("product = %+v", p)
				}
			},
		},
		{
			name: "broken CSV stops the file and drops the unfinished product",
			input: classicHeader +
				"a,A,,,,,,,,,,A1,,1,,,,,\n" +
				"b,B \"quoted\",,,,,,,,,,B1,,1,,,,,\n" +
				"c,C,,,,,,,,,,C1,,1,,,,,\n",
			check: func(t *testing.T, res result) {
				var fe *catalog.FileError
				if len(res.products) != 0 || len(res.errs) != 1 || !errors.As(res.errs[0], &fe) || fe.Line != 3 {
					t.Fatalf("got %q, errs %v", res.handles(), res.errs)
				}
			},
		},
		{
			name:  "not UTF-8",
			input: "Handle,Title,Variant Price\na,Caf\xe9,1\n",
			check: func(t *testing.T, res result) {
				if len(res.errs) != 1 || !hasRowError(rowErrors(t, res.errs[0]), "title", "UTF-8") {
					t.Fatalf("errs = %v", res.errs)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.check(t, readAll(t, "shopify", tt.input)) })
	}
}

// TestShopifyStreams checks that a product is returned as soon as the next product's first
// row has been read, without waiting for the rest of the input.
func TestShopifyStreams(t *testing.T) {
	t.Parallel()
	pr, pw := io.Pipe()
	defer pw.Close()
	go func() {
		io.WriteString(pw, classicHeader+"a,A,,,,,,,,,,A1,,1,,,,,\na,,,,,,,Size,,,,A2,,1,,,,,\nb,B,,,,,,,,,,B1,,1,,,,,\n")
	}()
	rd, err := NewReader("shopify", pr, Options{Currency: "usd"})
	if err != nil {
		t.Fatal(err)
	}
	p, err := rd.Next()
	if err != nil || p.Handle != "a" {
		t.Fatalf("Next = %v, %v", p, err)
	}
}

func TestNewReader(t *testing.T) {
	t.Parallel()
	if _, err := NewReader("xlsx", strings.NewReader(""), Options{Currency: "USD"}); err == nil || !strings.Contains(err.Error(), `"xlsx"`) {
		t.Errorf("unknown format: %v", err)
	}
	if _, err := NewReader("csv", strings.NewReader(""), Options{}); err == nil {
		t.Error("no currency: want error")
	}
	if _, err := NewReader("csv", strings.NewReader(""), Options{Currency: "eur"}); err != nil {
		t.Errorf("lower-case currency: %v", err)
	}
}
