package catalog

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/shelfcommerce/shelf/internal/money"
)

// FuzzListPageJSON: a listing page is sent as the very bytes json.Marshal
// gives for it, whatever its text holds (quotes, HTML, control characters,
// non-ASCII, invalid UTF-8), with and without a next page and facets.
func FuzzListPageJSON(f *testing.F) {
	f.Add("Oak table", "acme", "c1", int64(1999), int64(1700000000123456), true, uint8(2))
	f.Add(`"<b>&\`, "\u2028\xff", "", int64(-5), int64(0), false, uint8(0))
	f.Add("x", "y", "z", int64(1), int64(-253402300798000000), false, uint8(3))
	f.Add("é\x00\x1f\x7f", "Ω", "a+b/c=", int64(9223372036854775807), int64(-62135596800000000), true, uint8(1))
	f.Fuzz(func(t *testing.T, title, brand, cursor string, price, createdMicros int64, inStock bool, n uint8) {
		p := &ListPage{Items: []ListItem{}}
		for i := range int(n % 4) {
			p.Items = append(p.Items, ListItem{ID: uint64(i) + 1, Slug: brand + title, Title: title, Brand: brand,
				Price:   money.Money{Amount: price, Currency: []string{"USD", "JPY", "KWD"}[i%3]},
				InStock: inStock, CreatedAt: time.UnixMicro(createdMicros % 253402300799000000).UTC()})
		}
		if n%2 == 1 {
			p.NextCursor = &cursor
		}
		if n%3 == 2 {
			p.Facets = map[string]any{"brand": []map[string]any{{"value": brand, "count": 3}}}
		}
		got, err := p.AppendJSON(nil)
		want, wantErr := json.Marshal(p)
		if (err == nil) != (wantErr == nil) {
			t.Fatalf("error %v, json.Marshal's %v", err, wantErr)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("got\n%s\nwant\n%s", got, want)
		}
	})
}
