package orders

import (
	"context"
	"encoding/json"
	"slices"
	"testing"

	"github.com/shelfcommerce/shelf/internal/dbtest"
	"github.com/shelfcommerce/shelf/internal/events"
	"github.com/shelfcommerce/shelf/internal/orders/orderstest"
)

type recorded struct {
	Type string
	Data map[string]any
}

func outbox(t *testing.T, d *dbtest.DB) []recorded {
	t.Helper()
	evs, _, err := events.Recorded(context.Background(), d.DB, 0)
	if err != nil {
		t.Fatal(err)
	}
	var out []recorded
	for _, e := range evs {
		r := recorded{Type: e.Type}
		if err := json.Unmarshal(e.Data, &r.Data); err != nil {
			t.Fatalf("data is not JSON: %v: %s", err, e.Data)
		}
		out = append(out, r)
	}
	return out
}

// An order records order.created and one stock.changed per line with the
// level left, in its own transaction; a refused order records nothing; each
// state change records its event, and a cancel the stock it returns.
func TestOrderLifeRecordsEvents(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	s := NewService(d.Store, Config{})
	seed(t, d,
		orderstest.Product{Slug: "tee", Title: "Tee", Variants: []orderstest.Variant{{SKU: "TEE-S", Price: 1999, OnHand: 5}, {SKU: "TEE-M", Price: 1999, OnHand: 1}}},
	)
	o := placeOK(t, s, input("ada@example.com", line("TEE-S", 2), line("TEE-M", 1)))
	if _, err := s.Place(context.Background(), PlaceParams{Scope: ScopeForEmail("bob@example.com"), Key: newKey(),
		Input: input("bob@example.com", line("TEE-M", 1))}); err == nil {
		t.Fatal("an order for sold-out stock was placed")
	}
	evs := outbox(t, d)
	if len(evs) != 3 || evs[0].Type != "order.created" {
		t.Fatalf("placing recorded %v", evs)
	}
	if c := evs[0].Data; c["order_id"] != o.ID || c["number"] != o.Number || c["status"] != "pending" {
		t.Fatalf("order.created %v", c)
	}
	avail := map[any]any{}
	for _, e := range evs[1:] {
		if e.Type != "stock.changed" {
			t.Fatalf("placing recorded %v", evs)
		}
		avail[e.Data["sku"]] = e.Data["available"]
	}
	if avail["TEE-S"] != 3.0 || avail["TEE-M"] != 0.0 {
		t.Fatalf("stock.changed levels %v, want TEE-S 3, TEE-M 0", avail)
	}

	ctx := context.Background()
	if _, err := s.Transition(ctx, o.ID, Pay, Access{Admin: true}, "test"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Transition(ctx, o.ID, Fulfill, Access{Admin: true}, "test"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Transition(ctx, o.ID, Cancel, Access{Admin: true}, "test"); err == nil {
		t.Fatal("a fulfilled order was cancelled")
	}
	if _, err := s.Transition(ctx, o.ID, Refund, Access{Admin: true}, "test"); err != nil {
		t.Fatal(err)
	}
	var types []string
	for _, e := range outbox(t, d)[3:] {
		types = append(types, e.Type)
		if e.Data["order_id"] != o.ID || "order."+e.Data["status"].(string) != e.Type {
			t.Errorf("%s: %v", e.Type, e.Data)
		}
	}
	if want := []string{"order.paid", "order.fulfilled", "order.refunded"}; !slices.Equal(types, want) {
		t.Fatalf("life recorded %v, want %v", types, want)
	}

	o2 := placeOK(t, s, input("cy@example.com", line("TEE-S", 3)))
	if _, err := s.Transition(ctx, o2.ID, Cancel, Access{Admin: true}, "test"); err != nil {
		t.Fatal(err)
	}
	evs = outbox(t, d)
	evs = evs[len(evs)-2:]
	if evs[0].Type != "order.cancelled" || evs[1].Type != "stock.changed" || evs[1].Data["available"] != 3.0 || evs[1].Data["delta"] != 3.0 {
		t.Fatalf("cancel recorded %v", evs)
	}
}
