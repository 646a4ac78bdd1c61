package events_test

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shelfcommerce/shelf/internal/dbtest"
	"github.com/shelfcommerce/shelf/internal/events"
	"github.com/shelfcommerce/shelf/internal/store"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

func runHub(t *testing.T, st *store.Store) *events.Hub {
	t.Helper()
	h := events.NewHub(st, events.HubConfig{Poll: 5 * time.Millisecond, Ring: 64})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { h.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return h
}

// subscribe opens a subscription after seq after.
func subscribe(t *testing.T, h *events.Hub, after uint64) *events.Subscription {
	t.Helper()
	sub, err := h.Subscribe(context.Background(), after, false)
	if err != nil {
		t.Fatal(err)
	}
	return sub
}

func emit(t *testing.T, st *store.Store, name string) {
	t.Helper()
	if err := st.InTx(context.Background(), func(tx *store.Tx) error {
		return events.Emit(context.Background(), tx, time.Now(), events.ProductUpdated(time.Now(), 1, name))
	}); err != nil {
		t.Fatal(err)
	}
}

// collect reads from sub until it has n events or the deadline passes.
func collect(t *testing.T, sub *events.Subscription, n int) []events.Event {
	t.Helper()
	var out []events.Event
	deadline := time.Now().Add(30 * time.Second)
	for len(out) < n && time.Now().Before(deadline) {
		evs, err := sub.Next(context.Background(), 1000, 100*time.Millisecond)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, evs...)
	}
	return out
}

// The case the design exists for: a transaction that took an early id
// commits after later ones have been numbered and delivered. The subscriber
// still gets it, once, after them.
func TestSlowTransactionIsNotPassed(t *testing.T) {
	d := dbtest.New(t)
	h := runHub(t, d.Store)
	ctx := context.Background()
	sub := subscribe(t, h, 0)
	slow, err := d.Store.Begin(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := events.Emit(ctx, slow, time.Now(), events.ProductUpdated(time.Now(), 1, "slow")); err != nil {
		t.Fatal(err)
	}
	emit(t, d.Store, "fast-1")
	emit(t, d.Store, "fast-2")
	got := collect(t, sub, 2)
	if len(got) != 2 || got[0].Slug != "fast-1" || got[1].Slug != "fast-2" {
		t.Fatalf("before the slow commit: %v", slugs(got))
	}
	if err := slow.Commit(); err != nil {
		t.Fatal(err)
	}
	emit(t, d.Store, "fast-3")
	got = append(got, collect(t, sub, 2)...)
	if want := "[fast-1 fast-2 slow fast-3]"; fmt.Sprint(slugs(got)) != want {
		t.Fatalf("delivered %v, want %s", slugs(got), want)
	}
	for i, e := range got {
		if e.Seq != uint64(i+1) {
			t.Fatalf("event %d has seq %d: seqs must be consecutive from 1", i, e.Seq)
		}
	}
	// The slow row kept its early id but got a later seq.
	var id, seq uint64
	if err := d.DB.QueryRow(`SELECT id, seq FROM events WHERE data LIKE '%"slow"%'`).Scan(&id, &seq); err != nil {
		t.Fatal(err)
	}
	if id != 1 || seq != 3 {
		t.Fatalf("slow event: id %d seq %d, want id 1 seq 3", id, seq)
	}
}

// Several writers commit concurrently (some of them slowly, some rolled
// back) while readers disconnect and resume from the last id they got:
// every committed event arrives exactly once, in seq order.
func TestResumeHasNoGapAndNoRepeat(t *testing.T) {
	d := dbtest.New(t)
	h := runHub(t, d.Store)
	ctx := context.Background()
	const writers, each = 4, 30
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				name := fmt.Sprintf("w%d-%d", w, i)
				err := d.Store.InTx(ctx, func(tx *store.Tx) error {
					if err := events.Emit(ctx, tx, time.Now(), events.ProductUpdated(time.Now(), 1, name)); err != nil {
						return err
					}
					if i%7 == 3 {
						time.Sleep(30 * time.Millisecond) // a slow transaction
					}
					if i%10 == 9 {
						return errRollback
					}
					return nil
				})
				if err != nil && err != errRollback {
					t.Error(err)
				}
			}
		}()
	}
	want := writers * (each - each/10)
	seen := map[string]bool{}
	var last uint64
	for round := 0; len(seen) < want && round < 1000; round++ {
		sub, err := h.Subscribe(ctx, last, false)
		if err != nil {
			t.Fatal(err)
		}
		// Take a few events, then drop the connection.
		evs, err := sub.Next(ctx, 3, 200*time.Millisecond)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range evs {
			if e.Seq != last+1 {
				t.Fatalf("after %d came %d", last, e.Seq)
			}
			if seen[e.Slug] {
				t.Fatalf("%s delivered twice", e.Slug)
			}
			seen[e.Slug] = true
			last = e.Seq
		}
	}
	wg.Wait()
	if len(seen) != want {
		t.Fatalf("received %d events, want %d", len(seen), want)
	}
	for w := range writers {
		for i := range each {
			if name := fmt.Sprintf("w%d-%d", w, i); seen[name] == (i%10 == 9) {
				t.Errorf("%s: received %v", name, seen[name])
			}
		}
	}
}

var errRollback = fmt.Errorf("roll back")

func TestRetentionResets(t *testing.T) {
	d := dbtest.New(t)
	ctx := context.Background()
	for i := range 5 {
		emit(t, d.Store, fmt.Sprint(i))
	}
	if _, err := events.Sequence(ctx, d.Store); err != nil {
		t.Fatal(err)
	}
	if _, err := d.DB.Exec("UPDATE events SET created_at = ? WHERE seq <= 3", time.Now().Add(-8*24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	// Nothing is deleted that the webhooks' fan-out has not passed, once a
	// webhook exists.
	if _, err := d.DB.Exec("INSERT INTO webhooks (url, events, secret, from_seq, created_at) VALUES ('https://example.com/h', '*', 's', 0, ?)", time.Now()); err != nil {
		t.Fatal(err)
	}
	if n, err := events.Prune(ctx, d.Store, 7*24*time.Hour, 0, 2); err != nil || n != 0 {
		t.Fatalf("pruned %d (%v) before the webhooks' fan-out passed the events", n, err)
	}
	if _, err := d.DB.Exec("UPDATE webhook_cursor SET seq = 5"); err != nil {
		t.Fatal(err)
	}
	n, err := events.Prune(ctx, d.Store, 7*24*time.Hour, 0, 2)
	if err != nil || n != 3 {
		t.Fatalf("pruned %d (%v), want 3", n, err)
	}
	if n, _ := events.Prune(ctx, d.Store, 7*24*time.Hour, time.Minute, 2); n != 0 {
		t.Fatalf("a second prune within the interval deleted %d", n)
	}
	for after, reset := range map[uint64]bool{0: true, 1: true, 2: true, 3: false, 4: false, 5: false, 6: true} {
		if err := events.Check(ctx, d.Store, after); (err == events.ErrReset) != reset {
			t.Errorf("resume after %d: %v, want reset %v", after, err, reset)
		}
	}
	// seq goes on from the last one given, even if all were pruned.
	if _, err := d.DB.Exec("DELETE FROM events"); err != nil {
		t.Fatal(err)
	}
	emit(t, d.Store, "after")
	if _, err := events.Sequence(ctx, d.Store); err != nil {
		t.Fatal(err)
	}
	var seq uint64
	if err := d.DB.QueryRow("SELECT seq FROM events").Scan(&seq); err != nil || seq != 6 {
		t.Fatalf("seq after pruning everything: %d (%v), want 6", seq, err)
	}
}

// With no webhook registered the fan-out does not run (and its cursor stays
// put), so retention does not wait for it.
func TestRetentionWithoutWebhooksPrunes(t *testing.T) {
	d := dbtest.New(t)
	ctx := context.Background()
	for i := range 4 {
		emit(t, d.Store, fmt.Sprint(i))
	}
	if _, err := events.Sequence(ctx, d.Store); err != nil {
		t.Fatal(err)
	}
	if _, err := d.DB.Exec("UPDATE events SET created_at = ? WHERE seq <= 3", time.Now().Add(-8*24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if n, err := events.Prune(ctx, d.Store, 7*24*time.Hour, 0, 2); err != nil || n != 3 {
		t.Fatalf("pruned %d (%v), want the 3 old events", n, err)
	}
	if err := events.Check(ctx, d.Store, 3); err != nil {
		t.Fatalf("resume after the pruned events: %v", err)
	}
}

// A write that took long to commit has an older created_at than events
// numbered before it. Pruning removes only the oldest run of old events, so
// such a row waits behind the younger one instead of leaving a hole.
func TestRetentionNeverLeavesAHole(t *testing.T) {
	d := dbtest.New(t)
	ctx := context.Background()
	for i := range 6 {
		emit(t, d.Store, fmt.Sprint(i))
	}
	if _, err := events.Sequence(ctx, d.Store); err != nil {
		t.Fatal(err)
	}
	// seq 1, 2, 4 and 5 are past retention; 3 and 6 are not.
	if _, err := d.DB.Exec("UPDATE events SET created_at = ? WHERE seq IN (1, 2, 4, 5)", time.Now().Add(-8*24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	for _, batch := range []int{1, 2, 1000} {
		n, err := events.Prune(ctx, d.Store, 7*24*time.Hour, 0, batch)
		if err != nil {
			t.Fatal(err)
		}
		if batch == 1 && n != 2 {
			t.Fatalf("pruned %d, want the 2 oldest", n)
		}
		if batch > 1 && n != 0 {
			t.Fatalf("batch %d pruned %d more, past the young seq 3", batch, n)
		}
	}
	var kept []uint64
	rows, err := d.DB.Query("SELECT seq FROM events ORDER BY seq")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var s uint64
		_ = rows.Scan(&s)
		kept = append(kept, s)
	}
	if fmt.Sprint(kept) != "[3 4 5 6]" {
		t.Fatalf("kept %v, want [3 4 5 6]", kept)
	}
}

// One write's events share a row of the table, yet each is its own event
// in the feed: consecutive seqs in the write's order, and a reader can
// resume from any of them, also in the middle of the row.
func TestOneWritesEventsShareARow(t *testing.T) {
	d := dbtest.New(t)
	ctx := context.Background()
	emit(t, d.Store, "before")
	evs := make([]events.Event, 0, events.PackMax+3)
	for i := range events.PackMax + 3 {
		evs = append(evs, events.ProductUpdated(time.Now(), uint64(i+1), fmt.Sprintf("w%d", i)))
	}
	if err := d.Store.InTx(ctx, func(tx *store.Tx) error { return events.Emit(ctx, tx, time.Now(), evs...) }); err != nil {
		t.Fatal(err)
	}
	emit(t, d.Store, "after")
	var rows int
	if err := d.DB.QueryRow("SELECT COUNT(*) FROM events").Scan(&rows); err != nil || rows != 4 {
		t.Fatalf("%d rows (%v), want 4: one per one-event write, two for the write of PackMax+3", rows, err)
	}
	// The row of PackMax events is stored compressed, in the form SQL's
	// UNCOMPRESS reads; the rows of a few keep their text.
	var compressed, plain int
	var sqlText string
	if err := d.DB.QueryRow(`SELECT SUM(data_z IS NOT NULL AND data = ''), SUM(data_z IS NULL AND data <> ''),
		COALESCE(MAX(CONVERT(UNCOMPRESS(data_z) USING utf8mb4)), '') FROM events`).Scan(&compressed, &plain, &sqlText); err != nil {
		t.Fatal(err)
	}
	var wantText []string
	for _, e := range evs[:events.PackMax] {
		wantText = append(wantText, string(e.Data))
	}
	if compressed != 1 || plain != 3 || sqlText != strings.Join(wantText, "\n") {
		t.Fatalf("%d rows compressed, %d plain, want 1 and 3; UNCOMPRESS gives %.200q...", compressed, plain, sqlText)
	}
	if n, err := events.Sequence(ctx, d.Store); err != nil || n != events.PackMax+5 {
		t.Fatalf("sequenced %d (%v), want %d events", n, err, events.PackMax+5)
	}
	all, err := events.Read(ctx, d.Store, 0, 10000)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != events.PackMax+5 {
		t.Fatalf("read %d events, want %d", len(all), events.PackMax+5)
	}
	for i, e := range all {
		want := fmt.Sprintf("w%d", i-1)
		switch i {
		case 0:
			want = "before"
		case len(all) - 1:
			want = "after"
		}
		if e.Seq != uint64(i+1) || e.Slug != want || e.Type != events.TypeProductUpdated || e.ID() != fmt.Sprint(i+1) {
			t.Fatalf("event %d: seq %d, %s %q, want seq %d %q", i, e.Seq, e.Type, e.Slug, i+1, want)
		}
	}
	// Every position resumes exactly after itself, with any page size.
	for _, after := range []uint64{0, 1, 2, 100, events.PackMax, events.PackMax + 1, events.PackMax + 2, events.PackMax + 4} {
		for _, limit := range []int{1, 3, 1000} {
			got, err := events.Read(ctx, d.Store, after, limit)
			if err != nil {
				t.Fatal(err)
			}
			want := min(limit, events.PackMax+5-int(after))
			if len(got) != want || (want > 0 && got[0].Seq != after+1) || (want > 0 && got[len(got)-1].Seq != after+uint64(want)) {
				t.Fatalf("read after %d, %d: %d events from %v, want %d from %d", after, limit, len(got), seqs(got), want, after+1)
			}
		}
	}
	byseq, err := events.ReadSeqs(ctx, d.Store, []uint64{3, 2, 260, 3, 9999})
	if err != nil {
		t.Fatal(err)
	}
	if len(byseq) != 3 || byseq[2].Slug != "w0" || byseq[3].Slug != "w1" || byseq[260].Slug != "w258" {
		t.Fatalf("read by seq: %v", byseq)
	}
}

func seqs(evs []events.Event) []uint64 {
	out := make([]uint64, len(evs))
	for i, e := range evs {
		out[i] = e.Seq
	}
	return out
}

func slugs(evs []events.Event) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = e.Slug
	}
	return out
}

// A hole in seq (rows deleted by hand) holds the tail back only briefly.
func TestTailPassesAHoleThatStaysOpen(t *testing.T) {
	d := dbtest.New(t)
	h := runHub(t, d.Store)
	sub := subscribe(t, h, 0)
	for _, seq := range []int{1, 2, 5, 6} {
		if _, err := d.DB.Exec("INSERT INTO events (seq, type, data, created_at) VALUES (?, 'product.updated', ?, ?)",
			seq, fmt.Sprintf(`{"type":"product.updated","slug":"s%d"}`, seq), time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	got := collect(t, sub, 4)
	if fmt.Sprint(slugs(got)) != "[s1 s2 s5 s6]" {
		t.Fatalf("delivered %v", slugs(got))
	}
	emit(t, d.Store, "next")
	if got := collect(t, sub, 1); len(got) != 1 || got[0].Seq != 7 {
		t.Fatalf("after the hole: %v", got)
	}
}

// A subscriber that stops taking events while more than the hub's ring
// (64 here) go past is cut off, and does not hold up one that keeps up;
// resuming from its last id, it reads the rest from the table: no gap.
func TestASubscriberThatFallsBehindIsCutOffAndResumes(t *testing.T) {
	d := dbtest.New(t)
	h := runHub(t, d.Store)
	ctx := context.Background()
	slow := subscribe(t, h, 0)
	fast := subscribe(t, h, 0)
	emit(t, d.Store, "first")
	if got := collect(t, slow, 1); len(got) != 1 {
		t.Fatalf("slow got %v", slugs(got))
	}
	var kept []events.Event
	for round := range 20 { // 200 events, in rounds the fast one keeps up with
		for i := range 10 {
			emit(t, d.Store, fmt.Sprintf("e%d-%d", round, i))
		}
		kept = append(kept, collect(t, fast, 1+10*(round+1)-len(kept))...)
	}
	if len(kept) != 201 || kept[200].Seq != kept[0].Seq+200 {
		t.Fatalf("the subscriber that kept up got %d events", len(kept))
	}
	if _, err := slow.Next(ctx, 1000, 100*time.Millisecond); err != events.ErrTooSlow {
		t.Fatalf("the subscriber 200 events behind: %v, want ErrTooSlow", err)
	}
	resumed := subscribe(t, h, slow.Position())
	rest := collect(t, resumed, 200)
	for i, e := range rest {
		if e.Seq != kept[1+i].Seq {
			t.Fatalf("resumed: event %d is %d, want %d", i, e.Seq, kept[1+i].Seq)
		}
	}
}

// A subscriber that was waiting, caught up, when one write of more events
// than the ring holds (64 here) committed is not slow: it reads the burst
// from the table, call after call, without being cut off, and then follows
// the ring again.
func TestAnIdleSubscriberIsNotCutOffByABurstLargerThanTheRing(t *testing.T) {
	d := dbtest.New(t)
	h := runHub(t, d.Store)
	ctx := context.Background()
	emit(t, d.Store, "before")
	sub := subscribe(t, h, 0)
	if got := collect(t, sub, 1); len(got) != 1 {
		t.Fatalf("got %v", slugs(got))
	}
	if evs, err := sub.Next(ctx, 10, 50*time.Millisecond); err != nil || len(evs) != 0 {
		t.Fatalf("nothing to take: %v, %v", slugs(evs), err)
	}
	burst := make([]events.Event, 300)
	for i := range burst {
		burst[i] = events.ProductUpdated(time.Now(), uint64(i+1), fmt.Sprintf("b%d", i))
	}
	go func() {
		time.Sleep(50 * time.Millisecond) // while the subscriber waits
		_ = d.Store.InTx(ctx, func(tx *store.Tx) error { return events.Emit(ctx, tx, time.Now(), burst...) })
	}()
	var got []events.Event
	for len(got) < len(burst) {
		evs, err := sub.Next(ctx, 50, 5*time.Second)
		if err != nil {
			t.Fatalf("after %d of the burst's %d events: %v", len(got), len(burst), err)
		}
		if len(evs) == 0 {
			t.Fatalf("the burst stopped after %d events", len(got))
		}
		got = append(got, evs...)
	}
	for i, e := range got {
		if e.Slug != fmt.Sprintf("b%d", i) || e.Seq != got[0].Seq+uint64(i) {
			t.Fatalf("event %d of the burst: seq %d slug %s", i, e.Seq, e.Slug)
		}
	}
	emit(t, d.Store, "after")
	if after := collect(t, sub, 1); len(after) != 1 || after[0].Slug != "after" {
		t.Fatalf("after the burst: %v", slugs(after))
	}
}

// Waiting streams are woken in turn, each passing the turn on: one that
// stops waiting (its client gone, or its wait over) must not leave the
// others asleep. 40 streams wait with a long wait; 10 more give up every
// millisecond, and 5 leave for good halfway; every event still reaches
// every remaining stream at once, once, in order.
func TestEveryWaitingStreamIsWokenWhenOthersStopWaiting(t *testing.T) {
	d := dbtest.New(t)
	h := runHub(t, d.Store)
	head, _ := h.Last()
	type stream struct {
		mu  sync.Mutex
		got []uint64
	}
	var streams []*stream
	var wg sync.WaitGroup
	ctx, stop := context.WithCancel(context.Background())
	defer func() { stop(); wg.Wait() }()
	leaveCtx, leave := context.WithCancel(ctx)
	defer leave()
	open := func(ctx context.Context, wait time.Duration) *stream {
		s := &stream{}
		sub := subscribe(t, h, head)
		wg.Go(func() {
			for {
				evs, err := sub.Next(ctx, 1000, wait)
				if err != nil {
					return
				}
				s.mu.Lock()
				for _, e := range evs {
					s.got = append(s.got, e.Seq)
				}
				s.mu.Unlock()
			}
		})
		return s
	}
	for i := range 55 {
		switch {
		case i < 40:
			streams = append(streams, open(ctx, 30*time.Second))
		case i < 50:
			streams = append(streams, open(ctx, time.Millisecond))
		default:
			open(leaveCtx, 30*time.Second)
		}
	}
	for n := 1; n <= 30; n++ {
		if n == 15 {
			leave()
		}
		emit(t, d.Store, fmt.Sprintf("p%d", n))
		deadline := time.Now().Add(5 * time.Second)
		for i, s := range streams {
			for {
				s.mu.Lock()
				have := len(s.got)
				s.mu.Unlock()
				if have >= n {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("event %d: stream %d has %d events after 5 s", n, i, have)
				}
				time.Sleep(time.Millisecond)
			}
		}
	}
	for i, s := range streams {
		s.mu.Lock()
		for k, seq := range s.got {
			if seq != head+uint64(k)+1 {
				t.Fatalf("stream %d: event %d has seq %d, want %d (got %v)", i, k, seq, head+uint64(k)+1, s.got)
			}
		}
		s.mu.Unlock()
	}
}

// TestSequencerCreatesAMissingSequenceRow: the sequencer's one-round-trip
// lock and read finds no sequence row (a table emptied by hand) and takes
// the long way: it creates the row and numbers on from the table's seqs.
func TestSequencerCreatesAMissingSequenceRow(t *testing.T) {
	d := dbtest.New(t)
	ctx := context.Background()
	emit(t, d.Store, "a")
	if n, err := events.Sequence(ctx, d.Store); err != nil || n != 1 {
		t.Fatalf("numbered %d (%v), want 1", n, err)
	}
	if _, err := d.DB.Exec("DELETE FROM event_sequence"); err != nil {
		t.Fatal(err)
	}
	emit(t, d.Store, "b")
	emit(t, d.Store, "c")
	if n, err := events.Sequence(ctx, d.Store); err != nil || n != 2 {
		t.Fatalf("numbered %d (%v), want 2", n, err)
	}
	evs, err := events.Read(ctx, d.Store, 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if got := seqs(evs); !slices.Equal(got, []uint64{1, 2, 3}) || !slices.Equal(slugs(evs), []string{"a", "b", "c"}) {
		t.Fatalf("feed %v %v, want seqs 1 2 3 for a b c", got, slugs(evs))
	}
	var last uint64
	if err := d.DB.QueryRow("SELECT last_seq FROM event_sequence WHERE id = 1").Scan(&last); err != nil || last != 3 {
		t.Fatalf("sequence row last_seq %d (%v), want 3", last, err)
	}
}

// A subscription catching up from the table while retention deletes the
// rows just ahead of it gets ErrReset, as a client resuming from its id
// would, and never a silent jump over the deleted events.
func TestACatchingUpSubscriptionPrunedPastIsReset(t *testing.T) {
	d := dbtest.New(t)
	ctx := context.Background()
	for i := range 200 {
		emit(t, d.Store, fmt.Sprint(i))
	}
	if _, err := events.Sequence(ctx, d.Store); err != nil {
		t.Fatal(err)
	}
	h := runHub(t, d.Store) // a ring of 64: the first events are only in the table
	for start := time.Now(); ; time.Sleep(5 * time.Millisecond) {
		if _, ready := h.Last(); ready {
			break
		}
		if time.Since(start) > 10*time.Second {
			t.Fatal("the hub never read the head")
		}
	}
	sub := subscribe(t, h, 0)
	evs, err := sub.Next(ctx, 10, time.Second)
	if err != nil || len(evs) != 10 || evs[9].Seq != 10 {
		t.Fatalf("first read: %d events (%v)", len(evs), err)
	}
	if _, err := d.DB.Exec("UPDATE events SET created_at = ? WHERE seq <= 50", time.Now().Add(-8*24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if n, err := events.Prune(ctx, d.Store, 7*24*time.Hour, 0, 100); err != nil || n != 50 {
		t.Fatalf("pruned %d (%v), want 50", n, err)
	}
	if evs, err := sub.Next(ctx, 10, time.Second); err != events.ErrReset {
		first := uint64(0)
		if len(evs) > 0 {
			first = evs[0].Seq
		}
		t.Fatalf("after events 11-50 were pruned: %d events from seq %d (%v), want ErrReset", len(evs), first, err)
	}
}

// While the database fails, the tail backs off instead of retrying every
// poll (and logging each time), and once it answers again the stream goes
// on with what was written meanwhile.
func TestTheTailBacksOffWhileTheDatabaseFails(t *testing.T) {
	t.Parallel()
	d, f := dbtest.NewFaulty(t)
	var logs syncBuffer
	h := events.NewHub(d.Store, events.HubConfig{Poll: 10 * time.Millisecond, Log: slog.New(slog.NewJSONHandler(&logs, nil))})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { h.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	emit(t, d.Store, "before")
	sub := subscribe(t, h, 0)
	if got := collect(t, sub, 1); len(got) != 1 {
		t.Fatalf("before the outage: %d events", len(got))
	}
	f.Set("FROM events WHERE seq", 1927, -1) // connection killed, on every read of the tail
	time.Sleep(3 * time.Second)
	hits := f.Hits()
	f.Set("", 0, 0)
	// Every 10 ms that would be some 300 reads; doubling to 5 s, under 15.
	if hits == 0 || hits > 20 {
		t.Errorf("the tail read the failing database %d times in 3 s", hits)
	}
	if n := strings.Count(logs.String(), `"msg":"events: tail"`); n != 1 {
		t.Errorf("%d warnings for one outage, want 1:\n%s", n, logs.String())
	}
	emit(t, d.Store, "after")
	if got := collect(t, sub, 1); len(got) != 1 || got[0].Slug != "after" {
		t.Fatalf("after the outage: %v", got)
	}
	// Logged just after the step that delivered it.
	for start := time.Now(); !strings.Contains(logs.String(), `"msg":"events: tail recovered"`); time.Sleep(10 * time.Millisecond) {
		if time.Since(start) > 5*time.Second {
			t.Fatalf("no word of the recovery:\n%s", logs.String())
		}
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
