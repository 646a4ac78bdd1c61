package orders

import "testing"

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
