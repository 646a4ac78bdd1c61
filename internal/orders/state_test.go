package orders

import (
	"context"
	"strings"
	"testing"

	"github.com/shelfcommerce/shelf/internal/dbtest"
	"github.com/shelfcommerce/shelf/internal/orders/orderstest"
	"github.com/shelfcommerce/shelf/internal/problem"
)

// TestStateMachine pins every (status, action) pair: the moves the API
// contract allows and nothing else.
func TestStateMachine(t *testing.T) {
	t.Parallel()
	type want struct {
		to    Status
		stock bool
	}
	allowed := map[Status]map[Action]want{
		Pending: {
			Pay:            {Paid, false},
			Cancel:         {Cancelled, true},
			CustomerCancel: {Cancelled, true},
			Expire:         {Cancelled, true},
		},
		Paid: {
			Fulfill: {Fulfilled, false},
			Cancel:  {Cancelled, true},
			Refund:  {Refunded, true},
		},
		Fulfilled: {
			Refund: {Refunded, false},
		},
	}
	n := 0
	for _, from := range Statuses {
		for _, a := range Actions {
			n++
			to, stock, ok := Next(from, a)
			w, want := allowed[from][a]
			switch {
			case want && !ok:
				t.Errorf("%s --%s--> refused, want %s", from, a, w.to)
			case !want && ok:
				t.Errorf("%s --%s--> %s allowed, want a refusal", from, a, to)
			case ok && (to != w.to || stock != w.stock):
				t.Errorf("%s --%s--> %s (returns stock %v), want %s (%v)", from, a, to, stock, w.to, w.stock)
			}
		}
	}
	if n != len(Statuses)*len(Actions) || n != 30 {
		t.Fatalf("checked %d pairs, want all 30", n)
	}
}

func TestStatusValid(t *testing.T) {
	t.Parallel()
	for _, s := range Statuses {
		if !s.Valid() {
			t.Errorf("%s not valid", s)
		}
	}
	for _, s := range []Status{"", "PAID", "shipped"} {
		if s.Valid() {
			t.Errorf("%q valid", s)
		}
	}
}

// Staff with an API key of a long name (up to 191 characters, so "api key "
// and the name make up to 199) cancel an order and its stock returns: the
// ledger keeps who did it, cut to its column, and never refuses the change.
func TestALongActorNameIsCutNotRefused(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	s := NewService(d.Store, Config{})
	seed(t, d, orderstest.Simple("KN", 1, 100, 10)...)
	o := placeOK(t, s, input("kn@example.com", line("KN-0", 1)))
	actor := "api key " + strings.Repeat("ñ", 191)
	if _, err := s.Transition(context.Background(), o.ID, Cancel, Access{Admin: true}, actor); err != nil {
		t.Fatalf("cancel: %v (status %d)", err, problem.Status(err))
	}
	if got := onHand(t, d, "KN-0"); got != 10 {
		t.Fatalf("on hand after the cancel: %d, want 10", got)
	}
	var stored string
	if err := d.DB.QueryRow("SELECT actor FROM stock_movements WHERE reason = 'order_cancelled'").Scan(&stored); err != nil {
		t.Fatal(err)
	}
	if want := []rune(actor)[:190]; stored != string(want)+"…" {
		t.Fatalf("ledger actor %q, want the first 190 characters and an ellipsis", stored)
	}
}
