package events

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/shelfcommerce/shelf/internal/money"
)

// What the builders wrote when they went through encoding/json: the
// contract's fields in order. The hand-written builders must write the
// same bytes, so that a consumer (and a signature over the body) sees no
// difference.
type refHeader struct {
	Type       string `json:"type"`
	OccurredAt string `json:"occurred_at"`
}

func refSKU(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func FuzzBuildersWriteWhatEncodingJSONWrites(f *testing.F) {
	f.Add(uint64(1), uint64(2), "SKU-1", "a-slug", int64(-3), int64(7), int64(1999), true, "ord_x", int64(0))
	f.Add(uint64(math.MaxUint64), uint64(0), "", "é<&>\"\\\n", int64(math.MinInt64), int64(math.MaxInt64), int64(-5), false, "\u2028", int64(1e18))
	f.Fuzz(func(t *testing.T, pid, vid uint64, sku, slug string, delta, avail, price int64, withCompare bool, text string, ns int64) {
		at := time.Unix(0, ns).In(time.FixedZone("X", 3600))
		h := func(typ string) refHeader { return refHeader{typ, at.UTC().Format(TimeFormat)} }
		check := func(e Event, want string) {
			t.Helper()
			if string(e.Data) != want {
				t.Fatalf("%s:\n got  %s\n want %s", e.Type, e.Data, want)
			}
			if !json.Valid(e.Data) {
				t.Fatalf("%s: not JSON: %s", e.Type, e.Data)
			}
			// (JSON has no invalid UTF-8: such a slug reads back changed.)
			if got := Parse(0, e.Type, e.Data); got.ProductID != e.ProductID || got.Restock != e.Restock ||
				got.Slug != e.Slug && utf8.ValidString(e.Slug) {
				t.Fatalf("Parse(%s) = %d %q %v, built with %d %q %v", e.Data, got.ProductID, got.Slug, got.Restock,
					e.ProductID, e.Slug, e.Restock)
			}
		}
		check(ProductUpdated(at, pid, slug), mustJSON(t, struct {
			refHeader
			ProductID uint64 `json:"product_id"`
			Slug      string `json:"slug"`
		}{h(TypeProductUpdated), pid, slug}))
		p := money.Money{Amount: price, Currency: "USD"}
		var c *money.Money
		if withCompare {
			c = &money.Money{Amount: price / 3, Currency: "JPY"}
		}
		check(PriceChanged(at, pid, vid, sku, p, c), mustJSON(t, struct {
			refHeader
			ProductID      uint64       `json:"product_id"`
			VariantID      uint64       `json:"variant_id"`
			SKU            *string      `json:"sku"`
			Price          money.Money  `json:"price"`
			CompareAtPrice *money.Money `json:"compare_at_price"`
		}{h(TypePriceChanged), pid, vid, refSKU(sku), p, c}))
		check(StockChanged(at, pid, vid, sku, delta, avail), mustJSON(t, struct {
			refHeader
			ProductID uint64  `json:"product_id"`
			VariantID uint64  `json:"variant_id"`
			SKU       *string `json:"sku"`
			Delta     int64   `json:"delta"`
			Available int64   `json:"available"`
		}{h(TypeStockChanged), pid, vid, refSKU(sku), delta, avail}))
		check(Order(TypeOrderPaid, at, text, slug, sku), mustJSON(t, struct {
			refHeader
			OrderID string `json:"order_id"`
			Number  string `json:"number"`
			Status  string `json:"status"`
		}{h(TypeOrderPaid), text, slug, sku}))
	})
}

// Parse must find in a document what the builder put in the event.
func TestParseReadsBackWhatTheBuildersSet(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 500 {
		at := time.Now()
		avail := r.Int64N(5)
		delta := r.Int64N(5) - 2
		slug := []string{"plain", "é-ü", `q"uote`, ""}[i%4]
		for _, e := range []Event{
			StockChanged(at, r.Uint64(), 2, "S", delta, avail),
			ProductUpdated(at, r.Uint64N(1000), slug),
			PriceChanged(at, uint64(i), 3, "", money.Money{Amount: 5, Currency: "EUR"}, nil),
		} {
			got := Parse(0, e.Type, e.Data)
			if got.ProductID != e.ProductID || got.Slug != e.Slug || got.Restock != e.Restock {
				t.Fatalf("Parse(%s) = %d %q %v, built with %d %q %v", e.Data, got.ProductID, got.Slug, got.Restock,
					e.ProductID, e.Slug, e.Restock)
			}
		}
	}
}

// A compressed row reads back as the text written, and one that is cut
// short or claims another length is refused, never read as other events.
func TestRowTextReadsBackCompressedRowsAndRefusesBrokenOnes(t *testing.T) {
	var text strings.Builder
	for i := range PackMax {
		if i > 0 {
			text.WriteByte('\n')
		}
		text.Write(ProductUpdated(time.Unix(int64(i), 0), uint64(i+1), fmt.Sprintf("p%d", i)).Data)
	}
	z := compress(text.String())
	if len(z) >= text.Len()/4 {
		t.Errorf("compressed %d bytes to %d", text.Len(), len(z))
	}
	got, err := RowText([]byte{}, z)
	if err != nil || string(got) != text.String() {
		t.Fatalf("read back %d bytes (%v), want the %d written", len(got), err, text.Len())
	}
	if got, err := RowText([]byte("plain"), nil); err != nil || string(got) != "plain" {
		t.Fatalf("a plain row reads %q (%v)", got, err)
	}
	longer := append([]byte{}, z...)
	longer[0]++ // claims one byte more than it holds
	for name, bad := range map[string][]byte{"cut short": z[:len(z)/2], "no stream": z[:4], "too short": z[:3], "wrong length": longer} {
		if _, err := RowText(nil, bad); err == nil {
			t.Errorf("%s: read without an error", name)
		}
	}
}

// Whatever a row's data_z holds, RowText never panics and never returns
// more than a row can hold; text compressed by Emit reads back as it was.
func FuzzRowText(f *testing.F) {
	f.Add([]byte("{\"type\":\"product.updated\"}\n{\"type\":\"stock.changed\"}"), []byte{})
	f.Add([]byte{}, []byte{5, 0, 0, 0, 0x78, 0x01})
	f.Add([]byte("x"), []byte{0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, text, z []byte) {
		got, err := RowText(nil, compress(string(text)))
		if err != nil || string(got) != string(text) {
			t.Fatalf("round trip of %d bytes: %d bytes back (%v)", len(text), len(got), err)
		}
		if got, err := RowText(nil, z); err == nil && len(got) > maxRowText {
			t.Fatalf("%d bytes from a row", len(got))
		}
	})
}
