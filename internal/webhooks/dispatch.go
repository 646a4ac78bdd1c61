package webhooks

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/shelfcommerce/shelf/db"
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
	wake   chan struct{}
	// lease is how long a claimed attempt is this dispatcher's alone.
	lease time.Duration
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
		wake:  make(chan struct{}, 1),
		lease: cfg.Timeout + leaseMargin,
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
		n, err := d.FanOut(ctx)
		if err != nil && ctx.Err() == nil {
			d.log.Warn("webhooks: fan-out failed", "err", err)
		}
		if n > 0 {
			d.nudge()
		}
		if n < fanOutBatch && !sleep(ctx, d.cfg.Poll) {
			return
		}
		if ctx.Err() != nil {
			return
		}
	}
}

func (d *Dispatcher) nudge() {
	select {
	case d.wake <- struct{}{}:
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
func (d *Dispatcher) FanOut(ctx context.Context) (int, error) {
	var passed int
	// READ COMMITTED: the INSERT ... SELECT reads events without gap locks,
	// which would hold up the sequencer numbering the next ones.
	err := d.st.InTxOpts(ctx, &sql.TxOptions{Isolation: sql.LevelReadCommitted}, func(tx *store.Tx) error {
		passed = 0
		cur, err := tx.Q.LockWebhookCursor(ctx)
		if err != nil {
			return fmt.Errorf("lock webhook cursor: %w", err)
		}
		head, err := tx.Q.WebhookFeedHead(ctx)
		if err != nil || uint64(head) <= cur {
			return err
		}
		upto := min(uint64(head), cur+fanOutBatch)
		now := time.Now().UTC()
		if _, err := tx.Q.FanOutEvents(ctx, db.FanOutEventsParams{
			NextAt: now, CreatedAt: now,
			After: sql.NullInt64{Int64: int64(cur), Valid: true}, Upto: sql.NullInt64{Int64: int64(upto), Valid: true},
		}); err != nil {
			return fmt.Errorf("queue deliveries: %w", err)
		}
		passed = int(upto - cur)
		return tx.Q.AdvanceWebhookCursor(ctx, upto)
	})
	return passed, err
}

// job is one claimed attempt.
type job struct {
	db.DueDeliveriesRow
	attempt uint32 // the attempt this claim makes (1 is the first)
}

// claim takes up to n due deliveries for this dispatcher: another one skips
// them until their lease runs out.
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
		for i, r := range rows {
			ids[i] = r.ID
			jobs = append(jobs, job{r, r.Attempts + 1})
		}
		return tx.Q.LeaseDeliveries(ctx, db.LeaseDeliveriesParams{NextAt: now.Add(d.lease), Ids: ids})
	})
	return jobs, err
}

// sendLoop keeps up to Workers attempts in flight.
func (d *Dispatcher) sendLoop(ctx context.Context) {
	slots := make(chan struct{}, d.cfg.Workers)
	var inflight sync.WaitGroup
	defer inflight.Wait()
	for {
		// Wait for one free slot, then take every other free one.
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			return
		}
		n := 1
	more:
		for n < d.cfg.Workers {
			select {
			case slots <- struct{}{}:
				n++
			default:
				break more
			}
		}
		jobs, err := d.claim(ctx, n)
		if err != nil && ctx.Err() == nil {
			d.log.Warn("webhooks: claim failed", "err", err)
		}
		for range n - len(jobs) {
			<-slots
		}
		for _, j := range jobs {
			inflight.Go(func() {
				defer func() { <-slots }()
				// An attempt under way is finished and recorded even when
				// the dispatcher is stopping: it is bounded by the timeout.
				d.deliver(context.WithoutCancel(ctx), j)
			})
		}
		if len(jobs) < n {
			select {
			case <-ctx.Done():
				return
			case <-d.wake:
			case <-time.After(d.cfg.Poll):
			}
		}
	}
}

// outcome is what one attempt gave.
type outcome struct {
	status int // 0: no HTTP answer
	err    string
	took   time.Duration
}

func (o outcome) ok() bool { return o.status >= 200 && o.status < 300 }

// deliver makes one claimed attempt and records it.
func (d *Dispatcher) deliver(ctx context.Context, j job) {
	wh, err := d.st.Q.GetWebhook(ctx, j.WebhookID)
	if errors.Is(err, sql.ErrNoRows) {
		_, _ = d.st.Q.FinishDelivery(ctx, db.FinishDeliveryParams{ID: j.ID, Attempts: j.attempt})
		return
	} else if err != nil {
		d.log.Warn("webhooks: read webhook", "webhook_id", j.WebhookID, "err", err)
		return // the lease runs out and the attempt is made again
	}
	var out outcome
	body, err := d.st.Q.DeliveryEvent(ctx, sql.NullInt64{Int64: int64(j.EventSeq), Valid: true})
	switch {
	case errors.Is(err, sql.ErrNoRows):
		out.err = "the event is older than the feed's retention and was deleted"
	case err != nil:
		d.log.Warn("webhooks: read event", "seq", j.EventSeq, "err", err)
		return
	default:
		out = d.send(ctx, wh, j.EventSeq, []byte(body))
	}
	if err := d.record(ctx, j, wh, out); err != nil {
		d.log.Warn("webhooks: record delivery", "webhook_id", j.WebhookID, "seq", j.EventSeq, "err", err)
	}
}

// send POSTs one event, signed, and reads at most bodyLimit of the answer.
func (d *Dispatcher) send(ctx context.Context, wh db.Webhook, seq uint64, body []byte) outcome {
	start := time.Now()
	id := strconv.FormatUint(seq, 10)
	sig, err := signature(wh.Secret, id, start.Unix(), body)
	if err != nil {
		return outcome{err: err.Error()}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, wh.Url, bytes.NewReader(body))
	if err != nil {
		return outcome{err: "bad URL: " + err.Error()}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Shelf-Webhooks/1")
	req.Header.Set("webhook-id", id)
	req.Header.Set("webhook-timestamp", strconv.FormatInt(start.Unix(), 10))
	req.Header.Set("webhook-signature", sig)
	resp, err := d.client.Do(req)
	if err != nil {
		return outcome{err: err.Error(), took: time.Since(start)}
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, bodyLimit))
	out := outcome{status: resp.StatusCode, took: time.Since(start)}
	if !out.ok() {
		out.err = fmt.Sprintf("answered %s", resp.Status)
		if loc := resp.Header.Get("Location"); loc != "" {
			out.err += " to " + loc + " (redirects are not followed)"
		}
		if s := strings.TrimSpace(strings.ToValidUTF8(string(answer), "")); s != "" {
			out.err += ": " + s
		}
	}
	return out
}

// record logs an attempt and moves its queue row on, provided the row still
// holds this attempt (a lease that ran out means another dispatcher has
// moved it on already).
func (d *Dispatcher) record(ctx context.Context, j job, wh db.Webhook, out outcome) error {
	now := time.Now().UTC()
	retry := !out.ok() && int(j.attempt) <= len(d.cfg.Schedule)
	return d.st.InTx(ctx, func(tx *store.Tx) error {
		var next sql.NullTime
		switch {
		case retry:
			next = sql.NullTime{Time: now.Add(d.cfg.Schedule[j.attempt-1]), Valid: true}
			if _, err := tx.Q.RetryDelivery(ctx, db.RetryDeliveryParams{NextAt: next.Time, ID: j.ID, Attempts: j.attempt}); err != nil {
				return err
			}
		default:
			n, err := tx.Q.FinishDelivery(ctx, db.FinishDeliveryParams{ID: j.ID, Attempts: j.attempt})
			if err != nil {
				return err
			}
			if n == 1 && !out.ok() {
				err = tx.Q.MarkWebhookFailing(ctx, db.MarkWebhookFailingParams{FailingSince: sql.NullTime{Time: now, Valid: true}, ID: wh.ID})
			} else if n == 1 && wh.FailingSince.Valid {
				err = tx.Q.ClearWebhookFailing(ctx, wh.ID)
			}
			if err != nil {
				return err
			}
		}
		p := db.LogDeliveryParams{
			WebhookID: wh.ID, EventSeq: j.EventSeq, EventType: j.EventType, Attempt: j.attempt,
			DurationMs: uint32(out.took.Milliseconds()), NextAttemptAt: next, At: now,
		}
		if out.status != 0 {
			p.ResponseStatus = sql.NullInt32{Int32: int32(out.status), Valid: true}
		}
		if out.err != "" {
			p.Error = sql.NullString{String: truncate(out.err, 512), Valid: true}
		}
		return tx.Q.LogDelivery(ctx, p)
	})
}

// truncate cuts s to at most n characters, on a character boundary.
func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
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
