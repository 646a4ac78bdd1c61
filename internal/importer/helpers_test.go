package importer

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shelfcommerce/shelf/internal/catalog"
	"github.com/shelfcommerce/shelf/internal/money"
)

// shopifyDataDir is where the real Shopify exports the tests read are kept:
// public samples copied into testdata, so a bare clone runs every test.
func shopifyDataDir(tb testing.TB) string {
	tb.Helper()
	return filepath.Join("testdata", "shopify")
}

// shopifyExports reads every Shopify export in testdata; none is a failure.
func shopifyExports(tb testing.TB) [][]byte {
	tb.Helper()
	files, _ := filepath.Glob(filepath.Join(shopifyDataDir(tb), "*.csv"))
	if len(files) == 0 {
		tb.Fatal("no Shopify exports in testdata/shopify")
	}
	var out [][]byte
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			tb.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

func readShopifyFile(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(shopifyDataDir(t), name))
	if err != nil {
		t.Fatalf("fixture missing: %v", err)
	}
	return b
}

// result is everything a Reader yielded.
type result struct {
	products []*catalog.ProductInput
	errs     []error // *catalog.ProductError, then possibly one final *catalog.FileError
}

func (r result) handles() []string {
	var out []string
	for _, p := range r.products {
		out = append(out, p.Handle)
	}
	return out
}

// readAll drains a reader, checking the Reader contract on the way. It fails the test on
// anything but *catalog.ProductError / *catalog.FileError, and on a reader that does not stop.
func readAll(tb testing.TB, format, input string) result {
	tb.Helper()
	rd, err := NewReader(format, strings.NewReader(input), Options{Currency: "USD"})
	if err != nil {
		tb.Fatal(err)
	}
	return drain(tb, rd, len(input))
}

func drain(tb testing.TB, rd Reader, inputLen int) result {
	tb.Helper()
	var res result
	for i := 0; ; i++ {
		if i > inputLen+10 {
			tb.Fatalf("reader yielded more items than the input has bytes")
		}
		p, err := rd.Next()
		if err == io.EOF {
			if p != nil {
				tb.Fatalf("Next returned a product with io.EOF")
			}
			if _, err := rd.Next(); err != io.EOF {
				tb.Fatalf("Next after io.EOF = %v; want io.EOF again", err)
			}
			return res
		}
		if err != nil {
			if p != nil {
				tb.Fatalf("Next returned both a product and error %v", err)
			}
			var fe *catalog.FileError
			var pe *catalog.ProductError
			switch {
			case errors.As(err, &fe):
				res.errs = append(res.errs, err)
				if _, again := rd.Next(); again != err {
					tb.Fatalf("Next after catalog.FileError = %v; want the same catalog.FileError", again)
				}
				return res
			case errors.As(err, &pe):
				if len(pe.Errors) == 0 {
					tb.Fatalf("catalog.ProductError without RowErrors: %v", err)
				}
				_ = pe.Error()
				res.errs = append(res.errs, err)
				continue
			default:
				tb.Fatalf("Next returned %T %v; want *catalog.ProductError or *catalog.FileError", err, err)
			}
		}
		checkProduct(tb, p)
		res.products = append(res.products, p)
	}
}

// checkProduct asserts what the DB writer relies on for every product a Reader returns.
func checkProduct(tb testing.TB, p *catalog.ProductInput) {
	tb.Helper()
	if p == nil {
		tb.Fatalf("Next returned nil, nil")
	}
	if !ValidHandle(p.Handle) {
		tb.Fatalf("product with invalid handle %q", p.Handle)
	}
	if p.Title == "" {
		tb.Fatalf("product %q without title", p.Handle)
	}
	if p.Status != "active" && p.Status != "draft" && p.Status != "archived" {
		tb.Fatalf("product %q has status %q", p.Handle, p.Status)
	}
	if len(p.Variants) == 0 {
		tb.Fatalf("product %q has no variants", p.Handle)
	}
	if len(p.OptionNames) > MaxOptions {
		tb.Fatalf("product %q has %d options", p.Handle, len(p.OptionNames))
	}
	skus := map[string]bool{}
	for _, v := range p.Variants {
		if len(v.Options) != len(p.OptionNames) {
			tb.Fatalf("product %q variant line %d: %d option values for %d names", p.Handle, v.Line, len(v.Options), len(p.OptionNames))
		}
		for _, o := range v.Options {
			if o == "" {
				tb.Fatalf("product %q: empty option value", p.Handle)
			}
		}
		if v.Price < 0 || (v.CompareAtPrice != nil && *v.CompareAtPrice <= 0) {
			tb.Fatalf("product %q: bad prices %d %v", p.Handle, v.Price, v.CompareAtPrice)
		}
		if _, ok := money.Exponent(v.Currency); !ok {
			tb.Fatalf("product %q: currency %q", p.Handle, v.Currency)
		}
		if v.InventoryQty != nil && *v.InventoryQty < 0 {
			tb.Fatalf("product %q: negative stock", p.Handle)
		}
		if v.SKU != "" {
			if skus[v.SKU] {
				tb.Fatalf("product %q: SKU %q twice", p.Handle, v.SKU)
			}
			skus[v.SKU] = true
		}
		if v.Line < p.Line {
			tb.Fatalf("variant line %d before product line %d", v.Line, p.Line)
		}
	}
	srcs := map[string]bool{}
	for i, im := range p.Images {
		if im.Src == "" || srcs[im.Src] || im.Position <= 0 || (i > 0 && p.Images[i-1].Position > im.Position) {
			tb.Fatalf("product %q: bad images %+v", p.Handle, p.Images)
		}
		srcs[im.Src] = true
	}
	for name, vals := range p.Attributes {
		if name == "" || name != catalog.AttrName(name) || len(vals) == 0 {
			tb.Fatalf("product %q: attribute %q = %q", p.Handle, name, vals)
		}
		for i := 1; i < len(vals); i++ {
			if vals[i-1] >= vals[i] {
				tb.Fatalf("product %q: attribute %q values not sorted/unique: %q", p.Handle, name, vals)
			}
		}
	}
	for _, e := range p.Errors {
		if e.Line <= 0 || e.Message == "" {
			tb.Fatalf("product %q: row error %+v", p.Handle, e)
		}
	}
}

// rowErrors returns the RowErrors of the i-th error.
func rowErrors(tb testing.TB, err error) []catalog.RowError {
	tb.Helper()
	var pe *catalog.ProductError
	if !errors.As(err, &pe) {
		tb.Fatalf("%T %v is not a *catalog.ProductError", err, err)
	}
	return pe.Errors
}

func hasRowError(errs []catalog.RowError, field, msgPart string) bool {
	for _, e := range errs {
		if e.Field == field && strings.Contains(e.Message, msgPart) {
			return true
		}
	}
	return false
}

func ptr(v int64) *int64 { return &v }
