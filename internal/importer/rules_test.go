package importer

import (
	"strings"
	"testing"

	"github.com/shelfcommerce/shelf/internal/catalog"
)

// The text and image rules apply to every format: a Shopify export with a
// script URL as an image, a NUL in a title or an escape sequence in a SKU is
// reported row by row, and the good products still come through.
func TestShopifyRowsThatCouldHurtAReaderAreErrors(t *testing.T) {
	file := "Handle,Title,Variant SKU,Variant Price,Image Src,Option1 Name,Option1 Value\n" +
		"good,Good,G-1,1.00,https://cdn.example.com/g.jpg,Size,S\n" +
		"script,Script,S-1,1.00,javascript:alert(1),Size,S\n" +
		"nul,\"Nu\x00l\",N-1,1.00,,Size,S\n" +
		"esc,Esc,\"E-1\x1b[2J\",1.00,,Size,S\n" +
		"esc,,E-2,1.00,,,M\n"
	r := readAll(t, "shopify", file)
	if got := strings.Join(r.handles(), ","); got != "good,esc" {
		t.Fatalf("imported %s, want good and esc (without its bad variant)", got)
	}
	var errs []catalog.RowError
	for _, err := range r.errs {
		errs = append(errs, rowErrors(t, err)...)
	}
	for _, p := range r.products {
		errs = append(errs, p.Errors...)
	}
	for _, want := range []struct {
		line  int
		field string
	}{{3, "images[0].src"}, {4, "title"}, {5, "sku"}} {
		found := false
		for _, e := range errs {
			found = found || (e.Line == want.line && e.Field == want.field)
		}
		if !found {
			t.Errorf("no row error for %s on line %d in %+v", want.field, want.line, errs)
		}
	}
	if esc := r.products[1]; len(esc.Variants) != 1 || esc.Variants[0].SKU != "E-2" {
		t.Errorf("esc variants %+v, want only E-2", esc.Variants)
	}
}
