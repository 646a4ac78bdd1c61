package orders

import (
	"bytes"
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/shelfcommerce/shelf/internal/dbtest"
	"github.com/shelfcommerce/shelf/internal/orders/orderstest"
	"github.com/shelfcommerce/shelf/internal/problem"
	"github.com/shelfcommerce/shelf/internal/store"
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
	// Same key under another e-mail address (a retry that fixed a typo) is
	// another body too: 422, no second order, and nothing of the first
	// answer is shown.
	other := PlaceParams{Scope: ScopeForEmail("b@example.com"), Key: "k-1", Input: input("b@example.com", line("I-0", 1))}
	if res, err := s.Place(ctx, other); !problem.Is(err, problem.Unprocessable) || res != nil {
		t.Fatalf("other address: %+v %v, want 422", res, err)
	}
	if countOrders(t, d) != 1 || onHand(t, d, "I-0") != 4 {
		t.Fatalf("the key under another address made an order: %d orders, %d on hand", countOrders(t, d), onHand(t, d, "I-0"))
	}
	// An API key's requests are scoped to it alone: the key is another key there.
	staff := PlaceParams{Scope: ScopeForAPIKey(7), Key: "k-1", Input: input("b@example.com", line("I-0", 1))}
	if res, err := s.Place(ctx, staff); err != nil || res.Replayed {
		t.Fatalf("API key scope: %+v %v", res, err)
	}
	if countOrders(t, d) != 2 {
		t.Fatal("want 2 orders")
	}
}

// An anonymous key whose record expired (and was not swept yet) is free
// again, under any address.
func TestAnExpiredAnonymousKeyIsFreeUnderAnotherAddress(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	s := NewService(d.Store, Config{})
	seed(t, d, orderstest.Simple("X", 1, 1000, 5)...)
	ctx := context.Background()
	a := input("a@example.com", line("X-0", 1))
	if _, err := s.Place(ctx, PlaceParams{Scope: ScopeForEmail(a.Email), Key: "k-x", Input: a}); err != nil {
		t.Fatal(err)
	}
	if _, err := d.DB.Exec("UPDATE idempotency_keys SET expires_at = ?", time.Now().UTC().Add(-time.Minute)); err != nil {
		t.Fatal(err)
	}
	b := input("b@example.com", line("X-0", 1))
	if res, err := s.Place(ctx, PlaceParams{Scope: ScopeForEmail(b.Email), Key: "k-x", Input: b}); err != nil || res.Status != http.StatusCreated || res.Replayed {
		t.Fatalf("the expired key under another address: %+v %v", res, err)
	}
	if countOrders(t, d) != 2 || onHand(t, d, "X-0") != 3 {
		t.Fatalf("%d orders, %d on hand; want 2 and 3", countOrders(t, d), onHand(t, d, "X-0"))
	}
	// A refusal too: the expired record is no reason to answer 422, and the
	// refusal is stored (a retry gets it again).
	if _, err := d.DB.Exec("UPDATE idempotency_keys SET expires_at = ?", time.Now().UTC().Add(-time.Minute)); err != nil {
		t.Fatal(err)
	}
	c := PlaceParams{Scope: ScopeForEmail("c@example.com"), Key: "k-x", Input: input("c@example.com", line("X-0", 9))}
	if _, err := s.Place(ctx, c); !problem.Is(err, problem.InsufficientStock) {
		t.Fatalf("a refused order with the expired key: %v, want 409 insufficient-stock", err)
	}
	if again, err := s.Place(ctx, c); err != nil || !again.Replayed || again.Status != http.StatusConflict {
		t.Fatalf("its retry: %+v %v, want the stored 409 replayed", again, err)
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

// A 4xx that cannot be stored under its key (the database fails as it is
// written) is not what the client is told: it gets a 503 and the key is
// free, so the retry's answer is the first one stored, and every later
// retry gets that same answer even after the stock has changed.
func TestAnUnstoredClientErrorIsA503(t *testing.T) {
	d, f := dbtest.NewFaulty(t)
	s := NewService(d.Store, Config{})
	seed(t, d, orderstest.Simple("N", 1, 1000, 1)...)
	ctx := context.Background()
	p := PlaceParams{Scope: "t", Key: "k-down", Input: input("a@example.com", line("N-0", 2))}
	f.Set("INSERT INTO idempotency_keys", 1053, 1) // server shutdown, as the 409 is stored
	_, err := s.Place(ctx, p)
	if !store.IsUnavailable(err) || problem.Status(err) != http.StatusServiceUnavailable {
		t.Fatalf("first: %v (status %d), want a 503", err, problem.Status(err))
	}
	if _, err := s.Place(ctx, p); !problem.Is(err, problem.InsufficientStock) {
		t.Fatalf("retry: %v, want the 409 afresh", err)
	}
	if _, err := d.DB.Exec("UPDATE inventory SET on_hand = 10"); err != nil {
		t.Fatal(err)
	}
	res, err := s.Place(ctx, p)
	if err != nil || !res.Replayed || res.Status != http.StatusConflict {
		t.Fatalf("later retry: %+v %v, want the stored 409", res, err)
	}
}

// firstWritesKey is a first request with c's key, running: inside its open
// transaction it has written the key as a placed order does last. The test
// ends it; the cleanup rolls back what it left open.
func firstWritesKey(t *testing.T, d *dbtest.DB, s *Service, c *claim) *store.Tx {
	t.Helper()
	tx, err := d.Store.Begin(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tx.Rollback() })
	if err := s.store(context.Background(), tx.Q, c, http.StatusCreated, []byte(`{}`), 0); err != nil {
		t.Fatal(err)
	}
	return tx
}

// A retry sent while its first request runs gets the in-use 409 at once,
// without waiting for that request: the running order's uncommitted record
// of its key is all the probe meets. Once the first has rolled back, the key
// is free.
func TestKeyInUseWhileItsOrderRuns(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	s := NewService(d.Store, Config{})
	seed(t, d, orderstest.Simple("R", 1, 1000, 5)...)
	ctx := context.Background()
	in := input("a@example.com", line("R-0", 1))
	p := PlaceParams{Scope: "t", Key: "running", Input: in}

	tx := firstWritesKey(t, d, s, s.newClaim(p.Scope, p.Key, in.hash()))
	// Far below the server's lock wait (innodb_lock_wait_timeout, 50 s by
	// default): a retry that waited for the first request would miss it.
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	_, err := s.Place(rctx, p)
	if pe, ok := problem.As(err); !ok || pe.Kind != problem.IdempotencyInUse || pe.RetryAfter <= 0 || pe.RetryAfter > claimLease {
		t.Fatalf("retry while the first runs: %v, want idempotency-key-in-use with a Retry-After", err)
	}
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	res, err := s.Place(ctx, p)
	if err != nil || res.Status != http.StatusCreated || res.Replayed || onHand(t, d, "R-0") != 4 {
		t.Fatalf("after the first rolled back: %+v %v", res, err)
	}
}

// Two requests with one key that both found it new: the one whose INSERT of
// the key meets the other's committed record answers 409, and its order,
// stock and all, is rolled back.
func TestTheSecondOfTwoRacingRequestsRollsBack(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	s := NewService(d.Store, Config{})
	seed(t, d, orderstest.Simple("T", 1, 1000, 5)...)
	ctx := context.Background()
	in, _ := input("a@example.com", line("T-0", 1)).Normalize(Limits{})
	c := s.newClaim("t", "raced", in.hash())
	// Both find the key new...
	replay, variants, err := s.acquire(ctx, c, []string{"T-0"})
	if err != nil || replay != nil || len(variants) != 1 {
		t.Fatalf("acquire: %+v %v %v", replay, variants, err)
	}
	// ...and the first writes it.
	tx := firstWritesKey(t, d, s, c)
	committed := make(chan error, 1)
	go func() {
		time.Sleep(100 * time.Millisecond) // the second is waiting on the key, or not yet there: the same outcome
		committed <- tx.Commit()
	}()
	_, err = s.place(ctx, in, c, variants)
	if err := <-committed; err != nil {
		t.Fatal(err)
	}
	if !problem.Is(err, problem.IdempotencyInUse) {
		t.Fatalf("second of two: %v, want idempotency-key-in-use", err)
	}
	if countOrders(t, d) != 0 || onHand(t, d, "T-0") != 5 || ledgerSum(t, d, "T-0") != 0 {
		t.Fatal("the second request's order was not rolled back")
	}
}

// A "running" claim committed on its own (how an earlier version of the
// service claimed a key before its order) holds the key only for its lease:
// the in-use 409 says when to retry, and a retry after the lease drops it
// and places the order.
func TestEarlierVersionsClaims(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	s := NewService(d.Store, Config{})
	seed(t, d, orderstest.Simple("U", 1, 1000, 5)...)
	ctx := context.Background()
	in := input("a@example.com", line("U-0", 1))
	claimRow := func(key string, at time.Time) {
		c := s.newClaim("t", key, in.hash())
		if _, err := d.DB.ExecContext(ctx, `INSERT INTO idempotency_keys (scope, key_hash, request_hash, state,
			claim_token, response_status, response_body, claimed_at, expires_at) VALUES (?, ?, ?, 'running', ?, 0, '', ?, ?)`,
			c.scope, c.keyHash, c.reqHash, randomBytes(16), at, at.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	claimRow("busy", clock())
	_, err := s.Place(ctx, PlaceParams{Scope: "t", Key: "busy", Input: in})
	if pe, ok := problem.As(err); !ok || pe.Kind != problem.IdempotencyInUse || pe.RetryAfter <= 0 || pe.RetryAfter > claimLease {
		t.Fatalf("running key: %v, want idempotency-key-in-use with a Retry-After within the lease", err)
	}
	if claimLease > 15*time.Second {
		t.Fatalf("a crashed request holds its key for %v", claimLease)
	}
	claimRow("dead", clock().Add(-claimLease-time.Second))
	res, err := s.Place(ctx, PlaceParams{Scope: "t", Key: "dead", Input: in})
	if err != nil || res.Status != http.StatusCreated {
		t.Fatalf("abandoned key: %+v %v", res, err)
	}
	again, err := s.Place(ctx, PlaceParams{Scope: "t", Key: "dead", Input: in})
	if err != nil || !again.Replayed || !bytes.Equal(again.Body, res.Body) {
		t.Fatalf("replay after the takeover: %+v %v", again, err)
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
