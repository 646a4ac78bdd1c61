package webhooks

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/shelfcommerce/shelf/db"
	"github.com/shelfcommerce/shelf/internal/events"
	"github.com/shelfcommerce/shelf/internal/metrics"
	"github.com/shelfcommerce/shelf/internal/rules"
	"github.com/shelfcommerce/shelf/internal/store"
)

const (
	// fanOutBatch is how many events one fan-out transaction queues.
	fanOutBatch = 1000
	// leaseMargin is how long past its timeout an attempt may take to be
	// recorded before another dispatcher may make the next attempt.
	leaseMargin = 50 * time.Second
	// bodyLimit is how much of an answer is read (and what of it is logged).
	bodyLimit = 4 << 10
	// claimRounds is how many rounds of attempts (Workers each) one claim
	// takes: more makes fewer claim commits, and a longer lease.
	claimRounds = 4
	// recordTimeout bounds the recording of a batch of attempts: a
	// database that does not answer must not hold the workers for good.
	recordTimeout = 30 * time.Second
	// logRetention is how long the delivery log is kept.
	logRetention = 30 * 24 * time.Hour
)

// Dispatcher fans the feed out to webhooks and sends the deliveries. Any
// number of dispatchers, in one process or many, can run on one database.
type Dispatcher struct {
	st     *store.Store
	cfg    Config
	log    *slog.Logger
	client *http.Client
	wake   chan struct{} // the fan-out queued deliveries
	events chan struct{} // the feed has new events
	// lease is how long a claimed attempt is this dispatcher's alone.
	lease time.Duration
	// clock is the monotonic clock leases are checked on (time.Now; a
	// test moves it to make a claim outlive its lease).
	clock func() time.Time
}

// NewDispatcher returns a dispatcher on st; Run starts it.
func NewDispatcher(st *store.Store, cfg Config) *Dispatcher {
	cfg = cfg.withDefaults()
	tr := &http.Transport{
		Proxy:                 nil, // a proxy would dial for us, past the address check
		DialContext:           newDialer(cfg.AllowPrivate, cfg.Resolver, cfg.Timeout).DialContext,
		TLSHandshakeTimeout:   cfg.Timeout,
		ResponseHeaderTimeout: cfg.Timeout,
		MaxIdleConnsPerHost:   cfg.Workers,
		IdleConnTimeout:       90 * time.Second,
		ForceAttemptHTTP2:     true,
	}
	return &Dispatcher{
		st: st, cfg: cfg, log: cfg.Logger,
		client: &http.Client{
			Transport: tr,
			Timeout:   cfg.Timeout,
			// A redirect is an answer, not a delivery: following it would
			// send the event (and reach addresses) nobody registered.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		wake:   make(chan struct{}, 1),
		events: make(chan struct{}, 1),
		// A claimed attempt waits for a free worker (at most claimRounds
		// timeouts) and then takes one timeout.
		lease: (claimRounds+1)*cfg.Timeout + leaseMargin,
		clock: time.Now,
	}
}

// Run fans out and delivers until ctx ends, then waits for the attempts in
// flight (each bounded by the timeout) and records them.
func (d *Dispatcher) Run(ctx context.Context) {
	var wg sync.WaitGroup
	wg.Go(func() { d.fanOutLoop(ctx) })
	wg.Go(func() { d.sendLoop(ctx) })
	wg.Go(func() { d.pruneLoop(ctx) })
	wg.Wait()
	d.client.CloseIdleConnections()
}

func (d *Dispatcher) fanOutLoop(ctx context.Context) {
	for {
		n, none, err := d.fanOut(ctx)
		if err != nil && ctx.Err() == nil {
			d.log.Warn("webhooks: fan-out failed", "err", err)
		}
		if n > 0 {
			nudge(d.wake)
		}
		if n == fanOutBatch {
			continue
		}
		// With no webhook registered, new events need not wake the
		// fan-out: the poll finds the first webhook, which wants only
		// events after its registration anyway.
		news := d.events
		if none {
			news = nil
		}
		select {
		case <-ctx.Done():
			return
		case <-news:
		case <-time.After(d.cfg.Poll):
		}
	}
}

// Wake tells the dispatcher that the feed has new events, so that it fans
// them out now rather than at its next poll. It never blocks.
func (d *Dispatcher) Wake() { nudge(d.events) }

func nudge(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// sleep waits for dur; it reports false when ctx ended first.
func sleep(ctx context.Context, dur time.Duration) bool {
	t := time.NewTimer(dur)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// FanOut queues the deliveries of up to fanOutBatch events past the cursor
// and advances it, in one transaction; it returns how many events it passed.
// While no webhook is registered it does nothing at all: the cursor stays
// where it is (retention does not wait for it then, see events.Prune), and
// a webhook registered later wants only the events after the head it was
// registered at, so the fan-out moves the cursor up to the oldest webhook's
// start before it reads.
func (d *Dispatcher) FanOut(ctx context.Context) (int, error) {
	n, _, err := d.fanOut(ctx)
	return n, err
}

// fanOut is FanOut, also saying whether no webhook is registered.
func (d *Dispatcher) fanOut(ctx context.Context) (passed int, none bool, err error) {
	if some, err := d.st.Q.AnyWebhook(ctx); err != nil || !some {
		return 0, err == nil, err
	}
	// READ COMMITTED: the fan-out reads events without gap locks, which
	// would hold up the sequencer numbering the next ones.
	err = d.st.InTxOpts(ctx, &sql.TxOptions{Isolation: sql.LevelReadCommitted}, func(tx *store.Tx) error {
		passed = 0
		cur, err := tx.Q.LockWebhookCursor(ctx)
		if err != nil {
			return fmt.Errorf("lock webhook cursor: %w", err)
		}
		targets, err := tx.Q.FanOutTargets(ctx)
		if err != nil || len(targets) == 0 {
			return err
		}
		from := cur
		if oldest := slices.MinFunc(targets, func(a, b db.FanOutTargetsRow) int { return cmp.Compare(a.FromSeq, b.FromSeq) }).FromSeq; oldest > cur {
			from = oldest // no webhook wants an event up to here
		}
		evs, err := events.ReadWith(ctx, tx, from, fanOutBatch)
		if err != nil {
			return fmt.Errorf("read events: %w", err)
		}
		if len(evs) == 0 {
			if from == cur {
				return nil
			}
			return tx.Q.AdvanceWebhookCursor(ctx, from)
		}
		subscribed := make([]func(string) bool, len(targets))
		for i, t := range targets {
			types := strings.Split(t.Events, ",")
			subscribed[i] = func(typ string) bool { return t.Events == AllEvents || slices.Contains(types, typ) }
		}
		now := time.Now().UTC()
		var rows []any
		for _, e := range evs {
			for i, t := range targets {
				if e.Seq > t.FromSeq && subscribed[i](e.Type) {
					rows = append(rows, t.ID, e.Seq, e.Type, 0, now, now)
				}
			}
		}
		if _, err := store.InsertRows(ctx, tx, "INSERT INTO webhook_queue (webhook_id, event_seq, event_type, attempts, next_at, created_at)", 6, rows, ""); err != nil {
			return fmt.Errorf("queue deliveries: %w", err)
		}
		passed = len(evs)
		return tx.Q.AdvanceWebhookCursor(ctx, evs[len(evs)-1].Seq)
	})
	return passed, false, err
}

// job is one claimed attempt, with what it sends.
type job struct {
	db.DueDeliveriesRow
	attempt uint32 // the attempt this claim makes (1 is the first)
	// startBy is the last moment the attempt may start and still end, and
	// be recorded, inside its lease; past it another dispatcher may have
	// claimed the delivery again, so the attempt is not made here.
	startBy time.Time
	webhook *db.Webhook // nil: removed since the event was queued
	body    *string     // nil: the event is past the feed's retention
}

// claim takes up to n due deliveries for this dispatcher (another one skips
// them until their lease runs out) and reads their webhooks and events.
func (d *Dispatcher) claim(ctx context.Context, n int) ([]job, error) {
	var jobs []job
	err := d.st.InTxOpts(ctx, &sql.TxOptions{Isolation: sql.LevelReadCommitted}, func(tx *store.Tx) error {
		jobs = jobs[:0]
		now := time.Now().UTC()
		rows, err := tx.Q.DueDeliveries(ctx, db.DueDeliveriesParams{NextAt: now, Limit: int32(n)})
		if err != nil || len(rows) == 0 {
			return err
		}
		ids := make([]uint64, len(rows))
		// On the monotonic clock (now is UTC, for the database, and has none).
		startBy := d.clock().Add(d.lease - d.cfg.Timeout - leaseMargin)
		for i, r := range rows {
			ids[i] = r.ID
			jobs = append(jobs, job{DueDeliveriesRow: r, attempt: r.Attempts + 1, startBy: startBy})
		}
		return tx.Q.LeaseDeliveries(ctx, db.LeaseDeliveriesParams{NextAt: now.Add(d.lease), Ids: ids})
	})
	if err != nil || len(jobs) == 0 {
		return nil, err
	}
	if err := d.load(ctx, jobs); err != nil {
		d.release(jobs)
		return nil, err
	}
	return jobs, nil
}

// load reads the webhooks and the events of claimed jobs, one query each.
func (d *Dispatcher) load(ctx context.Context, jobs []job) error {
	var whIDs []uint64
	seqs := make([]uint64, len(jobs))
	for i, j := range jobs {
		whIDs = append(whIDs, j.WebhookID)
		seqs[i] = j.EventSeq
	}
	whs, err := d.st.Q.WebhooksByID(ctx, slices.Compact(slices.Sorted(slices.Values(whIDs))))
	if err != nil {
		return fmt.Errorf("read webhooks: %w", err)
	}
	evs, err := events.ReadSeqs(ctx, d.st, seqs)
	if err != nil {
		return fmt.Errorf("read events: %w", err)
	}
	byID := make(map[uint64]*db.Webhook, len(whs))
	for i := range whs {
		byID[whs[i].ID] = &whs[i]
	}
	for i := range jobs {
		jobs[i].webhook = byID[jobs[i].WebhookID]
		if e, ok := evs[jobs[i].EventSeq]; ok {
			body := string(e.Data)
			jobs[i].body = &body
		}
	}
	return nil
}

// sendLoop keeps up to Workers attempts in flight. It claims claimRounds x
// Workers due deliveries at a time and starts each as a slot frees, so that one claim
// commit serves several deliveries, and hands the outcomes to a recorder
// that writes them in batches: commits, not HTTP, bound the throughput of
// a backlog on a database that flushes its log on every commit.
func (d *Dispatcher) sendLoop(ctx context.Context) {
	slots := make(chan struct{}, d.cfg.Workers)
	outcomes := make(chan attempt, d.cfg.Workers*4)
	recorded := make(chan struct{})
	go func() { d.recordLoop(outcomes); close(recorded) }()
	var inflight sync.WaitGroup
	var ready []job
	defer func() {
		inflight.Wait()
		close(outcomes)
		<-recorded
		d.release(ready)
	}()
	for {
		if len(ready) == 0 {
			jobs, err := d.claim(ctx, claimRounds*d.cfg.Workers)
			if err != nil && ctx.Err() == nil {
				d.log.Warn("webhooks: claim failed", "err", err)
			}
			if len(jobs) == 0 {
				select {
				case <-ctx.Done():
					return
				case <-d.wake:
				case <-time.After(d.cfg.Poll):
				}
				continue
			}
			ready = jobs
		}
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			return
		}
		j := ready[0]
		ready = ready[1:]
		if d.clock().After(j.startBy) {
			// The claim is too old (the recorder, and so the workers, were
			// held up by the database): its leases are left to run out,
			// and whoever claims the deliveries then makes the attempts.
			<-slots
			ready = nil
			continue
		}
		inflight.Go(func() {
			defer func() { <-slots }()
			// An attempt under way is finished and recorded even when
			// the dispatcher is stopping: it is bounded by the timeout.
			outcomes <- d.attempt(context.WithoutCancel(ctx), j)
		})
	}
}

// release hands back claimed attempts that were never started.
func (d *Dispatcher) release(jobs []job) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, j := range jobs {
		err := d.st.Q.ReleaseDelivery(ctx, db.ReleaseDeliveryParams{NextAt: time.Now().UTC(), ID: j.ID, Attempts: j.attempt})
		if err != nil {
			d.log.Warn("webhooks: release delivery", "seq", j.EventSeq, "err", err)
		}
	}
}

// recordLoop records outcomes as they come, up to 100 per transaction.
func (d *Dispatcher) recordLoop(in <-chan attempt) {
	for a := range in {
		batch := []attempt{a}
	more:
		for len(batch) < 100 {
			select {
			case a, ok := <-in:
				if !ok {
					break more
				}
				batch = append(batch, a)
			default:
				break more
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), recordTimeout)
		err := d.record(ctx, batch)
		cancel()
		if err != nil {
			// Unrecorded, the attempts' leases run out and they are made again.
			d.log.Warn("webhooks: record deliveries", "attempts", len(batch), "err", err)
			continue
		}
		for _, a := range batch {
			if a.webhook != nil {
				metrics.WebhookDeliveries.WithLabelValues(d.outcomeOf(a)).Inc()
			}
		}
	}
}

// outcomeOf is the shelf_webhook_deliveries_total label of a recorded attempt.
func (d *Dispatcher) outcomeOf(a attempt) string {
	switch {
	case a.ok():
		return "delivered"
	case int(a.job.attempt) <= len(d.cfg.Schedule):
		return "failed"
	}
	return "abandoned"
}

// record logs a batch of attempts and moves their queue rows on, in one
// transaction of a few statements: the rows of each attempt number are
// deleted (delivered, or out of retries) or set due again together, and the
// log rows go in one INSERT. A row that no longer holds the attempt (its
// lease ran out and another dispatcher claimed it again) is left alone.
func (d *Dispatcher) record(ctx context.Context, batch []attempt) error {
	type group struct {
		attempt uint32
		retry   bool
	}
	now := time.Now().UTC()
	groups := map[group][]uint64{}
	failing := map[uint64]bool{} // webhook id: true to mark failing, false to clear the mark
	var logRows []any
	for _, a := range batch {
		retry := a.webhook != nil && !a.ok() && int(a.job.attempt) <= len(d.cfg.Schedule)
		g := group{a.job.attempt, retry}
		groups[g] = append(groups[g], a.ID)
		if a.webhook == nil {
			continue // removed: nothing to log
		}
		var next sql.NullTime
		switch {
		case retry:
			next = sql.NullTime{Time: now.Add(d.cfg.Schedule[a.job.attempt-1]), Valid: true}
		case !a.ok():
			failing[a.webhook.ID] = true
		default:
			// A delivery clears the mark whatever the webhook said when it
			// was claimed: another dispatcher may have marked it since
			// (an older event's last retry). The clear writes only a
			// marked row.
			failing[a.webhook.ID] = false
		}
		var status sql.NullInt32
		if a.status != 0 {
			status = sql.NullInt32{Int32: int32(a.status), Valid: true}
		}
		var msg sql.NullString
		if a.err != "" {
			msg = sql.NullString{String: rules.Clip(a.err, 512), Valid: true}
		}
		logRows = append(logRows, a.webhook.ID, a.EventSeq, a.EventType, a.job.attempt, status, msg,
			uint32(a.took.Milliseconds()), next, now)
	}
	err := d.st.InTx(ctx, func(tx *store.Tx) error {
		for g, ids := range groups {
			var err error
			if g.retry {
				_, err = tx.Q.RetryDeliveries(ctx, db.RetryDeliveriesParams{
					NextAt: now.Add(d.cfg.Schedule[g.attempt-1]), Attempts: g.attempt, Ids: ids,
				})
			} else {
				_, err = tx.Q.FinishDeliveries(ctx, db.FinishDeliveriesParams{Attempts: g.attempt, Ids: ids})
			}
			if err != nil {
				return err
			}
		}
		// In id order, so that two dispatchers never lock two webhooks in
		// opposite orders.
		for _, id := range slices.Sorted(maps.Keys(failing)) {
			var err error
			if failing[id] {
				err = tx.Q.MarkWebhookFailing(ctx, db.MarkWebhookFailingParams{FailingSince: sql.NullTime{Time: now, Valid: true}, ID: id})
			} else {
				err = tx.Q.ClearWebhookFailing(ctx, id)
			}
			if err != nil {
				return err
			}
		}
		if len(logRows) == 0 {
			return nil
		}
		_, err := store.InsertRows(ctx, tx, "INSERT INTO webhook_deliveries (webhook_id, event_seq, event_type, attempt, "+
			"response_status, error, duration_ms, next_attempt_at, at)", 9, logRows, "")
		return err
	})
	return err // recordLoop counts the recorded attempts
}

// pruneLoop deletes delivery log rows older than logRetention, in small
// batches so that no statement holds locks for long.
func (d *Dispatcher) pruneLoop(ctx context.Context) {
	for sleep(ctx, time.Minute) {
		for ctx.Err() == nil {
			n, err := d.st.Q.PruneDeliveryLog(ctx, time.Now().UTC().Add(-logRetention))
			if err != nil || n < 1000 {
				break
			}
		}
	}
}
