package handlers

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/shelfcommerce/shelf/internal/auth"
	"github.com/shelfcommerce/shelf/internal/events"
	"github.com/shelfcommerce/shelf/internal/problem"
)

// DefaultHeartbeat is how often an idle event stream sends a comment line,
// so proxies and browsers keep the connection open.
const DefaultHeartbeat = 15 * time.Second

// streamWriteTimeout bounds one write to an event stream: a client that
// takes longer to accept a few kilobytes is gone or too slow, and is cut off
// (it resumes by id).
const streamWriteTimeout = 10 * time.Second

func (a *API) registerEvents(e *echo.Echo) {
	e.GET("/v1/events", a.streamEvents)
}

// streamQuery is a validated GET /v1/events request.
type streamQuery struct {
	types    map[string]bool // nil: every type the caller may see
	after    uint64
	fromHead bool // no id given: start with the next event
	orders   bool // the caller may see order events
}

func (a *API) parseStream(c echo.Context) (streamQuery, error) {
	var q streamQuery
	fe := problem.Fields{Kind: problem.Invalid}
	vals := c.Request().URL.Query()
	for k, vs := range vals {
		if k != "types" && k != "last_event_id" {
			fe.Add(k, "is not a parameter of this endpoint (types, last_event_id)")
		} else if len(vs) > 1 {
			fe.Add(k, "must be given once (types takes a comma-separated list)")
		}
	}
	// A bearer here can only be an API key (guesses count as on the admin API).
	var key *auth.Key
	if tok := bearer(c.Request()); tok != "" {
		var err error
		if key, err = a.keyOf(c, tok); err != nil {
			return q, err
		}
	}
	q.orders = key.Has(auth.ScopeOrdersRead)
	if raw := vals.Get("types"); vals.Has("types") {
		q.types = map[string]bool{}
		for t := range strings.SplitSeq(raw, ",") {
			t = strings.TrimSpace(t)
			switch {
			case t == "":
			case !events.Known(t):
				fe.Add("types", "unknown event type "+strconv.Quote(t)+"; one of "+strings.Join(events.Types, ", "))
			case events.IsOrder(t) && !q.orders:
				return q, problem.New(problem.Forbidden, "order events (%s) need an API key with the scope %q", t, auth.ScopeOrdersRead)
			default:
				q.types[t] = true
			}
		}
		if len(q.types) == 0 && len(fe.Errors) == 0 {
			fe.Add("types", "must list at least one event type")
		}
	}
	id, field := c.Request().Header.Get("Last-Event-ID"), "Last-Event-ID"
	if id == "" {
		id, field = vals.Get("last_event_id"), "last_event_id"
	}
	if id = strings.TrimSpace(id); id == "" {
		q.fromHead = true
	} else if n, err := strconv.ParseUint(id, 10, 64); err != nil {
		fe.Add(field, "must be the id of an event this stream sent (a decimal number)")
	} else {
		q.after = n
	}
	return q, fe.Err()
}

func (q *streamQuery) wants(e *events.Event) bool {
	if events.IsOrder(e.Type) && !q.orders {
		return false
	}
	return q.types == nil || q.types[e.Type]
}

// streamEvents is GET /v1/events: Server-Sent Events from the change feed,
// resumable by id, until the client leaves, falls too far behind, or the
// server shuts down.
func (a *API) streamEvents(c echo.Context) error {
	// The stream has no deadline (dbDeadline leaves it out), but opening
	// it does: the API key, and the head and the resume id's place in the
	// feed, are read under SHELF_DB_TIMEOUT, so a database that does not
	// answer is a 503 like anywhere else, not a stream that never starts.
	req := c.Request()
	setup, cancelSetup := a.dbContext(req.Context())
	defer cancelSetup()
	c.SetRequest(req.WithContext(setup))
	q, err := a.parseStream(c)
	c.SetRequest(req)
	if err != nil {
		return err
	}
	hub := a.cfg.Events
	if hub == nil {
		return problem.New(problem.Unavailable, "the change feed is not running on this instance")
	}
	ctx, cancel := context.WithCancel(req.Context())
	defer cancel()
	if a.cfg.Shutdown != nil {
		go func() {
			select {
			case <-a.cfg.Shutdown:
				cancel()
			case <-ctx.Done():
			}
		}()
	}
	sub, err := hub.Subscribe(setup, q.after, q.fromHead)
	reset := errors.Is(err, events.ErrReset)
	if err != nil && !reset {
		return err
	}
	res := c.Response()
	h := res.Header()
	h.Set(echo.HeaderContentType, "text/event-stream; charset=utf-8")
	h.Set(echo.HeaderCacheControl, "no-cache")
	h.Set("X-Accel-Buffering", "no") // nginx: pass each event on at once
	res.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(res.Writer)
	_ = rc.SetReadDeadline(time.Time{})
	// One buffer per stream, reused: net/http buffers below it, so a stream
	// costs little more than its goroutine and connection.
	var w []byte
	var deadline time.Time
	send := func() error {
		// The deadline is moved on at most once a second (moving it is a
		// timer update, and a busy stream sends far more often), so a write
		// may take between 9/10 and all of streamWriteTimeout.
		if now := time.Now(); deadline.Sub(now) < streamWriteTimeout*9/10 {
			deadline = now.Add(streamWriteTimeout)
			if err := rc.SetWriteDeadline(deadline); err != nil && !errors.Is(err, http.ErrNotSupported) {
				return err
			}
		}
		_, err := res.Write(w)
		if cap(w) > 64<<10 {
			w = nil // a burst's buffer is not kept
		}
		w = w[:0]
		if err != nil {
			return err
		}
		return rc.Flush()
	}
	w = append(w, "retry: 2000\n"...)
	if reset {
		ev := events.Event{Seq: sub.Position(), Type: "reset",
			Data: []byte(`{"type":"reset","occurred_at":"` + time.Now().UTC().Format(events.TimeFormat) + `","detail":"events after the id given are no longer kept: reload, then follow this stream"}`)}
		w = ev.AppendSSE(w)
	}
	if err := send(); err != nil {
		return nil
	}
	heartbeat := a.cfg.Heartbeat
	if heartbeat <= 0 {
		heartbeat = DefaultHeartbeat
	}
	sent := sub.Position() // the last id the client has been told
	wrote := time.Now()
	for {
		// The wait is what is left of the heartbeat interval: events this
		// stream filters out must not put the heartbeat off.
		evs, err := sub.Next(ctx, 256, max(heartbeat-time.Since(wrote), time.Millisecond))
		if err != nil {
			// Gone, too slow (it resumes by id) or shutting down: the
			// stream just ends; the client reconnects.
			return nil
		}
		n := 0
		for i := range evs {
			if q.wants(&evs[i]) {
				w = evs[i].AppendSSE(w)
				sent = evs[i].Seq
				n++
			}
		}
		if n == 0 {
			if len(evs) > 0 && time.Since(wrote) < heartbeat {
				continue // only events this stream filters out, and not idle for long
			}
			if pos := sub.Position(); pos != sent {
				// Events were filtered out: move the client's id on (an id
				// with no data dispatches nothing, as the HTML standard's event stream parsing says).
				w = append(strconv.AppendUint(append(w, "id: "...), pos, 10), "\n\n"...)
				sent = pos
			}
			w = append(w, ": heartbeat\n\n"...)
		}
		if err := send(); err != nil {
			return nil
		}
		wrote = time.Now()
	}
}
