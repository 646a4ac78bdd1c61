package orders

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shelfcommerce/shelf/internal/dbtest"
	"github.com/shelfcommerce/shelf/internal/orders/orderstest"
	"github.com/shelfcommerce/shelf/internal/problem"
)

// testClock is a clock a test moves forward instead of sleeping.
type testClock struct{ offset atomic.Int64 }

func (c *testClock) now() time.Time          { return time.Now().Add(time.Duration(c.offset.Load())) }
func (c *testClock) advance(d time.Duration) { c.offset.Add(int64(d)) }

// expiryEnv is a service with a one-hour TTL on a clock the test moves, and
// one product per SKU prefix-0..n-1 with onHand units each.
func expiryEnv(t *testing.T, prefix string, n int, onHand int64) (*dbtest.DB, *Service, *testClock) {
	t.Helper()
	d := dbtest.New(t)
	clock := &testClock{}
	s := NewService(d.Store, Config{PendingOrderTTL: time.Hour, Now: clock.now})
	seed(t, d, orderstest.Simple(prefix, n, 100, onHand)...)
	return d, s, clock
}

func reasonOf(o *Order) string {
	if o.CancelReason == nil {
		return ""
	}
	return string(*o.CancelReason)
}

// A buyer who reserves stock and never pays gets it back into the shop once
// the TTL passes; the order says why it was cancelled, and a late payment is
// refused naming the order's state.
func TestUnpaidOrdersExpireAndReturnTheirStock(t *testing.T) {
	t.Parallel()
	d, s, clock := expiryEnv(t, "X", 2, 10)
	ctx := context.Background()
	hoard := placeOK(t, s, input("hoarder@example.com", line("X-0", 4), line("X-1", 6)))
	paid := placeOK(t, s, input("buyer@example.com", line("X-0", 1)))
	if _, err := s.Transition(ctx, paid.ID, Pay, Access{Admin: true}, "api key ops"); err != nil {
		t.Fatal(err)
	}
	clock.advance(59 * time.Minute)
	fresh := placeOK(t, s, input("late@example.com", line("X-1", 1)))
	if n, err := s.ExpirePending(ctx, clock.now()); err != nil || n != 0 {
		t.Fatalf("before the TTL: expired %d (%v), want none", n, err)
	}
	if got := onHand(t, d, "X-0"); got != 5 {
		t.Fatalf("X-0 on hand %d, want 5 while the order is pending", got)
	}

	clock.advance(2 * time.Minute)
	if n, err := s.ExpirePending(ctx, clock.now()); err != nil || n != 1 {
		t.Fatalf("expired %d (%v), want exactly the unpaid order older than the TTL", n, err)
	}
	o, err := s.Get(ctx, hoard.ID, Access{Admin: true})
	if err != nil {
		t.Fatal(err)
	}
	if o.Status != Cancelled || reasonOf(o) != "expired" || o.CancelledAt == nil {
		t.Fatalf("expired order: status %s reason %q cancelled_at %v", o.Status, reasonOf(o), o.CancelledAt)
	}
	for sku, want := range map[string]int64{"X-0": 9, "X-1": 9} {
		if got := onHand(t, d, sku); got != want {
			t.Errorf("%s on hand %d after expiry, want %d", sku, got, want)
		}
		// The ledger still explains every unit.
		if got := ledgerSum(t, d, sku); got != want-10 {
			t.Errorf("%s ledger sums to %d, want %d", sku, got, want-10)
		}
	}
	var rows int
	if err := d.DB.QueryRow(`SELECT COUNT(*) FROM stock_movements m JOIN orders o ON o.id = m.order_id
		WHERE o.public_id = ? AND m.reason = 'order_cancelled' AND m.actor = ?`, hoard.ID, expiryActor).Scan(&rows); err != nil || rows != 2 {
		t.Fatalf("ledger rows of the expiry: %d (%v), want one per line", rows, err)
	}
	for _, id := range []string{paid.ID, fresh.ID} {
		if o, _ := s.Get(ctx, id, Access{Admin: true}); o.Status == Cancelled {
			t.Errorf("order %s was expired although it is paid or younger than the TTL", id)
		}
	}

	_, err = s.Transition(ctx, hoard.ID, Pay, Access{Admin: true}, "api key ops")
	pe, ok := problem.As(err)
	if !ok || pe.Kind != problem.Conflict || pe.Extra["current_state"] != "cancelled" || pe.Extra["cancel_reason"] != "expired" {
		t.Fatalf("paying an expired order: %v %+v, want 409 naming cancelled/expired", err, pe)
	}
	// A second sweep finds nothing more to do.
	if n, err := s.ExpirePending(ctx, clock.now()); err != nil || n != 0 {
		t.Fatalf("second sweep expired %d (%v)", n, err)
	}
}

// Between the TTL and the next sweep, an order is already expired for
// whoever touches it: paying is refused (and the stock comes back), a
// cancel answers with the expired order.
func TestPayingAnOrderPastItsTTLBeforeTheSweepIsRefused(t *testing.T) {
	t.Parallel()
	d, s, clock := expiryEnv(t, "Y", 1, 10)
	ctx := context.Background()
	a := placeOK(t, s, input("a@example.com", line("Y-0", 3)))
	b := placeOK(t, s, input("b@example.com", line("Y-0", 2)))
	clock.advance(time.Hour)

	_, err := s.Transition(ctx, a.ID, Pay, Access{Admin: true}, "api key ops")
	pe, ok := problem.As(err)
	if !ok || pe.Kind != problem.Conflict || pe.Extra["cancel_reason"] != "expired" {
		t.Fatalf("paying an order past its TTL: %v, want 409 expired", err)
	}
	if got := onHand(t, d, "Y-0"); got != 8 {
		t.Fatalf("on hand %d, want the refused order's 3 units back (8)", got)
	}
	o, err := s.Transition(ctx, b.ID, CustomerCancel, Access{Token: b.AccessToken}, "buyer")
	if err != nil || o.Status != Cancelled || reasonOf(o) != "expired" {
		t.Fatalf("cancel past the TTL: %v %+v, want the order cancelled as expired", err, o)
	}
	if got := onHand(t, d, "Y-0"); got != 10 {
		t.Fatalf("on hand %d, want all 10 back", got)
	}
}

func TestEveryCancelSaysWhy(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	s := NewService(d.Store, Config{PendingOrderTTL: time.Hour})
	seed(t, d, orderstest.Simple("Z", 1, 500, 10)...)
	ctx := context.Background()
	mine := placeOK(t, s, input("a@example.com", line("Z-0", 1)))
	staff := placeOK(t, s, input("b@example.com", line("Z-0", 1)))
	open := placeOK(t, s, input("c@example.com", line("Z-0", 1)))
	if reasonOf(open) != "" {
		t.Fatalf("a pending order has cancel_reason %q", reasonOf(open))
	}
	o1, err := s.Transition(ctx, mine.ID, CustomerCancel, Access{Token: mine.AccessToken}, "buyer")
	if err != nil || reasonOf(o1) != "customer" {
		t.Fatalf("buyer's cancel: %v reason %q", err, reasonOf(o1))
	}
	o2, err := s.Transition(ctx, staff.ID, Cancel, Access{Admin: true}, "api key ops")
	if err != nil || reasonOf(o2) != "admin" {
		t.Fatalf("staff cancel: %v reason %q", err, reasonOf(o2))
	}
	// What the order shows afterwards, read back from the database.
	for id, want := range map[string]string{mine.ID: "customer", staff.ID: "admin", open.ID: ""} {
		if o, err := s.Get(ctx, id, Access{Admin: true}); err != nil || reasonOf(o) != want {
			t.Errorf("order %s reads cancel_reason %q (%v), want %q", id, reasonOf(o), err, want)
		}
	}
}

func TestTTLZeroNeverExpires(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	s := NewService(d.Store, Config{})
	seed(t, d, orderstest.Simple("N", 1, 500, 10)...)
	o := placeOK(t, s, input("a@example.com", line("N-0", 1)))
	if n, err := s.ExpirePending(context.Background(), time.Now().Add(1000*time.Hour)); err != nil || n != 0 {
		t.Fatalf("TTL 0 expired %d orders (%v)", n, err)
	}
	if _, err := s.Transition(context.Background(), o.ID, Pay, Access{Admin: true}, "ops"); err != nil {
		t.Fatalf("paying an old order without a TTL: %v", err)
	}
}

// Several instances sweeping at once expire each order exactly once: the
// stock that comes back is exactly what the orders took, and more orders
// than one batch are all reached.
func TestConcurrentSweepsExpireEachOrderOnce(t *testing.T) {
	t.Parallel()
	d, s, clock := expiryEnv(t, "C", 3, 1000)
	cfg := Config{PendingOrderTTL: time.Hour, Now: clock.now}
	const orders = expiryBatch*2 + 7
	for i := range orders {
		placeOK(t, s, input(fmt.Sprintf("b%d@example.com", i), line("C-0", 1), line(fmt.Sprintf("C-%d", 1+i%2), 2)))
	}
	clock.advance(2 * time.Hour)
	var wg sync.WaitGroup
	var total atomic.Int64
	errs := make(chan error, 4)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n, err := NewService(d.Store, cfg).ExpirePending(context.Background(), clock.now())
			total.Add(int64(n))
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	// A sweep that met only orders claimed by others stops early; one more
	// pass (the next tick) picks up anything left.
	n, err := s.ExpirePending(context.Background(), clock.now())
	if err != nil {
		t.Fatal(err)
	}
	if got := total.Load() + int64(n); got != orders {
		t.Fatalf("expired %d orders in all, want %d", got, orders)
	}
	for _, sku := range []string{"C-0", "C-1", "C-2"} {
		if got := onHand(t, d, sku); got != 1000 {
			t.Errorf("%s on hand %d after every order expired, want 1000", sku, got)
		}
	}
	var returned int
	if err := d.DB.QueryRow("SELECT COUNT(*) FROM stock_movements WHERE reason = 'order_cancelled'").Scan(&returned); err != nil || returned != 2*orders {
		t.Fatalf("%d return rows in the ledger (%v), want %d (one per line, none twice)", returned, err, 2*orders)
	}
}

// An order read past its TTL before the sweep reached it reads expired,
// with its stock back, as a payment would find it: never "pending" once a
// payment would be refused.
func TestAnOrderReadPastItsTTLHasExpired(t *testing.T) {
	t.Parallel()
	d, s, clock := expiryEnv(t, "R", 1, 10)
	ctx := context.Background()
	o := placeOK(t, s, input("slow@example.com", line("R-0", 4)))
	clock.advance(61 * time.Minute)
	got, err := s.Get(ctx, o.ID, Access{Token: o.AccessToken})
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != Cancelled || reasonOf(got) != "expired" {
		t.Fatalf("read past the TTL: status %s reason %q, want cancelled, expired", got.Status, reasonOf(got))
	}
	if n := onHand(t, d, "R-0"); n != 10 {
		t.Errorf("R-0 on hand %d, want its 10 back", n)
	}
	if again, err := s.Get(ctx, o.ID, Access{Admin: true}); err != nil || again.Status != Cancelled {
		t.Fatalf("read again: %v %v", again, err)
	}
	if n, err := s.ExpirePending(ctx, clock.now()); err != nil || n != 0 {
		t.Errorf("the sweep expired %d (%v) after the read had", n, err)
	}
}
