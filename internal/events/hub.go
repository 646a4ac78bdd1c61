package events

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/shelfcommerce/shelf/internal/metrics"
	"github.com/shelfcommerce/shelf/internal/store"
)

// HubConfig tunes a Hub.
type HubConfig struct {
	// Poll is how often the hub looks for events of other instances
	// (default 25ms); this process's own writes wake it sooner (see Gap).
	Poll time.Duration
	// Gap is the shortest time between two sequencer runs (default 10ms,
	// never more than Poll). A write wakes the hub at once only when the
	// last run is at least Gap old; under a stream of writes each run then
	// numbers every row committed in the meantime in one transaction
	// instead of one sequencer transaction (and one log flush) per write.
	Gap time.Duration
	// Ring is how many recent events are kept in memory for subscribers
	// (default 16384). A subscriber further behind than this is cut off.
	Ring int
	// Retention: events older than this are deleted (default 7 days).
	Retention time.Duration
	Log       *slog.Logger
}

// Hub is a process's one reader of the feed: it runs the sequencer, tails
// the table (seq > last) and fans the events out to every subscriber from a
// shared ring in memory, so a thousand open streams cost one query per poll,
// not a thousand. A subscriber only holds its position: one that falls
// further behind than the ring is disconnected (ErrTooSlow) and resumes by
// id, so it can neither slow the others nor grow the hub's memory.
type Hub struct {
	st  *store.Store
	cfg HubConfig

	nudge chan struct{}

	mu    sync.RWMutex
	ring  []Event // circular, ring[(first+i)%len] holds seq base+i
	start int
	count int
	last  uint64 // highest seq tailed
	// origin: every event after it has passed through the ring, so a reader
	// at or after it that the ring no longer covers was overtaken (too slow);
	// one before it is catching up from the table.
	origin uint64
	ready  bool          // last is known
	wake   chan struct{} // closed when events arrive, then replaced
	// The last hole passed: no events exist in (holeFrom, holeTo].
	holeFrom, holeTo uint64

	followMu sync.RWMutex
	follow   []func([]Event)

	holeSince time.Time // when the tail first met a hole in seq (the Run goroutine's)
	sequenced int       // rows the last sequencer run numbered (the Run goroutine's)
}

// holeWait is how long the tail waits at a hole in seq before passing it.
const holeWait = 2 * time.Second

// NewHub returns the hub of st; Run starts it.
func NewHub(st *store.Store, cfg HubConfig) *Hub {
	if cfg.Poll <= 0 {
		cfg.Poll = 25 * time.Millisecond
	}
	if cfg.Gap <= 0 {
		cfg.Gap = 10 * time.Millisecond
	}
	cfg.Gap = min(cfg.Gap, cfg.Poll)
	if cfg.Ring <= 0 {
		cfg.Ring = 16384
	}
	if cfg.Retention <= 0 {
		cfg.Retention = 7 * 24 * time.Hour
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	h := &Hub{st: st, cfg: cfg, nudge: make(chan struct{}, 1), ring: make([]Event, cfg.Ring), wake: make(chan struct{})}
	// This process's writes wake the sequencer (after Gap, see Run).
	FollowersOf(st).Add(func([]Event) {
		select {
		case h.nudge <- struct{}{}:
		default:
		}
	})
	return h
}

// Follow registers fn to be called, on the hub's goroutine, with every batch
// of events tailed (every instance's), before subscribers see them.
func (h *Hub) Follow(fn func([]Event)) {
	h.followMu.Lock()
	h.follow = append(h.follow, fn)
	h.followMu.Unlock()
}

// Run sequences, tails and prunes until ctx ends.
func (h *Hub) Run(ctx context.Context) {
	for h.start0(ctx) != nil {
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Second):
		}
	}
	prune := time.NewTicker(time.Minute)
	defer prune.Stop()
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-prune.C:
				if n, err := Prune(ctx, h.st, h.cfg.Retention, time.Minute, 1000); err != nil && ctx.Err() == nil {
					h.cfg.Log.Warn("events: prune", "err", err)
				} else if n > 0 {
					h.cfg.Log.Info("events: pruned", "deleted", n)
				}
			}
		}
	}()
	t := time.NewTimer(h.cfg.Poll)
	defer t.Stop()
	var down outage
	for {
		began := time.Now()
		busy, err := h.step(ctx)
		if ctx.Err() != nil {
			return
		}
		wait := down.next(err, h.cfg.Poll, h.cfg.Log)
		if busy {
			// More is waiting (the tail read a full batch, even if the
			// sequencer failed): no sleep.
			continue
		}
		t.Reset(wait)
		select {
		case <-ctx.Done():
			return
		case <-h.nudge:
			// Let the writes of the next Gap join this one's run.
			if wait := h.cfg.Gap - time.Since(began); wait > 0 {
				select {
				case <-ctx.Done():
					return
				case <-time.After(wait):
				}
			}
		case <-t.C:
		}
	}
}

func (h *Hub) start0(ctx context.Context) error {
	head, err := Head(ctx, h.st)
	if err != nil {
		h.cfg.Log.Warn("events: start", "err", err)
		return err
	}
	h.mu.Lock()
	h.last, h.origin, h.ready = head, head, true
	h.mu.Unlock()
	return nil
}

// step runs the sequencer once and tails once; busy means a batch was full.
func (h *Hub) step(ctx context.Context) (busy bool, err error) {
	rows, _, serr := sequence(ctx, h.st, h.sequenced == 0)
	h.sequenced = rows
	h.mu.RLock()
	last := h.last
	h.mu.RUnlock()
	evs, err := Read(ctx, h.st, last, 1000)
	if err != nil {
		return false, err
	}
	// seq is consecutive by construction; stop at a hole rather than pass
	// it, unless it stays open for holeWait (rows deleted or numbered by hand
	// must not stall the feed), then go on after it and say so.
	if len(evs) > 0 && evs[0].Seq != last+1 {
		if h.holeSince.IsZero() {
			h.holeSince = time.Now()
		}
		if time.Since(h.holeSince) < holeWait {
			return false, serr
		}
		h.cfg.Log.Warn("events: skipped a hole in seq", "after", last, "next", evs[0].Seq)
		h.mu.Lock()
		h.holeFrom, h.holeTo = last, evs[0].Seq-1
		h.start, h.count, h.last, h.origin = 0, 0, evs[0].Seq-1, evs[0].Seq-1
		h.mu.Unlock()
		last = evs[0].Seq - 1
	}
	h.holeSince = time.Time{}
	for i := range evs {
		if evs[i].Seq != last+uint64(i)+1 {
			evs = evs[:i]
			break
		}
	}
	if len(evs) > 0 {
		h.followMu.RLock()
		for _, fn := range h.follow {
			fn(evs)
		}
		h.followMu.RUnlock()
		h.publish(evs)
		metrics.EventFeedLag.Set(lagOf(evs[len(evs)-1]))
	} else if err == nil {
		metrics.EventFeedLag.Set(0) // caught up
	}
	return rows == SequenceBatch || len(evs) == 1000, serr
}

// lagOf is how long ago e occurred, in seconds: how far behind its change
// the event streams are when they receive it (shelf_event_feed_lag_seconds).
func lagOf(e Event) float64 {
	var h header
	if json.Unmarshal(e.Data, &h) != nil {
		return 0
	}
	at, err := time.Parse(TimeFormat, h.OccurredAt)
	if err != nil {
		return 0
	}
	return max(0, time.Since(at).Seconds())
}

func (h *Hub) publish(evs []Event) {
	// Each event's stream message is built once here, not once per stream.
	for i := range evs {
		evs[i].sse = evs[i].AppendSSE(nil)
	}
	h.mu.Lock()
	for _, e := range evs {
		i := (h.start + h.count) % len(h.ring)
		if h.count == len(h.ring) {
			h.start = (h.start + 1) % len(h.ring)
		} else {
			h.count++
		}
		h.ring[i] = e
	}
	h.last = evs[len(evs)-1].Seq
	close(h.wake)
	h.wake = make(chan struct{})
	h.mu.Unlock()
}

// ErrTooSlow: the subscriber fell further behind than the hub keeps.
var ErrTooSlow = errors.New("events: subscriber too far behind; resume from the last id")

// Last is the highest seq the hub has tailed, and whether it is known yet.
func (h *Hub) Last() (uint64, bool) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return h.last, h.ready
}

// since appends to dst up to max events after seq from the ring, and
// returns a channel closed when newer ones arrive. covered is false when the
// ring no longer holds the event right after seq: overtaken says whether it
// once did (the reader is too slow) or never did (read the table).
func (h *Hub) since(dst []Event, after uint64, limit int) (evs []Event, wake <-chan struct{}, covered, overtaken bool) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	evs, wake, covered = h.sinceLocked(dst, after, limit)
	return evs, wake, covered, !covered && after >= h.origin
}

func (h *Hub) sinceLocked(dst []Event, after uint64, limit int) (evs []Event, wake <-chan struct{}, covered bool) {
	if after >= h.last {
		return dst, h.wake, true
	}
	if after >= h.holeFrom && after < h.holeTo {
		after = h.holeTo // nothing to deliver inside the hole
		if after >= h.last {
			return dst, h.wake, true
		}
	}
	first := h.last - uint64(h.count) + 1 // seq of the oldest event held
	if h.count == 0 || after+1 < first {
		return dst, h.wake, false
	}
	skip := int(after + 1 - first)
	n := min(h.count-skip, limit)
	for i := range n {
		dst = append(dst, h.ring[(h.start+skip+i)%len(h.ring)])
	}
	return dst, h.wake, true
}

// Subscription is one reader's position in the feed.
type Subscription struct {
	h    *Hub
	last uint64
	live bool // has reached the hub once: from then on it must keep up
	// catching: was overtaken while it waited with nothing to take (a
	// burst larger than the ring), and reads the table until the ring
	// covers it again; it is not slow for that.
	catching bool
	buf      []Event // what Next returned last, reused
}

// Subscribe opens a subscription after seq (the last event the client has).
// fromHead starts at the newest event instead. ErrReset means after is
// outside the retained feed: the client must reload; Position then says
// where the stream goes on from.
func (h *Hub) Subscribe(ctx context.Context, after uint64, fromHead bool) (*Subscription, error) {
	last, ready := h.Last()
	if !ready {
		var err error
		if last, err = Head(ctx, h.st); err != nil {
			return nil, err
		}
	}
	s := &Subscription{h: h, last: last}
	if fromHead {
		return s, nil
	}
	if err := Check(ctx, h.st, after); err != nil {
		return s, err
	}
	s.last = after
	return s, nil
}

// catchUpTimeout bounds one read of the table by a subscription behind the
// ring: a database that does not answer ends the stream (the client
// resumes by id) instead of holding it silent, heartbeats and all.
const catchUpTimeout = 10 * time.Second

// catchUp reads the events after the subscription's position from the
// table. Events that are no longer there (retention pruned them while the
// subscription was on its way) are ErrReset, as for a client resuming from
// that id, never a silent jump; a hole the retained feed holds (rows
// deleted by hand) is passed, as the hub's tail passes it.
func (s *Subscription) catchUp(ctx context.Context, limit int) ([]Event, error) {
	ctx, cancel := context.WithTimeout(ctx, catchUpTimeout)
	defer cancel()
	evs, err := Read(ctx, s.h.st, s.last, limit)
	if err != nil || len(evs) == 0 || evs[0].Seq == s.last+1 {
		return evs, err
	}
	if err := Check(ctx, s.h.st, s.last); err != nil {
		return nil, err
	}
	return evs, nil
}

// Position is the seq of the last event the subscription has delivered.
func (s *Subscription) Position() uint64 { return s.last }

// Next returns the next events (at most limit), waiting up to wait for them;
// it returns none when wait passed. The slice is the subscription's and is
// reused by the next call: a caller that keeps events copies them. A subscription behind the ring reads
// the table (catching up); one that was live and fell out of the ring while
// it had events to take gets ErrTooSlow. One that was waiting with nothing
// to take when a burst larger than the ring went past is not slow: it
// catches up from the table.
func (s *Subscription) Next(ctx context.Context, limit int, wait time.Duration) ([]Event, error) {
	var timer *time.Timer
	idle := false // this call has waited with nothing left to take
	for {
		if cap(s.buf) > 4*limit {
			s.buf = nil // a burst's buffer is not kept
		}
		evs, wake, covered, overtaken := s.h.since(s.buf[:0], s.last, limit)
		s.buf = evs
		if !covered {
			if s.live && overtaken && !idle && !s.catching {
				return nil, ErrTooSlow
			}
			s.catching = s.catching || s.live && idle
			evs, err := s.catchUp(ctx, limit)
			if err != nil {
				return nil, err
			}
			if len(evs) > 0 {
				s.last = evs[len(evs)-1].Seq
				return evs, nil
			}
			// Nothing in the table past it: it has reached the ring.
			if overtaken {
				return nil, ErrTooSlow
			}
			s.live, idle = true, true
			select { // the ring has not caught up with the table yet
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-wake:
			case <-time.After(wait):
				return nil, nil
			}
			continue
		}
		s.live, s.catching = true, false
		if len(evs) > 0 {
			s.last = evs[len(evs)-1].Seq
			return evs, nil
		}
		if timer == nil {
			timer = time.NewTimer(wait)
			defer timer.Stop()
		}
		idle = true
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-timer.C:
			return nil, nil
		case <-wake:
		}
	}
}

// outage paces the tail while the database fails: the wait doubles from
// Poll up to maxTailBackoff (jittered, so instances do not retry in step),
// the first failure is logged and then one line per minute, and the return
// of the database once.
type outage struct {
	fails    int
	since    time.Time
	lastLog  time.Time
	lastWait time.Duration
}

const maxTailBackoff = 5 * time.Second

// next records the outcome of one step and returns the wait before the next.
func (o *outage) next(err error, poll time.Duration, log *slog.Logger) time.Duration {
	now := time.Now()
	if err == nil {
		if o.fails > 0 {
			log.Info("events: tail recovered", "failed_for", now.Sub(o.since).Round(time.Millisecond).String(), "attempts", o.fails)
		}
		*o = outage{}
		return poll
	}
	if o.fails == 0 {
		o.since = now
	}
	o.fails++
	if o.fails == 1 || now.Sub(o.lastLog) >= time.Minute {
		log.Warn("events: tail", "err", err, "failing_for", now.Sub(o.since).Round(time.Millisecond).String(), "attempts", o.fails)
		o.lastLog = now
	}
	o.lastWait = min(max(2*o.lastWait, poll), maxTailBackoff)
	return o.lastWait/2 + rand.N(o.lastWait/2+1)
}
