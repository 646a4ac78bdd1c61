package catalog

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/shelfcommerce/shelf/internal/money"
)

// FuzzSpliceStock: splicing stock into a stored document gives exactly the
// bytes json.Marshal gives for the page with that stock, whatever the
// product's text holds (keys of the document included) and whatever the
// stock rows are (missing, zero, negative, large, of other variants).
func FuzzSpliceStock(f *testing.F) {
	f.Add(`plain`, `M`, uint8(3), int64(5), int64(0))
	f.Add(`"in_stock":false, "available":0`, `"available":0}`, uint8(2), int64(0), int64(-4))
	f.Add(`\"in_stock\":false`, `in_stock`, uint8(0), int64(9223372036854775807), int64(1))
	f.Add("\u2028<b>&", "\xff", uint8(1), int64(12), int64(12))
	f.Fuzz(func(t *testing.T, text, option string, variants uint8, first, rest int64) {
		p := Product{ID: 7, Slug: "p", Title: text, Brand: text, Description: text, ProductType: option,
			OptionNames: []string{text}, Images: []Image{{Src: text, Alt: option}},
			Attributes: []Attribute{{Name: text, Value: option}}, Categories: []CategoryShort{{ID: 1, Slug: "c", Name: text}},
			Version: 3, CreatedAt: time.Unix(1, 0).UTC(), UpdatedAt: time.Unix(2, 0).UTC()}
		onHand := []stockRow{{999, 5}} // a variant the page does not show
		units := map[uint64]int64{}    // the same, as the expectation reads it
		var ids []string
		for i := range int(variants % 8) {
			sku := text + option
			v := Variant{ID: uint64(100 + i), SKU: &sku, Options: []OptionValue{{Name: text, Value: option}},
				Price: money.Money{Amount: int64(i), Currency: "USD"}}
			p.Variants = append(p.Variants, v)
			ids = append(ids, strconv.FormatUint(v.ID, 10))
			switch {
			case i == 0:
				onHand = append(onHand, stockRow{v.ID, first})
				units[v.ID] = first
			case i%3 != 2: // every third has no stock row
				onHand = append(onHand, stockRow{v.ID, rest})
				units[v.ID] = rest
			}
		}
		if p.Variants == nil {
			p.Variants = []Variant{}
		}
		doc, err := json.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		got, err := spliceStock(nil, doc, strings.Join(ids, ","), onHand)
		if err != nil {
			t.Fatal(err)
		}
		for i := range p.Variants {
			p.Variants[i].Available = max(units[p.Variants[i].ID], 0)
			p.InStock = p.InStock || p.Variants[i].Available > 0
		}
		want, _ := json.Marshal(p)
		if !bytes.Equal(got, want) {
			t.Fatalf("spliced\n%s\nwant\n%s", got, want)
		}
	})
}
