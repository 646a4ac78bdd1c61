package orders

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/shelfcommerce/shelf/db"
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

// A claim left "running" by a request that died (the database went away
// mid-order) holds its key only for a few seconds: the in-use 409 says when
// to retry, and a retry after the lease takes the key over and answers.
func TestKeyInUseAndAbandonedClaims(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	s := NewService(d.Store, Config{})
	seed(t, d, orderstest.Simple("U", 1, 1000, 5)...)
	ctx := context.Background()
	in := input("a@example.com", line("U-0", 1))
	claimRow := func(key string, at time.Time) {
		c := s.newClaim("t", key, in.hash())
		if err := d.Q.ClaimIdempotencyKey(ctx, db.ClaimIdempotencyKeyParams{
			Scope: c.scope, KeyHash: c.keyHash, RequestHash: c.reqHash, ClaimToken: randomBytes(16),
			ClaimedAt: at, ExpiresAt: at.Add(time.Hour),
		}); err != nil {
			t.Fatal(err)
		}
	}
	// A request with this key is running: 409.
	claimRow("busy", clock())
	_, err := s.Place(ctx, PlaceParams{Scope: "t", Key: "busy", Input: in})
	if pe, ok := problem.As(err); !ok || pe.Kind != problem.IdempotencyInUse || pe.RetryAfter <= 0 || pe.RetryAfter > claimLease {
		t.Fatalf("running key: %v, want idempotency-key-in-use with a Retry-After within the lease", err)
	}
	if claimLease > 15*time.Second {
		t.Fatalf("a crashed request holds its key for %v", claimLease)
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

// Requests racing with one new key make one order, and every one of them
// answers with it: a request that finds the key taken while its order runs
// rolls that order back and replays the first.
func TestConcurrentRequestsWithOneKeyMakeOneOrder(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	s, ctx := NewService(d.Store, Config{}), context.Background()
	seed(t, d, orderstest.Simple("R", 1, 1000, 100)...)
	for run := range 5 {
		p := PlaceParams{Scope: "t", Key: fmt.Sprintf("race-%d", run), Input: input("a@example.com", line("R-0", 1))}
		const racers = 8
		results := make([]*Placed, racers)
		errs := make([]error, racers)
		var wg sync.WaitGroup
		for i := range racers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				results[i], errs[i] = s.Place(ctx, p)
			}()
		}
		wg.Wait()
		var body []byte
		for i := range racers {
			if errs[i] != nil {
				// The only refusal allowed is "still running, retry".
				if !problem.Is(errs[i], problem.IdempotencyInUse) {
					t.Fatalf("run %d racer %d: %v", run, i, errs[i])
				}
				continue
			}
			if results[i].Status != http.StatusCreated {
				t.Fatalf("run %d racer %d: status %d", run, i, results[i].Status)
			}
			if body == nil {
				body = results[i].Body
			} else if !bytes.Equal(body, results[i].Body) {
				t.Fatalf("run %d: two answers for one key", run)
			}
		}
		if countOrders(t, d) != run+1 || onHand(t, d, "R-0") != int64(99-run) || ledgerSum(t, d, "R-0") != int64(-1-run) {
			t.Fatalf("run %d: %d orders, %d on hand, ledger %d", run, countOrders(t, d), onHand(t, d, "R-0"), ledgerSum(t, d, "R-0"))
		}
	}
}

// An order with a new key is one transaction with one commit and 9
// statements: the key's answer is written in it, with no claim committed
// before. The counts are the server's own, on a pool of one connection.
func TestANewKeyCostsOneCommit(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	seed(t, d, orderstest.Simple("C", 2, 1000, 50)...)
	ctx := context.Background()
	st, err := store.Open(ctx, d.DSN, store.PoolConfig{MaxOpen: 1, MaxIdle: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	s := NewService(st, Config{})
	status := func() map[string]int {
		rows, err := st.DB.QueryContext(ctx, "SHOW SESSION STATUS WHERE Variable_name IN "+
			"('Com_commit', 'Com_insert', 'Com_update', 'Com_select', 'Com_insert_select', 'Com_stmt_execute', 'Questions')")
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		m := map[string]int{}
		for rows.Next() {
			var k string
			var v int
			if err := rows.Scan(&k, &v); err != nil {
				t.Fatal(err)
			}
			m[k] = v
		}
		return m
	}
	place := func() {
		if _, err := s.Place(ctx, PlaceParams{Scope: "t", Key: newKey(), Input: input("a@example.com", line("C-0", 1))}); err != nil {
			t.Fatal(err)
		}
	}
	place() // prepares the statements on the one connection
	before := status()
	place()
	after := status()
	delta := map[string]int{}
	for k, v := range after {
		delta[k] = v - before[k]
	}
	t.Logf("one order, server counters: %v", delta)
	// An autocommit statement (a claim committed on its own) does not count
	// in Com_commit, but it does in Questions: 9 statements and the SHOW.
	if delta["Com_commit"] != 1 || delta["Questions"] > 10 {
		t.Fatalf("an order committed %d times in %d statements, want once in at most 9", delta["Com_commit"], delta["Questions"]-1)
	}
	var keys int
	if err := st.DB.QueryRowContext(ctx, "SELECT COUNT(*) FROM idempotency_keys WHERE state = 'done' AND order_id IS NOT NULL").Scan(&keys); err != nil || keys != 2 {
		t.Fatalf("%d answered keys (%v), want 2", keys, err)
	}
}
