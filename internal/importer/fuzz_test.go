package importer

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/shelfcommerce/shelf/internal/catalog"
)

func seedShopify(f *testing.F) {
	for _, b := range shopifyExports(f) {
		f.Add(b)
		f.Add(bytes.ReplaceAll(b, []byte("\n"), []byte("\r\n")))
	}
	f.Add([]byte("\ufeff" + classicHeader + "a,A,,,,,,Size,S,,,A1,1,1.00,2,https://x,1,alt,draft\na,,,,,,,,M,,,,,1,,,,,\n"))
	f.Add([]byte("URL handle,Title,Price,Option1 name,Option1 value\nx,X,1,Colour,Red\nx,,2,,Blue\n"))
}

func FuzzShopifyCSV(f *testing.F) {
	seedShopify(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		rd, err := NewReader("shopify", bytes.NewReader(data), Options{Currency: "USD"})
		if err != nil {
			t.Fatal(err)
		}
		drain(t, rd, len(data))
	})
}

func FuzzOwnCSV(f *testing.F) {
	if b, err := os.ReadFile("testdata/example.csv"); err == nil {
		f.Add(b)
	}
	f.Add([]byte(ownHeader + "mug,Mug,M1,1,,,,Size,S,,\nmug,,M2,1.5,,JPY,-1,,M,color,\n"))
	seedShopify(f) // wrong dialect: must fail cleanly
	f.Fuzz(func(t *testing.T, data []byte) {
		rd, err := NewReader("csv", bytes.NewReader(data), Options{Currency: "EUR"})
		if err != nil {
			t.Fatal(err)
		}
		drain(t, rd, len(data))
	})
}

func FuzzNDJSON(f *testing.F) {
	f.Add([]byte(`{"handle":"tee","title":"Tee","status":"active","category":"A > B","tags":["x"],"attributes":{"material":["cotton"]},"images":[{"src":"s","alt":"a"}],"variants":[{"sku":"T","price":"19.99","compare_at_price":"25.00","currency":"USD","stock":10,"options":{"Size":"M","Color":"Red"}}]}` + "\n"))
	f.Add([]byte(`{"handle":"n","title":"N","variants":[{"price":19.99,"stock":"1","options":{"a":1}}]}` + "\r\n[]\nnull\n\n{"))
	// Real product data as NDJSON lines.
	if dir := shopifyDataDir(f); dir != "" {
		files, _ := filepath.Glob(filepath.Join(dir, "*.csv"))
		for _, name := range files {
			fh, err := os.Open(name)
			if err != nil {
				continue
			}
			rd, _ := NewReader("shopify", fh, Options{Currency: "USD"})
			var buf bytes.Buffer
			for {
				p, err := rd.Next()
				if p == nil && err != nil {
					if _, ok := err.(*catalog.ProductError); ok {
						continue
					}
					break
				}
				fmt.Fprintf(&buf, `{"handle":%q,"title":%q,"description":%q,"category":%q,"variants":[`, p.Handle, p.Title, p.DescriptionHTML, join(p.CategoryPath))
				for i, v := range p.Variants {
					if i > 0 {
						buf.WriteByte(',')
					}
					fmt.Fprintf(&buf, `{"sku":%q,"price":"%d.%02d","options":{`, v.SKU, v.Price/100, v.Price%100)
					for k, o := range v.Options {
						if k > 0 {
							buf.WriteByte(',')
						}
						fmt.Fprintf(&buf, "%q:%q", p.OptionNames[k], o)
					}
					buf.WriteString("}}")
				}
				buf.WriteString("]}\n")
			}
			fh.Close()
			f.Add(buf.Bytes())
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		rd, err := NewReader("ndjson", bytes.NewReader(data), Options{Currency: "KWD"})
		if err != nil {
			t.Fatal(err)
		}
		drain(t, rd, len(data))
	})
}

func join(parts []string) string {
	s := ""
	for i, p := range parts {
		if i > 0 {
			s += " > "
		}
		s += p
	}
	return s
}

// shopifyBenchInput is a Shopify export of rows rows: products of 4 variants (2 options) with
// an HTML description on the first row and an image on every variant row.
func shopifyBenchInput(rows int) []byte {
	var buf bytes.Buffer
	buf.WriteString(classicHeader)
	sizes := [4]string{"S", "M", "L", "XL"}
	for i := 0; i < rows; i++ {
		n, k := i/4, i%4
		h := "product-" + strconv.Itoa(n)
		if k == 0 {
			fmt.Fprintf(&buf, "%s,Product %d,\"<p>Soft \"\"cotton\"\" tee,\nmade well.</p>\",Acme,Shirts,\"a, b\",true,Size,%s,Color,Red,SKU-%d-%d,%d,19.99,25.00,https://cdn.example.com/%d/%d.jpg,%d,alt,active\n",
				h, n, sizes[k], n, k, k+1, n, k, k+1)
		} else {
			fmt.Fprintf(&buf, "%s,,,,,,,,%s,,Red,SKU-%d-%d,%d,19.99,,https://cdn.example.com/%d/%d.jpg,%d,,\n",
				h, sizes[k], n, k, k+1, n, k, k+1)
		}
	}
	return buf.Bytes()
}

func BenchmarkShopifyReader(b *testing.B) {
	const rows = 100_000
	input := shopifyBenchInput(rows)
	b.SetBytes(int64(len(input)))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		rd, err := NewReader("shopify", bytes.NewReader(input), Options{Currency: "USD"})
		if err != nil {
			b.Fatal(err)
		}
		variants := 0
		for {
			p, err := rd.Next()
			if err != nil {
				if _, ok := err.(*catalog.ProductError); ok {
					b.Fatal(err)
				}
				break
			}
			variants += len(p.Variants)
		}
		if variants != rows {
			b.Fatalf("%d variants; want %d", variants, rows)
		}
	}
	b.ReportMetric(float64(rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}

// Any list of items, | and backslashes included, comes back from its cell
// as it went (joinPipes, splitPipes), and a cell written before the escapes
// with a lone backslash reads it as itself.
func FuzzPipesRoundTrip(f *testing.F) {
	f.Add("a|b", `c\d`, `\`)
	f.Add("", "|", `\|`)
	f.Add(`C:\new`, "plain", `ends\`)
	f.Fuzz(func(t *testing.T, a, b, c string) {
		items := []string{a, b, c}
		got := splitPipes(joinPipes(items))
		if len(got) != len(items) {
			t.Fatalf("%q -> %q -> %q", items, joinPipes(items), got)
		}
		for i := range items {
			if got[i] != items[i] {
				t.Fatalf("%q -> %q -> %q", items, joinPipes(items), got)
			}
		}
	})
}

func TestOldCellsKeepTheirBackslashes(t *testing.T) {
	if got := splitPipes(`C:\new|x\y`); len(got) != 2 || got[0] != `C:\new` || got[1] != `x\y` {
		t.Errorf("%q", got)
	}
}
