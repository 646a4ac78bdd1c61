package fastgzip_test

import (
	"bytes"
	stdgzip "compress/gzip"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"

	"github.com/shelfcommerce/shelf/internal/catalog"
	"github.com/shelfcommerce/shelf/internal/fastgzip"
	"github.com/shelfcommerce/shelf/internal/money"
)

var (
	titles = []string{"Oak Dining Table", "Walnut Side Table", "Linen Armchair", "Rattan Floor Lamp",
		"Steel Bookshelf", "Wool Area Rug 160x230", "Ceramic Vase, Tall", "Velvet Sofa 3-Seater"}
	brands = []string{"Acme", "Nordhaus", "Casa Verde", "Hallmark & Sons", "Lumen"}
)

// listingBody is a 24-item listing page with a cursor and brand facets, as
// GET /v1/products sends it.
func listingBody(tb testing.TB) []byte {
	cursor := "eyJrIjoiY3JlYXRlZCIsInQiOjE3MzU3MTM4MDgwMDAwMDAsImkiOjcwMzQxfQ.Yk3n2Qm8xL0pV7aTzR1c"
	p := &catalog.ListPage{NextCursor: &cursor}
	for i := range 24 {
		title := fmt.Sprintf("%s %d cm, %s, %s finish", titles[(i*5)%len(titles)], 100+i*7,
			[]string{"assembled", "flat-packed", "set of two"}[i%3], []string{"natural oil", "smoked", "matte black", "white wash"}[i%4])
		p.Items = append(p.Items, catalog.ListItem{
			ID: uint64(70341 + i*137), Slug: strings.ToLower(strings.NewReplacer(" ", "-", ",", "").Replace(title)),
			Title: title, Brand: brands[(i*3)%len(brands)],
			Price:     money.Money{Amount: int64(1999 + (i*7919)%90000), Currency: "USD"},
			InStock:   i%4 != 0,
			CreatedAt: time.Date(2025, 1, 1+i, 6, 43, 28+i, 0, time.UTC),
		})
	}
	facets := []map[string]any{}
	for i, b := range brands {
		facets = append(facets, map[string]any{"value": b, "count": 1200 - i*173})
	}
	cats := []map[string]any{}
	for i, c := range []string{"dining-tables", "side-tables", "armchairs", "floor-lamps", "bookshelves", "rugs", "vases", "sofas", "outdoor", "kids-room"} {
		cats = append(cats, map[string]any{"value": c, "count": 900 - i*61})
	}
	p.Facets = map[string]any{"brand": facets, "category": cats, "in_stock": []map[string]any{{"value": true, "count": 4102}, {"value": false, "count": 1377}}}
	b, err := p.AppendJSON(nil)
	if err != nil {
		tb.Fatal(err)
	}
	return append(b, '\n')
}

// productBody is a product page: a description, eight variants, images,
// attributes and categories, as GET /v1/products/{id} sends it.
func productBody(tb testing.TB) []byte {
	price := money.Money{Amount: 24900, Currency: "USD"}
	p := catalog.Product{
		ID: 70341, Slug: "oak-dining-table-180", Title: "Oak Dining Table 180", Brand: "Nordhaus",
		Description: "A solid European oak dining table with a hand-oiled finish. The top is 40 mm thick, " +
			"made of full-length staves, and rests on a tapered trestle base that leaves room for chairs at both ends. " +
			"Seats six comfortably, eight at a push. Each table is finished by hand, so grain and colour vary " +
			"from the photographs. Care: wipe with a damp cloth, re-oil once a year with the included kit. " +
			"Delivered flat-packed in two boxes; assembly takes two people about thirty minutes and needs no tools " +
			"beyond the hex key supplied. Made in Portugal from FSC-certified timber.",
		ProductType: "furniture/tables", Price: &price, InStock: true,
		OptionNames: []string{"Size", "Finish"},
		Version:     17,
		CreatedAt:   time.Date(2025, 1, 3, 9, 12, 44, 0, time.UTC),
		UpdatedAt:   time.Date(2026, 11, 28, 17, 5, 1, 0, time.UTC),
	}
	for i, size := range []string{"160 cm", "180 cm", "200 cm", "220 cm"} {
		for j, finish := range []string{"Natural oil", "Smoked oil"} {
			sku := fmt.Sprintf("NH-ODT-%d-%c", 160+20*i, "NS"[j])
			cmp := money.Money{Amount: int64(29900 + 2000*i), Currency: "USD"}
			p.Variants = append(p.Variants, catalog.Variant{
				ID: uint64(912001 + 2*i + j), SKU: &sku,
				Options: []catalog.OptionValue{{Name: "Size", Value: size}, {Name: "Finish", Value: finish}},
				Price:   money.Money{Amount: int64(24900 + 2000*i + 1500*j), Currency: "USD"}, CompareAtPrice: &cmp,
				Available: int64((i*7 + j*3) % 11),
			})
		}
	}
	for i, alt := range []string{"Front view", "Top detail", "Trestle base", "In a dining room", "Smoked oil finish"} {
		p.Images = append(p.Images, catalog.Image{Src: fmt.Sprintf("https://cdn.example.com/products/70341/%d-1600x1200.jpg", i+1), Alt: alt})
	}
	for _, a := range [][2]string{{"material", "oak"}, {"color", "natural"}, {"seats", "6"}, {"width_cm", "90"},
		{"height_cm", "75"}, {"assembly", "required"}, {"origin", "PT"}, {"certification", "FSC"}} {
		p.Attributes = append(p.Attributes, catalog.Attribute{Name: a[0], Value: a[1]})
	}
	p.Categories = []catalog.CategoryShort{{ID: 12, Slug: "furniture", Name: "Furniture"},
		{ID: 31, Slug: "dining-tables", Name: "Dining tables"}, {ID: 77, Slug: "oak", Name: "Oak collection"}}
	b, err := json.Marshal(p)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

type appender struct{ b []byte }

func (a *appender) Write(p []byte) (int, error) { a.b = append(a.b, p...); return len(p), nil }

// BenchmarkGzip compares, on a listing page and a product page, gzip from
// the standard library at level 1 (pooled writers, as echo's middleware
// keeps them), this package, and github.com/klauspost/compress's gzip in
// its stateless mode (no state kept between calls) and at BestSpeed from a
// pool of writers.
func BenchmarkGzip(b *testing.B) {
	bodies := []struct {
		name string
		body []byte
	}{{"listing", listingBody(b)}, {"product", productBody(b)}}
	std := sync.Pool{New: func() any { w, _ := stdgzip.NewWriterLevel(nil, stdgzip.BestSpeed); return w }}
	kp := sync.Pool{New: func() any { w, _ := gzip.NewWriterLevel(nil, gzip.BestSpeed); return w }}
	stateless := func(dst, src []byte) []byte {
		a := &appender{b: dst}
		w, _ := gzip.NewWriterLevel(a, gzip.StatelessCompression)
		_, _ = w.Write(src)
		_ = w.Close()
		return a.b
	}
	variants := []struct {
		name string
		fn   func(dst, src []byte) []byte
	}{
		{"compress-gzip-1", func(dst, src []byte) []byte {
			a := &appender{b: dst}
			w := std.Get().(*stdgzip.Writer)
			w.Reset(a)
			_, _ = w.Write(src)
			_ = w.Close()
			std.Put(w)
			return a.b
		}},
		{"fastgzip", fastgzip.Append},
		{"klauspost-stateless", stateless},
		{"klauspost-bestspeed-pooled", func(dst, src []byte) []byte {
			a := &appender{b: dst}
			w := kp.Get().(*gzip.Writer)
			w.Reset(a)
			_, _ = w.Write(src)
			_ = w.Close()
			kp.Put(w)
			return a.b
		}},
	}
	for _, body := range bodies {
		for _, v := range variants {
			b.Run(body.name+"/"+v.name, func(b *testing.B) {
				in := body.body
				var out []byte
				b.SetBytes(int64(len(in)))
				b.ReportAllocs()
				for b.Loop() {
					out = v.fn(out[:0], in)
				}
				b.ReportMetric(float64(len(out)), "out-bytes")
				zr, err := stdgzip.NewReader(bytes.NewReader(out))
				if err != nil {
					b.Fatal(err)
				}
				var got bytes.Buffer
				if _, err := got.ReadFrom(zr); err != nil || !bytes.Equal(got.Bytes(), in) {
					b.Fatalf("round trip: %v", err)
				}
			})
		}
	}
}
