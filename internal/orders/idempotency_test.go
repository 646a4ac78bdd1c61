package orders

import (
	"bytes"
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/shelfcommerce/shelf/db"
	"github.com/shelfcommerce/shelf/internal/dbtest"
	"github.com/shelfcommerce/shelf/internal/orders/orderstest"
	"github.com/shelfcommerce/shelf/internal/problem"
)

func countOrders(t *testing.T, d *dbtest.DB) int {
	t.Helper()
	var n int
	if err := d.DB.QueryRow("SELECT COUNT(*) FROM orders").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestIdempotentReplay(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	s := NewService(d.Store, Config{})
	seed(t, d, orderstest.Simple("I", 2, 1000, 5)...)
	ctx := context.Background()
	in := input("a@example.com", line("I-0", 1))
	p := PlaceParams{Scope: ScopeForEmail(in.Email), Key: "k-1", Input: in}

	first, err := s.Place(ctx, p)
	if err != nil || first.Status != http.StatusCreated || first.Replayed {
		t.Fatalf("first: %+v %v", first, err)
	}
	// The same body, differently spelled (whitespace is normalised away).
	p.Input.Email = "  a@example.com "
	again, err := s.Place(ctx, p)
	if err != nil || !again.Replayed || again.Status != first.Status || !bytes.Equal(again.Body, first.Body) || again.OrderID != first.OrderID {
		t.Fatalf("replay: %+v %v", again, err)
	}
	if countOrders(t, d) != 1 || onHand(t, d, "I-0") != 4 {
		t.Fatal("a replay made a second order")
	}
	// The stored response holds the access token: it must not be readable.
	var stored []byte
	_ = d.DB.QueryRow("SELECT response_body FROM idempotency_keys").Scan(&stored)
	if bytes.Contains(stored, []byte(`"access_token"`)) || bytes.Contains(stored, []byte("k-1")) {
		t.Fatal("stored response is readable in the database")
	}

	// Same key, another body: 422, and no order.
	p.Input = input("a@example.com", line("I-0", 2))
	if _, err := s.Place(ctx, p); !problem.Is(err, problem.Unprocessable) {
		t.Fatalf("other body: %v, want 422", err)
	}
	// Same key in another scope (another buyer) is another key.
	other := PlaceParams{Scope: ScopeForEmail("b@example.com"), Key: "k-1", Input: input("b@example.com", line("I-0", 1))}
	if res, err := s.Place(ctx, other); err != nil || res.Replayed {
		t.Fatalf("other scope: %+v %v", res, err)
	}
	if countOrders(t, d) != 2 {
		t.Fatal("want 2 orders")
	}
}

func TestFailedOrderIsStoredAndReplayed(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	s := NewService(d.Store, Config{})
	seed(t, d, orderstest.Simple("F", 1, 1000, 1)...)
	ctx := context.Background()
	p := PlaceParams{Scope: "t", Key: "k-fail", Input: input("a@example.com", line("F-0", 2))}
	if _, err := s.Place(ctx, p); !problem.Is(err, problem.InsufficientStock) {
		t.Fatalf("first: %v", err)
	}
	// Stock arrives; the key still answers what it answered.
	if _, err := d.DB.Exec("UPDATE inventory SET on_hand = 10"); err != nil {
		t.Fatal(err)
	}
	res, err := s.Place(ctx, p)
	if err != nil || !res.Replayed || res.Status != http.StatusConflict || !bytes.Contains(res.Body, []byte("insufficient-stock")) {
		t.Fatalf("replay of a failure: %+v %v", res, err)
	}
	if countOrders(t, d) != 0 {
		t.Fatal("an order was made")
	}
}

func TestKeyInUseAndAbandonedClaims(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	s := NewService(d.Store, Config{})
	seed(t, d, orderstest.Simple("U", 1, 1000, 5)...)
	ctx := context.Background()
	in := input("a@example.com", line("U-0", 1))
	claimRow := func(key string, at time.Time) {
		c := newClaim("t", key, in.hash())
		if err := d.Q.ClaimIdempotencyKey(ctx, db.ClaimIdempotencyKeyParams{
			Scope: c.scope, KeyHash: c.keyHash, RequestHash: c.reqHash, ClaimToken: randomBytes(16),
			ClaimedAt: at, ExpiresAt: at.Add(time.Hour),
		}); err != nil {
			t.Fatal(err)
		}
	}
	// A request with this key is running: 409.
	claimRow("busy", clock())
	if _, err := s.Place(ctx, PlaceParams{Scope: "t", Key: "busy", Input: in}); !problem.Is(err, problem.IdempotencyInUse) {
		t.Fatalf("running key: %v, want idempotency-key-in-use", err)
	}
	// Its request died long ago without committing: the retry takes over.
	claimRow("dead", clock().Add(-claimLease-time.Second))
	res, err := s.Place(ctx, PlaceParams{Scope: "t", Key: "dead", Input: in})
	if err != nil || res.Status != http.StatusCreated {
		t.Fatalf("abandoned key: %+v %v", res, err)
	}
}

func TestKeysExpire(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	s := NewService(d.Store, Config{IdempotencyTTL: time.Millisecond})
	at := clock()
	s.now = func() time.Time { return at }
	seed(t, d, orderstest.Simple("E", 1, 1000, 5)...)
	ctx := context.Background()
	p := PlaceParams{Scope: "t", Key: "k", Input: input("a@example.com", line("E-0", 1))}
	if _, err := s.Place(ctx, p); err != nil {
		t.Fatal(err)
	}
	at = at.Add(5 * time.Millisecond)
	res, err := s.Place(ctx, p)
	if err != nil || res.Replayed || countOrders(t, d) != 2 {
		t.Fatalf("an expired key was replayed: %+v %v", res, err)
	}
	at = at.Add(5 * time.Millisecond)
	n, err := s.SweepIdempotencyKeys(ctx)
	if err != nil || n != 1 {
		t.Fatalf("sweep: %d %v", n, err)
	}
}
