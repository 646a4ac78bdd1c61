package webhooks

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/shelfcommerce/shelf/internal/dbtest"
	"github.com/shelfcommerce/shelf/internal/store"
)

// fast is a configuration whose retries come quickly, so tests run in
// milliseconds, not on the production schedule.
func fast(schedule ...time.Duration) Config {
	if schedule == nil {
		schedule = []time.Duration{} // one attempt, no retries
	}
	return Config{AllowPrivate: true, Schedule: schedule, Poll: 5 * time.Millisecond, Timeout: 5 * time.Second}
}

// addEvents inserts sequenced events after the last one, as the feed's
// sequencer would leave them, and returns their seqs.
func addEvents(t *testing.T, d *dbtest.DB, typ string, n int) []uint64 {
	t.Helper()
	ctx := context.Background()
	var last uint64
	if err := d.DB.QueryRowContext(ctx, "SELECT COALESCE(MAX(seq), 0) FROM events").Scan(&last); err != nil {
		t.Fatal(err)
	}
	seqs := make([]uint64, n)
	for i := range n {
		seq := last + uint64(i) + 1
		data := fmt.Sprintf(`{"type":%q,"occurred_at":"2026-12-01T10:00:00Z","product_id":%d,"sku":"SKU-%d","available":3}`, typ, seq, seq)
		if _, err := d.DB.ExecContext(ctx, "INSERT INTO events (seq, type, data, created_at) VALUES (?, ?, ?, ?)",
			seq, typ, data, time.Now().UTC()); err != nil {
			t.Fatal(err)
		}
		seqs[i] = seq
	}
	return seqs
}

// run starts a dispatcher on st until the test ends.
func run(t *testing.T, st *store.Store, cfg Config) *Dispatcher {
	t.Helper()
	d := NewDispatcher(st, cfg)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { d.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return d
}

// hit is one request a receiver got.
type hit struct {
	header http.Header
	body   []byte
}

// receiver is a webhook endpoint whose answers the test scripts: answer
// returns the status for the n-th request (from 1) carrying that webhook-id.
type receiver struct {
	*httptest.Server
	mu     sync.Mutex
	hits   []hit
	byID   map[string]int
	answer func(id string, n int) int
	got    chan struct{}
}

func newReceiver(t *testing.T, answer func(id string, n int) int) *receiver {
	r := &receiver{byID: map[string]int{}, answer: answer, got: make(chan struct{}, 1<<16)}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		id := req.Header.Get("webhook-id")
		r.mu.Lock()
		r.hits = append(r.hits, hit{req.Header.Clone(), body})
		r.byID[id]++
		n := r.byID[id]
		r.mu.Unlock()
		w.WriteHeader(r.answer(id, n))
		_, _ = io.WriteString(w, "receiver says hi")
		r.got <- struct{}{}
	}))
	t.Cleanup(r.Close)
	return r
}

// healthyWhen is a receiver that answers 500 while healthy is false, 200
// once it is true.
func healthyWhen(t *testing.T, healthy *atomic.Bool) *receiver {
	return newReceiver(t, func(string, int) int {
		if healthy.Load() {
			return http.StatusOK
		}
		return http.StatusInternalServerError
	})
}

// wait blocks until the receiver has got n requests in all.
func (r *receiver) wait(t *testing.T, n int) {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		r.mu.Lock()
		got := len(r.hits)
		r.mu.Unlock()
		if got >= n {
			return
		}
		select {
		case <-r.got:
		case <-deadline:
			t.Fatalf("receiver got %d requests, want %d", got, n)
		}
	}
}

func (r *receiver) snapshot() ([]hit, map[string]int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	ids := make(map[string]int, len(r.byID))
	for k, v := range r.byID {
		ids[k] = v
	}
	return append([]hit(nil), r.hits...), ids
}

// eventually polls cond until it holds (30 s at most).
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// verify checks a delivery's signature with the Standard Webhooks reference
// library, not with this package's code.
func verify(t *testing.T, secret string, h hit) {
	t.Helper()
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		t.Fatal(err)
	}
	if err := wh.Verify(h.body, h.header); err != nil {
		t.Errorf("signature of delivery %s does not verify: %v", h.header.Get("webhook-id"), err)
	}
}

// fakeDNS resolves the names it knows, and nothing else.
type fakeDNS map[string]string

func (f fakeDNS) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	a, ok := f[host]
	if !ok {
		return nil, fmt.Errorf("no such host %s", host)
	}
	return []netip.Addr{netip.MustParseAddr(a)}, nil
}
