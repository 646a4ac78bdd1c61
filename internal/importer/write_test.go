package importer

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/shelfcommerce/shelf/internal/catalog"
)

// normalized drops what a file does not carry through a round trip: line
// numbers, and the rows left out with errors.
func normalized(ps []*catalog.ProductInput) []*catalog.ProductInput {
	out := make([]*catalog.ProductInput, len(ps))
	for i, p := range ps {
		c := *p
		c.Line, c.Errors = 0, nil
		c.Variants = append([]catalog.VariantInput(nil), p.Variants...)
		for j := range c.Variants {
			c.Variants[j].Line = 0
		}
		out[i] = &c
	}
	return out
}

func writeAll(t *testing.T, format string, ps []*catalog.ProductInput) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := NewWriter(format, &buf)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range ps {
		if err := w.Write(p); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// What a writer writes, the reader of the same format reads back as the
// same products: an export imports back unchanged. The Shopify format has
// no explicit attributes and no currency column, so it is checked on
// products read from real Shopify exports; the others on those and on
// Shelf's example file (attributes, currencies, alt texts).
func TestWritersRoundTrip(t *testing.T) {
	sources := map[string][]*catalog.ProductInput{}
	for _, b := range shopifyExports(t) {
		sources["shopify"] = append(sources["shopify"], readAll(t, "shopify", string(b)).products...)
	}
	example, err := os.ReadFile(filepath.Join("testdata", "example.csv"))
	if err != nil {
		t.Fatal(err)
	}
	sources["csv"] = append(readAll(t, "csv", string(example)).products, sources["shopify"]...)
	sources["ndjson"] = sources["csv"]
	for format, ps := range sources {
		if len(ps) < 10 {
			t.Fatalf("%s: only %d products to write", format, len(ps))
		}
		out := writeAll(t, format, ps)
		back := readAll(t, format, string(out))
		if len(back.errs) > 0 {
			t.Errorf("%s: reading the written file: %v", format, back.errs)
		}
		want, got := normalized(ps), normalized(back.products)
		if len(got) != len(want) {
			t.Fatalf("%s: wrote %d products, read back %d", format, len(want), len(got))
		}
		for i := range want {
			if !reflect.DeepEqual(got[i], want[i]) {
				t.Errorf("%s: product %s read back as\n%+v\nwant\n%+v", format, want[i].Handle, got[i], want[i])
			}
		}
	}
}

// A description with CR LF line ends (sent as NDJSON or to the admin API)
// reads back the same from every format: line ends are stored as LF.
func TestDescriptionLineEndsRoundTrip(t *testing.T) {
	nd := `{"handle":"crlf","title":"CRLF","description":"<p>one</p>\r\n<p>two</p>","variants":[{"sku":"CR-1","price":"5.00"}]}` + "\n"
	ps := readAll(t, "ndjson", nd).products
	if len(ps) != 1 || ps[0].DescriptionHTML != "<p>one</p>\n<p>two</p>" {
		t.Fatalf("read %+v", ps)
	}
	for _, format := range []string{"shopify", "csv", "ndjson"} {
		back := readAll(t, format, string(writeAll(t, format, ps))).products
		if len(back) != 1 || back[0].DescriptionHTML != ps[0].DescriptionHTML {
			t.Errorf("%s: description read back as %q, want %q", format, back[0].DescriptionHTML, ps[0].DescriptionHTML)
		}
	}
	// A lone CR is still refused, also one just before a CR LF.
	bad := `{"handle":"cr","title":"CR","description":"a\r\r\nb","variants":[{"sku":"CR-2","price":"5.00"}]}` + "\n"
	for _, p := range readAll(t, "ndjson", bad).products {
		t.Errorf("a lone CR was accepted: description %q", p.DescriptionHTML)
	}
}

// An attribute name may hold '=' and '\' (the admin API and NDJSON take
// them): Shelf's CSV escapes them, and reads them back as they were.
func TestAttributeNamesWithEqualsSignsRoundTrip(t *testing.T) {
	nd := `{"handle":"eq","title":"Eq","attributes":{"a=b":"c=d","back\\slash":"e","plain":"f\\g"},"variants":[{"sku":"EQ-1","price":"5.00"}]}` + "\n"
	ps := readAll(t, "ndjson", nd).products
	if len(ps) != 1 || len(ps[0].Attributes) != 3 {
		t.Fatalf("read %+v", ps)
	}
	back := readAll(t, "csv", string(writeAll(t, "csv", ps))).products
	if len(back) != 1 || !reflect.DeepEqual(back[0].Attributes, ps[0].Attributes) {
		t.Fatalf("csv: attributes read back as %v, want %v", back[0].Attributes, ps[0].Attributes)
	}
	// A file written by hand, before names were escaped, reads as before.
	old := readAll(t, "csv", "handle,title,sku,price,attributes\nh,H,H-1,1.00,color=red|size=a=b\n").products
	if len(old) != 1 || !reflect.DeepEqual(old[0].Attributes, map[string][]string{"color": {"red"}, "size": {"a=b"}}) {
		t.Fatalf("plain attributes read as %+v", old)
	}
}
