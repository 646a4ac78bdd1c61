package webhooks

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/shelfcommerce/shelf/internal/dbtest"
	"github.com/shelfcommerce/shelf/internal/events"
	"github.com/shelfcommerce/shelf/internal/metrics"
	"github.com/shelfcommerce/shelf/internal/money"
	"github.com/shelfcommerce/shelf/internal/store"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

func register(t *testing.T, s *Service, url string, events ...string) *Webhook {
	t.Helper()
	w, err := s.Register(context.Background(), Registration{URL: url, Events: events})
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func deliveries(t *testing.T, s *Service, id uint64) []*Delivery {
	t.Helper()
	p, err := s.Deliveries(context.Background(), id, "", 100)
	if err != nil {
		t.Fatal(err)
	}
	return p.Items
}

func TestRetriesUntilTheReceiverAnswers2xx(t *testing.T) {
	d := dbtest.New(t)
	rcv := newReceiver(t, func(_ string, n int) int {
		if n <= 2 {
			return http.StatusServiceUnavailable
		}
		return http.StatusNoContent
	})
	cfg := fast(10*time.Millisecond, 20*time.Millisecond, time.Hour)
	s := NewService(d.Store, cfg)
	wh := register(t, s, rcv.URL+"/hooks")
	seq := addEvents(t, d, "stock.changed", 1)[0]
	delivered := testutil.ToFloat64(metrics.WebhookDeliveries.WithLabelValues("delivered"))
	failed := testutil.ToFloat64(metrics.WebhookDeliveries.WithLabelValues("failed"))
	run(t, d.Store, cfg)
	rcv.wait(t, 3)
	eventually(t, "three attempts in the log", func() bool { return len(deliveries(t, s, wh.ID)) == 3 })
	eventually(t, "the attempts counted", func() bool {
		return testutil.ToFloat64(metrics.WebhookDeliveries.WithLabelValues("delivered")) >= delivered+1 &&
			testutil.ToFloat64(metrics.WebhookDeliveries.WithLabelValues("failed")) >= failed+2
	})
	if dl, fl := testutil.ToFloat64(metrics.WebhookDeliveries.WithLabelValues("delivered"))-delivered,
		testutil.ToFloat64(metrics.WebhookDeliveries.WithLabelValues("failed"))-failed; dl != 1 || fl != 2 {
		t.Errorf("counted %v delivered and %v failed attempts, want 1 and 2", dl, fl)
	}

	hits, _ := rcv.snapshot()
	if len(hits) != 3 {
		t.Fatalf("receiver got %d requests, want 3 (no retry after the 2xx)", len(hits))
	}
	for _, h := range hits {
		if got := h.header.Get("webhook-id"); got != strconv.FormatUint(seq, 10) {
			t.Errorf("webhook-id = %q, want the event id %d on every attempt", got, seq)
		}
		verify(t, wh.Secret, h)
		var ev map[string]any
		if err := json.Unmarshal(h.body, &ev); err != nil || ev["type"] != "stock.changed" || ev["sku"] != "SKU-"+strconv.FormatUint(seq, 10) {
			t.Errorf("body = %s, want the event's data", h.body)
		}
		if ct := h.header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("Content-Type = %q", ct)
		}
	}
	log := deliveries(t, s, wh.ID)
	for i, want := range []struct {
		attempt uint32
		status  int32
		next    bool
	}{{3, 204, false}, {2, 503, true}, {1, 503, true}} {
		got := log[i]
		if got.Attempt != want.attempt || got.ResponseStatus == nil || *got.ResponseStatus != want.status ||
			(got.NextAttemptAt != nil) != want.next || got.EventID != strconv.FormatUint(seq, 10) || got.Event != "stock.changed" {
			t.Errorf("log[%d] = %+v, want attempt %d status %d, next attempt %v", i, got, want.attempt, want.status, want.next)
		}
		if want.status != 204 && (got.Error == nil || *got.Error == "") {
			t.Errorf("log[%d]: a failed attempt says no error", i)
		}
	}
	if n := count(t, d, "SELECT COUNT(*) FROM webhook_queue"); n != 0 {
		t.Errorf("%d deliveries still queued after the 2xx", n)
	}
}

func count(t testing.TB, d *dbtest.DB, q string) int {
	t.Helper()
	var n int
	if err := d.DB.QueryRow(q).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func status(t *testing.T, s *Service, id uint64) string {
	t.Helper()
	p, err := s.List(context.Background(), "", 100)
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range p.Items {
		if w.ID == id {
			if w.Secret != "" {
				t.Errorf("the list shows webhook %d's secret", id)
			}
			return w.Status
		}
	}
	t.Fatalf("webhook %d not listed", id)
	return ""
}

func TestAnExhaustedScheduleMarksTheWebhookFailingAndLaterEventsStillGo(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	var healthy atomic.Bool
	rcv := healthyWhen(t, &healthy)
	cfg := fast(10 * time.Millisecond)
	s := NewService(d.Store, cfg)
	wh := register(t, s, rcv.URL)
	first := addEvents(t, d, "price.changed", 1)[0]
	run(t, d.Store, cfg)
	eventually(t, "the webhook marked failing", func() bool { return status(t, s, wh.ID) == "failing" })
	if _, ids := rcv.snapshot(); ids[strconv.FormatUint(first, 10)] != 2 {
		t.Fatalf("event %d sent %d times, want 2 (one attempt and one retry)", first, ids[strconv.FormatUint(first, 10)])
	}

	// Still failing, it gets the next event (and its retry).
	second := addEvents(t, d, "price.changed", 1)[0]
	rcv.wait(t, 4)
	if _, ids := rcv.snapshot(); ids[strconv.FormatUint(second, 10)] != 2 {
		t.Fatalf("a failing webhook got the later event %d times, want 2", ids[strconv.FormatUint(second, 10)])
	}
	// Once it answers again, the mark goes with the next delivery.
	healthy.Store(true)
	addEvents(t, d, "price.changed", 1)
	rcv.wait(t, 5)
	eventually(t, "the webhook active again", func() bool { return status(t, s, wh.ID) == "active" })
}

func TestEventsGoOnlyToWebhooksSubscribedToThem(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	cfg := fast()
	s := NewService(d.Store, cfg)
	before := addEvents(t, d, "stock.changed", 1)[0]
	stock := newReceiver(t, func(string, int) int { return 200 })
	orders := newReceiver(t, func(string, int) int { return 200 })
	all := newReceiver(t, func(string, int) int { return 200 })
	register(t, s, stock.URL, "stock.changed")
	register(t, s, orders.URL, "order.paid", "order.created")
	register(t, s, all.URL)
	addEvents(t, d, "stock.changed", 2)
	addEvents(t, d, "order.created", 1)
	addEvents(t, d, "price.changed", 1)
	run(t, d.Store, cfg)
	all.wait(t, 4)
	stock.wait(t, 2)
	orders.wait(t, 1)
	for name, r := range map[string]*receiver{"stock": stock, "orders": orders, "all": all} {
		hits, ids := r.snapshot()
		if ids[strconv.FormatUint(before, 10)] != 0 {
			t.Errorf("%s got event %d, sequenced before it was registered", name, before)
		}
		for _, h := range hits {
			var ev struct{ Type string }
			_ = json.Unmarshal(h.body, &ev)
			if name == "stock" && ev.Type != "stock.changed" || name == "orders" && ev.Type != "order.created" {
				t.Errorf("%s got a %s event", name, ev.Type)
			}
		}
	}
}

// Two dispatchers with their own pools, as two shelf serve processes on one
// database: every attempt is made by exactly one of them.
func TestTwoDispatchersNeverMakeTheSameAttempt(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	other, err := store.Open(context.Background(), d.DSN, store.DefaultPool)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	// Every event fails once and is then delivered: two attempts each.
	rcv := newReceiver(t, func(_ string, n int) int {
		if n == 1 {
			return 500
		}
		return 200
	})
	cfg := fast(time.Millisecond)
	cfg.Workers = 4
	s := NewService(d.Store, cfg)
	wh := register(t, s, rcv.URL)
	const events = 150
	seqs := addEvents(t, d, "stock.changed", events)
	run(t, d.Store, cfg)
	run(t, other, cfg)
	rcv.wait(t, 2*events)
	eventually(t, "the queue drained", func() bool { return count(t, d, "SELECT COUNT(*) FROM webhook_queue") == 0 })
	hits, ids := rcv.snapshot()
	if len(hits) != 2*events {
		t.Errorf("receiver got %d requests, want %d", len(hits), 2*events)
	}
	for _, seq := range seqs {
		if n := ids[strconv.FormatUint(seq, 10)]; n != 2 {
			t.Errorf("event %d sent %d times, want 2", seq, n)
		}
	}
	if n := count(t, d, "SELECT COUNT(*) FROM (SELECT event_seq, attempt FROM webhook_deliveries GROUP BY event_seq, attempt HAVING COUNT(*) > 1) x"); n != 0 {
		t.Errorf("%d attempts were made twice", n)
	}
	if n := count(t, d, "SELECT COUNT(*) FROM webhook_deliveries"); n != 2*events {
		t.Errorf("log has %d attempts, want %d", n, 2*events)
	}
	_ = wh
}

// A dispatcher that dies after claiming an attempt: nothing is lost; once
// its lease runs out another dispatcher makes the next attempt.
func TestAClaimLostWithItsDispatcherIsRetriedByAnother(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	rcv := newReceiver(t, func(string, int) int { return 200 })
	cfg := fast(time.Hour)
	s := NewService(d.Store, cfg)
	wh := register(t, s, rcv.URL)
	seq := addEvents(t, d, "stock.changed", 1)[0]

	dead := NewDispatcher(d.Store, cfg)
	ctx := context.Background()
	if _, err := dead.FanOut(ctx); err != nil {
		t.Fatal(err)
	}
	jobs, err := dead.claim(ctx, 10)
	if err != nil || len(jobs) != 1 || jobs[0].attempt != 1 {
		t.Fatalf("claim = %+v, %v; want the one delivery, attempt 1", jobs, err)
	}
	// The claimer "crashes" here. A second claim while the lease holds finds nothing.
	if again, err := NewDispatcher(d.Store, cfg).claim(ctx, 10); err != nil || len(again) != 0 {
		t.Fatalf("a leased delivery was claimed again: %+v, %v", again, err)
	}
	// The lease runs out (rather than waiting for it on the clock).
	if _, err := d.DB.Exec("UPDATE webhook_queue SET next_at = ?", time.Now().UTC().Add(-time.Second)); err != nil {
		t.Fatal(err)
	}
	run(t, d.Store, cfg)
	rcv.wait(t, 1)
	eventually(t, "the attempt logged", func() bool { return len(deliveries(t, s, wh.ID)) == 1 })
	got := deliveries(t, s, wh.ID)[0]
	if got.Attempt != 2 || got.EventID != strconv.FormatUint(seq, 10) {
		t.Errorf("logged %+v, want attempt 2 of event %d", got, seq)
	}
}

// A stopping dispatcher finishes and records the attempt in flight, and
// hands back the ones it had claimed but not started: they keep every
// attempt of their schedule for the next dispatcher.
func TestStoppingFinishesTheAttemptInFlightAndHandsBackTheRest(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	entered, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	rcv := newReceiver(t, func(string, int) int {
		once.Do(func() { close(entered); <-release })
		return 200
	})
	cfg := fast(time.Hour)
	cfg.Workers = 1
	s := NewService(d.Store, cfg)
	wh := register(t, s, rcv.URL)
	addEvents(t, d, "stock.changed", claimRounds+1)
	disp := NewDispatcher(d.Store, cfg)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { disp.Run(ctx); close(done) }()
	<-entered
	cancel()
	select {
	case <-done:
		t.Fatal("the dispatcher stopped without waiting for the attempt in flight")
	case <-time.After(50 * time.Millisecond):
	}
	close(release)
	<-done
	if log := deliveries(t, s, wh.ID); len(log) != 1 || log[0].Attempt != 1 || log[0].ResponseStatus == nil {
		t.Fatalf("log = %+v, want the one attempt in flight, recorded", log)
	}
	if n := count(t, d, "SELECT COUNT(*) FROM webhook_queue WHERE attempts = 0"); n != claimRounds {
		t.Errorf("%d deliveries queued untouched, want %d (the claimed ones handed back)", n, claimRounds)
	}
	if n := count(t, d, "SELECT COUNT(*) FROM webhook_queue"); n != claimRounds {
		t.Errorf("%d deliveries queued, want %d", n, claimRounds)
	}
}

// Retention deletes no event a webhook still has to deliver: not before the
// fan-out has queued it, and not while its delivery waits for a retry.
func TestRetentionKeepsEventsAWebhookStillHasToDeliver(t *testing.T) {
	d := dbtest.New(t)
	ctx := context.Background()
	var healthy atomic.Bool
	rcv := healthyWhen(t, &healthy)
	cfg := fast(time.Hour) // a failed attempt is retried only in an hour
	s := NewService(d.Store, cfg)
	wh := register(t, s, rcv.URL, "price.changed")
	addEvents(t, d, "stock.changed", 2)
	price := addEvents(t, d, "price.changed", 1)[0]
	addEvents(t, d, "stock.changed", 1)
	if _, err := d.DB.Exec("UPDATE events SET created_at = ?", time.Now().UTC().Add(-8*24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	prune := func() int64 {
		t.Helper()
		n, err := events.Prune(ctx, d.Store, 7*24*time.Hour, 0, 1000)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := prune(); n != 0 {
		t.Fatalf("pruned %d events no webhook fan-out had passed", n)
	}

	run(t, d.Store, cfg)
	eventually(t, "the first attempt logged", func() bool { return len(deliveries(t, s, wh.ID)) == 1 })
	// The two events before the queued one go; it and the one after stay.
	if n := prune(); n != 2 {
		t.Fatalf("pruned %d events, want the 2 older than the one still to deliver", n)
	}
	if n := count(t, d, fmt.Sprintf("SELECT COUNT(*) FROM events WHERE seq >= %d", price)); n != 2 {
		t.Fatalf("%d events kept from the undelivered one on, want 2", n)
	}

	// The retry, brought forward, succeeds with the event's own body.
	healthy.Store(true)
	if _, err := d.DB.Exec("UPDATE webhook_queue SET next_at = ?", time.Now().UTC()); err != nil {
		t.Fatal(err)
	}
	rcv.wait(t, 2)
	eventually(t, "the delivery finished", func() bool { return count(t, d, "SELECT COUNT(*) FROM webhook_queue") == 0 })
	hits, _ := rcv.snapshot()
	if last := hits[len(hits)-1]; last.header.Get("webhook-id") != strconv.FormatUint(price, 10) ||
		!strings.Contains(string(last.body), `"type":"price.changed"`) {
		t.Fatalf("the retry sent %s %s", last.header.Get("webhook-id"), last.body)
	}
	if n := prune(); n != 2 {
		t.Fatalf("pruned %d events once delivered, want 2", n)
	}
}

// The events of one write share a row of the feed's table; a webhook still
// gets each event it subscribes to as its own delivery, with the event's
// own id and document. Events from while no webhook existed (the fan-out
// did not run for them) go to nobody.
func TestEachEventOfAWriteIsItsOwnDelivery(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	ctx := context.Background()
	cfg := fast()
	s := NewService(d.Store, cfg)
	write := func(slug string) {
		t.Helper()
		now := time.Now()
		if err := d.Store.InTx(ctx, func(tx *store.Tx) error {
			return events.Emit(ctx, tx, now, events.ProductUpdated(now, 7, slug),
				events.StockChanged(now, 7, 70, "SKU-"+slug, 3, 3),
				events.PriceChanged(now, 7, 70, "SKU-"+slug, money.Money{Amount: 100, Currency: "USD"}, nil),
				events.StockChanged(now, 7, 71, "SKU-"+slug+"-2", 4, 4))
		}); err != nil {
			t.Fatal(err)
		}
		if _, err := events.Sequence(ctx, d.Store); err != nil {
			t.Fatal(err)
		}
	}
	write("early")
	disp := NewDispatcher(d.Store, cfg)
	if n, err := disp.FanOut(ctx); err != nil || n != 0 {
		t.Fatalf("fan-out with no webhook passed %d (%v)", n, err)
	}
	stock := newReceiver(t, func(string, int) int { return 200 })
	register(t, s, stock.URL, "stock.changed")
	write("late") // seqs 5..8: stock.changed at 6 and 8
	run(t, d.Store, cfg)
	stock.wait(t, 2)
	time.Sleep(50 * time.Millisecond) // nothing more arrives
	hits, ids := stock.snapshot()
	if len(hits) != 2 || ids["6"] != 1 || ids["8"] != 1 {
		t.Fatalf("deliveries by webhook-id: %v, want 6 and 8 once each", ids)
	}
	for _, h := range hits {
		var ev struct {
			Type      string
			VariantID uint64 `json:"variant_id"`
			SKU       string
		}
		if err := json.Unmarshal(h.body, &ev); err != nil || ev.Type != "stock.changed" || !strings.HasPrefix(ev.SKU, "SKU-late") {
			t.Fatalf("delivered %s (%v)", h.body, err)
		}
		if want := map[string]uint64{"6": 70, "8": 71}[h.header.Get("webhook-id")]; ev.VariantID != want {
			t.Fatalf("webhook-id %s carried variant %d, want %d", h.header.Get("webhook-id"), ev.VariantID, want)
		}
	}
}

// A claimed attempt whose claim has outlived the part of its lease it
// needs (the workers held up, by a stalled recorder say) is not made: past
// the lease another dispatcher may claim the delivery again, and two would
// send it. It is made once the lease runs out, by whoever claims it then,
// once.
func TestAnAttemptPastItsClaimsLeaseIsNotMade(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	var ahead atomic.Int64 // how far the dispatcher's clock runs ahead
	rcv := newReceiver(t, func(string, int) int {
		ahead.Store(int64(time.Hour)) // the first attempt takes "an hour"
		return 200
	})
	cfg := fast()
	cfg.Workers = 1 // one claim of several deliveries, sent one after another
	s := NewService(d.Store, cfg)
	wh := register(t, s, rcv.URL)
	seqs := addEvents(t, d, "stock.changed", 3)

	disp := NewDispatcher(d.Store, cfg)
	disp.clock = func() time.Time { return time.Now().Add(time.Duration(ahead.Load())) }
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { disp.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })

	rcv.wait(t, 1)
	eventually(t, "the first attempt logged", func() bool { return len(deliveries(t, s, wh.ID)) >= 1 })
	time.Sleep(300 * time.Millisecond) // 60 polls: time to (wrongly) send the others
	rcv.mu.Lock()
	sent := len(rcv.hits)
	rcv.mu.Unlock()
	if sent != 1 {
		t.Fatalf("%d attempts made of a claim past its lease, want only the first", sent)
	}
	// The lease runs out: the two left are claimed again and sent, once each.
	if _, err := d.DB.Exec("UPDATE webhook_queue SET next_at = ?", time.Now().UTC().Add(-time.Second)); err != nil {
		t.Fatal(err)
	}
	rcv.wait(t, 3)
	eventually(t, "every attempt logged", func() bool { return len(deliveries(t, s, wh.ID)) == 3 })
	rcv.mu.Lock()
	defer rcv.mu.Unlock()
	for _, seq := range seqs {
		if n := rcv.byID[strconv.FormatUint(seq, 10)]; n != 1 {
			t.Errorf("event %d sent %d times, want once", seq, n)
		}
	}
}

// A delivery that succeeds clears the failing mark even when the mark was
// set after its attempt was claimed (by another dispatcher recording an
// older event's last retry): the webhook does not stay listed as failing
// while its endpoint answers.
func TestASuccessClearsAMarkSetSinceItsClaim(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	ctx := context.Background()
	cfg := fast()
	s := NewService(d.Store, cfg)
	rcv := newReceiver(t, func(string, int) int { return 200 })
	wh := register(t, s, rcv.URL)
	addEvents(t, d, "price.changed", 1)
	disp := NewDispatcher(d.Store, cfg)
	if _, err := disp.FanOut(ctx); err != nil {
		t.Fatal(err)
	}
	jobs, err := disp.claim(ctx, 10)
	if err != nil || len(jobs) != 1 {
		t.Fatalf("claimed %d jobs: %v", len(jobs), err)
	}
	if _, err := d.DB.ExecContext(ctx, "UPDATE webhooks SET failing_since = UTC_TIMESTAMP(6) WHERE id = ?", wh.ID); err != nil {
		t.Fatal(err)
	}
	a := disp.attempt(ctx, jobs[0])
	if !a.ok() {
		t.Fatalf("the attempt failed: %d %s", a.status, a.err)
	}
	if err := disp.record(ctx, []attempt{a}); err != nil {
		t.Fatal(err)
	}
	if got := status(t, s, wh.ID); got != "active" {
		t.Fatalf("after a delivery the webhook is %q, want active", got)
	}
}
