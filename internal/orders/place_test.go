package orders

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shelfcommerce/shelf/internal/dbtest"
	"github.com/shelfcommerce/shelf/internal/money"
	"github.com/shelfcommerce/shelf/internal/orders/orderstest"
	"github.com/shelfcommerce/shelf/internal/problem"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

var testAddress = Address{Name: "Ada Buyer", Line1: "1 Main St", City: "Springfield", PostalCode: "12345", Country: "US"}

func input(email string, lines ...LineInput) PlaceInput {
	return PlaceInput{Email: email, Lines: lines, ShippingAddress: testAddress}
}

func line(sku string, q int) LineInput { return LineInput{SKU: sku, Quantity: q} }

var keySeq atomic.Int64

func newKey() string {
	return fmt.Sprintf("key-%d-%d", time.Now().UnixNano(), keySeq.Add(1))
}

func placeOK(t *testing.T, s *Service, in PlaceInput) *Order {
	t.Helper()
	p, err := s.Place(context.Background(), PlaceParams{Scope: ScopeForEmail(in.Email), Key: newKey(), Input: in})
	if err != nil {
		t.Fatalf("place: %v", err)
	}
	if p.Status != http.StatusCreated || p.Replayed {
		t.Fatalf("place: status %d replayed %v: %s", p.Status, p.Replayed, p.Body)
	}
	var o Order
	if err := json.Unmarshal(p.Body, &o); err != nil {
		t.Fatal(err)
	}
	return &o
}

func seed(t *testing.T, d *dbtest.DB, ps ...orderstest.Product) *orderstest.Seeded {
	t.Helper()
	s, err := orderstest.Seed(context.Background(), d.Store, ps...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func onHand(t *testing.T, d *dbtest.DB, sku string) int64 {
	t.Helper()
	n, err := orderstest.OnHand(context.Background(), d.Store, sku)
	if err != nil {
		t.Fatalf("on hand of %s: %v", sku, err)
	}
	return n
}

func ledgerSum(t *testing.T, d *dbtest.DB, sku string) int64 {
	t.Helper()
	var n int64
	if err := d.DB.QueryRow("SELECT CAST(COALESCE(SUM(delta), 0) AS SIGNED) FROM stock_movements WHERE sku = ?", sku).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestPlaceTakesStockAndPricesFromCatalog(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	s := NewService(d.Store, Config{})
	seed(t, d,
		orderstest.Product{Slug: "tee", Title: "Tee", Variants: []orderstest.Variant{
			{SKU: "TEE-S", Price: 1999, OnHand: 5, Option1: "S"},
			{SKU: "TEE-M", Price: 2199, OnHand: 1, Option1: "M"},
		}},
		orderstest.Product{Slug: "mug", Title: "Mug", Variants: []orderstest.Variant{{SKU: "MUG", Price: 850, OnHand: 10}}},
	)
	o := placeOK(t, s, input("ada@example.com", line("TEE-S", 2), line("MUG", 3), line("TEE-M", 1)))
	if !strings.HasPrefix(o.ID, "ord_") || len(o.ID) < 26 || o.Number == "" || o.Status != Pending {
		t.Fatalf("order %+v", o)
	}
	if !strings.HasPrefix(o.AccessToken, accessTokenPrefix) || len(o.AccessToken) < 40 {
		t.Fatalf("access token %q", o.AccessToken)
	}
	if o.Subtotal != (money.Money{Amount: 8747, Currency: "USD"}) || o.Total != o.Subtotal || o.ItemCount != 6 {
		t.Fatalf("totals %+v %+v items %d", o.Subtotal, o.Total, o.ItemCount)
	}
	if l := o.Lines[0]; l.SKU != "TEE-S" || l.Title != "Tee" || l.VariantTitle != "S" || l.UnitPrice.Amount != 1999 || l.LineTotal.Amount != 3998 {
		t.Fatalf("line 0 %+v", l)
	}
	for sku, want := range map[string]int64{"TEE-S": 3, "TEE-M": 0, "MUG": 7} {
		if got := onHand(t, d, sku); got != want {
			t.Errorf("%s on hand %d, want %d", sku, got, want)
		}
	}
	if got := ledgerSum(t, d, "MUG"); got != -3 {
		t.Errorf("ledger for MUG %d, want -3", got)
	}
	// Each ledger row says what was left after it, and names the order.
	for sku, want := range map[string]int64{"TEE-S": 3, "TEE-M": 0, "MUG": 7} {
		var after int64
		var reason string
		if err := d.DB.QueryRow(`SELECT m.on_hand_after, m.reason FROM stock_movements m
			JOIN orders o ON o.id = m.order_id WHERE m.sku = ? AND o.public_id = ?`, sku, o.ID).Scan(&after, &reason); err != nil {
			t.Fatalf("ledger row of %s: %v", sku, err)
		}
		if after != want || reason != "order" {
			t.Errorf("ledger row of %s: on_hand_after %d reason %q, want %d \"order\"", sku, after, reason, want)
		}
	}
	// TEE-M sold out but TEE-S has stock: the product stays in stock.
	var inStock bool
	if err := d.DB.QueryRow("SELECT in_stock FROM product_listing WHERE category_id = 0 AND slug = 'tee'").Scan(&inStock); err != nil || !inStock {
		t.Errorf("tee listing in_stock %v %v", inStock, err)
	}

	// A later price change does not alter the order.
	if _, err := d.DB.Exec("UPDATE variants SET price = 99999 WHERE sku = 'MUG'"); err != nil {
		t.Fatal(err)
	}
	got, err := s.Get(context.Background(), o.ID, Access{Token: o.AccessToken})
	if err != nil {
		t.Fatal(err)
	}
	if got.Subtotal != o.Subtotal || got.Lines[1].UnitPrice.Amount != 850 || got.AccessToken != "" {
		t.Fatalf("order changed after repricing: %+v", got)
	}
}

func TestSoldOutAndBackInStockSyncTheListing(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	s := NewService(d.Store, Config{})
	seed(t, d, orderstest.Product{Slug: "lamp", Variants: []orderstest.Variant{{SKU: "LAMP", Price: 100, OnHand: 2}}})
	inStock := func() bool {
		var b bool
		if err := d.DB.QueryRow("SELECT in_stock FROM product_listing WHERE category_id = 0 AND slug = 'lamp'").Scan(&b); err != nil {
			t.Fatal(err)
		}
		return b
	}
	o := placeOK(t, s, input("a@example.com", line("LAMP", 2)))
	if inStock() {
		t.Fatal("listing still in stock after the last units sold")
	}
	if _, err := s.Transition(context.Background(), o.ID, Cancel, Access{Admin: true}, "test"); err != nil {
		t.Fatal(err)
	}
	if !inStock() || onHand(t, d, "LAMP") != 2 || ledgerSum(t, d, "LAMP") != 0 {
		t.Fatal("cancel did not put the lamp back in stock")
	}
}

func TestPlaceRefusesWhatCannotBeSold(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	s := NewService(d.Store, Config{})
	seed(t, d,
		orderstest.Product{Slug: "ok", Variants: []orderstest.Variant{{SKU: "OK", Price: 100, OnHand: 5}, {SKU: "OFF", Price: 100, OnHand: 5, Inactive: true}}},
		orderstest.Product{Slug: "draft", Status: "draft", Variants: []orderstest.Variant{{SKU: "DRAFT", Price: 100, OnHand: 5}}},
		orderstest.Product{Slug: "old", Status: "archived", Variants: []orderstest.Variant{{SKU: "OLD", Price: 100, OnHand: 5}}},
		orderstest.Product{Slug: "euro", Variants: []orderstest.Variant{{SKU: "EURO", Price: 100, Currency: "EUR", OnHand: 5}}},
	)
	cases := []struct {
		name  string
		in    PlaceInput
		field string
	}{
		{"unknown SKU", input("a@example.com", line("OK", 1), line("NOPE", 1)), "lines[1].sku"},
		{"SKUs compare exactly", input("a@example.com", line("ok", 1)), "lines[0].sku"},
		{"draft product", input("a@example.com", line("DRAFT", 1)), "lines[0].sku"},
		{"archived product", input("a@example.com", line("OK", 1), line("OLD", 1)), "lines[1].sku"},
		{"inactive variant", input("a@example.com", line("OFF", 1)), "lines[0].sku"},
		{"mixed currencies", input("a@example.com", line("OK", 1), line("EURO", 1)), "lines[1].sku"},
		{"duplicate SKU", input("a@example.com", line("OK", 1), line("OK", 2)), "lines[1].sku"},
		{"zero quantity", input("a@example.com", line("OK", 0)), "lines[0].quantity"},
		{"quantity over the cap", input("a@example.com", line("OK", MaxQuantity+1)), "lines[0].quantity"},
		{"no lines", input("a@example.com"), "lines"},
		{"too many lines", input("a@example.com", make([]LineInput, MaxLines+1)...), "lines"},
		{"bad e-mail", input("Ada <a@example.com>", line("OK", 1)), "email"},
		{"no address", PlaceInput{Email: "a@example.com", Lines: []LineInput{line("OK", 1)}}, "shipping_address.name"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := s.Place(context.Background(), PlaceParams{Scope: "test", Key: newKey(), Input: c.in})
			pe, ok := problem.As(err)
			if !ok || pe.Kind != problem.Unprocessable {
				t.Fatalf("err = %v, want 422", err)
			}
			found := false
			for _, fe := range pe.Errors {
				found = found || fe.Field == c.field
			}
			if !found {
				t.Fatalf("errors %+v do not name %s", pe.Errors, c.field)
			}
		})
	}
	if got := onHand(t, d, "OK"); got != 5 {
		t.Fatalf("refused orders took stock: %d left", got)
	}
	// A SKU that is not for sale answers exactly as one that does not
	// exist, so an anonymous buyer cannot probe for unreleased products.
	answer := func(sku string) string {
		_, err := s.Place(context.Background(), PlaceParams{Scope: "t", Key: newKey(), Input: input("a@example.com", line(sku, 1))})
		return strings.ReplaceAll(fmt.Sprint(err), sku, "SKU")
	}
	unknown := answer("NOPE")
	for _, sku := range []string{"DRAFT", "OLD", "OFF"} {
		if got := answer(sku); got != unknown {
			t.Errorf("%s answers %q, an unknown SKU %q", sku, got, unknown)
		}
	}
}

func TestInsufficientStockNamesEveryShortSKUAndTakesNothing(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	s := NewService(d.Store, Config{})
	seed(t, d, orderstest.Simple("S", 3, 500, 2)...)
	_, err := s.Place(context.Background(), PlaceParams{Scope: "t", Key: newKey(),
		Input: input("a@example.com", line("S-2", 3), line("S-0", 1), line("S-1", 5))})
	pe, ok := problem.As(err)
	if !ok || pe.Kind != problem.InsufficientStock {
		t.Fatalf("err = %v, want insufficient-stock", err)
	}
	short := pe.Extra["short"].([]Short)
	want := []Short{{"S-2", 3, 2}, {"S-1", 5, 2}}
	if fmt.Sprint(short) != fmt.Sprint(want) {
		t.Fatalf("short = %+v, want %+v", short, want)
	}
	for _, sku := range []string{"S-0", "S-1", "S-2"} {
		if onHand(t, d, sku) != 2 || ledgerSum(t, d, sku) != 0 {
			t.Errorf("%s: stock was taken by a refused order", sku)
		}
	}
	var orders int
	_ = d.DB.QueryRow("SELECT COUNT(*) FROM orders").Scan(&orders)
	if orders != 0 {
		t.Fatalf("%d orders written", orders)
	}
}

func TestTransitionsMoveStockAndRefuseIllegalMoves(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	s := NewService(d.Store, Config{})
	seed(t, d, orderstest.Simple("T", 1, 1000, 100)...)
	ctx := context.Background()
	admin := Access{Admin: true}
	move := func(o *Order, a Action, acc Access) (*Order, error) {
		return s.Transition(ctx, o.ID, a, acc, "test")
	}

	// pending -> paid -> fulfilled -> refunded: the goods left, the stock stays.
	o := placeOK(t, s, input("a@example.com", line("T-0", 4)))
	for _, a := range []Action{Pay, Fulfill, Refund} {
		got, err := move(o, a, admin)
		if err != nil {
			t.Fatalf("%s: %v", a, err)
		}
		o.Status = got.Status
	}
	if o.Status != Refunded || onHand(t, d, "T-0") != 96 {
		t.Fatalf("status %s on hand %d", o.Status, onHand(t, d, "T-0"))
	}
	_, err := move(o, Pay, admin)
	if pe, ok := problem.As(err); !ok || pe.Kind != problem.Conflict || pe.Extra["current_state"] != "refunded" {
		t.Fatalf("pay a refunded order: %v", err)
	}

	// paid -> refunded returns the stock, with a ledger row.
	o = placeOK(t, s, input("a@example.com", line("T-0", 6)))
	if _, err := move(o, Pay, admin); err != nil {
		t.Fatal(err)
	}
	got, err := move(o, Refund, admin)
	if err != nil || got.Status != Refunded || got.RefundedAt == nil || got.PaidAt == nil || got.Version != 3 {
		t.Fatalf("refund: %+v %v", got, err)
	}
	if onHand(t, d, "T-0") != 96 || ledgerSum(t, d, "T-0") != -4 {
		t.Fatalf("refund of a paid order did not return its stock: %d, ledger %d", onHand(t, d, "T-0"), ledgerSum(t, d, "T-0"))
	}

	// The buyer cancels a pending order with its token; not a paid one.
	o = placeOK(t, s, input("b@example.com", line("T-0", 1)))
	if _, err := move(o, CustomerCancel, Access{Token: "ot_guess"}); !problem.Is(err, problem.NotFound) {
		t.Fatalf("cancel with a wrong token: %v, want 404", err)
	}
	if _, err := move(o, CustomerCancel, Access{Token: o.AccessToken}); err != nil {
		t.Fatal(err)
	}
	o = placeOK(t, s, input("b@example.com", line("T-0", 1)))
	if _, err := move(o, Pay, admin); err != nil {
		t.Fatal(err)
	}
	_, err = move(o, CustomerCancel, Access{Token: o.AccessToken})
	if pe, ok := problem.As(err); !ok || pe.Kind != problem.Conflict || pe.Extra["current_state"] != "paid" {
		t.Fatalf("buyer cancels a paid order: %v", err)
	}
	if _, err := move(o, Cancel, admin); err != nil {
		t.Fatalf("staff cancel a paid order: %v", err)
	}
	if onHand(t, d, "T-0") != 96 || ledgerSum(t, d, "T-0") != -4 {
		t.Fatalf("stock %d ledger %d after cancels", onHand(t, d, "T-0"), ledgerSum(t, d, "T-0"))
	}
	if _, err := s.Transition(ctx, "ord_doesnotexist", Pay, admin, "test"); !problem.Is(err, problem.NotFound) {
		t.Fatalf("unknown order: %v", err)
	}
}

func TestGetIsForTheTokenOrStaffOnly(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	s := NewService(d.Store, Config{})
	seed(t, d, orderstest.Simple("G", 1, 1000, 10)...)
	ctx := context.Background()
	o := placeOK(t, s, input("a@example.com", line("G-0", 1)))
	other := placeOK(t, s, input("b@example.com", line("G-0", 1)))
	for name, acc := range map[string]Access{
		"no token": {}, "another order's token": {Token: other.AccessToken}, "a token's prefix": {Token: o.AccessToken[:20]},
	} {
		if _, err := s.Get(ctx, o.ID, acc); !problem.Is(err, problem.NotFound) {
			t.Errorf("%s: %v, want 404", name, err)
		}
	}
	if _, err := s.Get(ctx, "ord_guessed", Access{Admin: true}); !problem.Is(err, problem.NotFound) {
		t.Errorf("guessed id: %v", err)
	}
	if _, err := s.Get(ctx, o.ID, Access{Admin: true}); err != nil {
		t.Error(err)
	}
	var stored []byte
	_ = d.DB.QueryRow("SELECT access_token_hash FROM orders WHERE public_id = ?", o.ID).Scan(&stored)
	if len(stored) != 32 || strings.Contains(string(stored), o.AccessToken) {
		t.Errorf("access token not stored as its SHA-256")
	}
}

func TestListPagesWithASignedCursor(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	s := NewService(d.Store, Config{})
	seed(t, d, orderstest.Simple("L", 1, 100, 1000)...)
	ctx := context.Background()
	var ids []string
	for i := range 7 {
		email := "a@example.com"
		if i%2 == 1 {
			email = "b@example.com"
		}
		ids = append(ids, placeOK(t, s, input(email, line("L-0", 1))).ID)
	}
	// Two orders in one microsecond: the id breaks the tie.
	if _, err := d.DB.Exec("UPDATE orders SET created_at = '2026-01-01 00:00:00' WHERE public_id IN (?, ?)", ids[2], ids[3]); err != nil {
		t.Fatal(err)
	}
	var seen []string
	cursor := ""
	for pages := 0; ; pages++ {
		p, err := s.List(ctx, Filter{}, cursor, 3)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range p.Items {
			seen = append(seen, o.ID)
		}
		if p.NextCursor == nil {
			break
		}
		cursor = *p.NextCursor
		if pages > 5 {
			t.Fatal("endless paging")
		}
	}
	want := []string{ids[6], ids[5], ids[4], ids[1], ids[0], ids[3], ids[2]}
	if fmt.Sprint(seen) != fmt.Sprint(want) {
		t.Fatalf("paged %v\nwant   %v", seen, want)
	}

	p, err := s.List(ctx, Filter{Email: "B@example.com"}, "", 2)
	if err != nil || len(p.Items) != 2 || p.NextCursor == nil {
		t.Fatalf("email filter: %+v %v", p, err)
	}
	// A cursor is refused with other filters, or altered.
	if _, err := s.List(ctx, Filter{}, *p.NextCursor, 2); !problem.Is(err, problem.Invalid) {
		t.Fatalf("cursor with other filters: %v", err)
	}
	c := []byte(*p.NextCursor)
	c[3] ^= 1
	if _, err := s.List(ctx, Filter{Email: "B@example.com"}, string(c), 2); !problem.Is(err, problem.Invalid) {
		t.Fatalf("altered cursor: %v", err)
	}
	p, err = s.List(ctx, Filter{Status: Paid}, "", 10)
	if err != nil || len(p.Items) != 0 {
		t.Fatalf("status filter: %+v %v", p, err)
	}
	p, err = s.List(ctx, Filter{CreatedBefore: time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC)}, "", 10)
	if err != nil || len(p.Items) != 2 {
		t.Fatalf("created_before: %+v %v", p, err)
	}
}
