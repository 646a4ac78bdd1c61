// Package webhooks registers webhook endpoints and delivers the change feed
// to them, signed as the Standard Webhooks specification says.
//
// Delivery state lives in the database, so a restart loses nothing and
// several instances share the work without sending any attempt twice:
//
//   - Fan-out: a dispatcher locks the one webhook_cursor row, reads the
//     events with seq past the cursor (seq is the feed's gapless commit
//     order, so nothing committed later can land behind the cursor), queues
//     a webhook_queue row for every (subscribed webhook, event), advances the
//     cursor and commits. While no webhook is registered it does nothing,
//     not even a transaction: a webhook registered later starts at the head.
//   - Claim: a short transaction takes due queue rows with SELECT ... FOR
//     UPDATE SKIP LOCKED, counts the attempt and moves next_at past the
//     attempt's lease. Another instance skips those rows, and sees them again
//     only if the lease runs out (the sender died): then it makes the next
//     attempt, never the same one.
//   - Send, outside any transaction: POST the event's JSON with webhook-id
//     (the event's seq, the same on every retry), webhook-timestamp and
//     webhook-signature; 10 s per attempt, no redirects, at most 4 KiB of the
//     answer read.
//   - Record: log the attempt in webhook_deliveries and, only if the row
//     still holds this attempt, delete it (2xx, or the schedule is exhausted:
//     the webhook is then marked failing) or set it due after the schedule's
//     next delay. A failing webhook keeps receiving later events; its next
//     success clears the mark.
//
// The queue holds the event's seq, not its body: the feed's retention
// (events.Prune) keeps every event from the oldest one still queued, or not
// yet fanned out, onwards, so a delivery that waits days for its retries
// still finds its event.
//
// Unless private targets are allowed, registration takes only https URLs
// whose host resolves to public addresses, and the dialer checks again the
// address it actually connects to, after DNS, so a name re-pointed at a
// private address later is refused too.
package webhooks

import (
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/shelfcommerce/shelf/db"
	"github.com/shelfcommerce/shelf/internal/cursor"
	"github.com/shelfcommerce/shelf/internal/events"
	"github.com/shelfcommerce/shelf/internal/problem"
	"github.com/shelfcommerce/shelf/internal/store"
)

// AllEvents subscribes a webhook to every event type, those added later too.
const AllEvents = "*"

// DefaultSchedule is the delay before each retry: eight attempts in all,
// the last about 32 hours after the first.
var DefaultSchedule = []time.Duration{
	5 * time.Second, 30 * time.Second, 2 * time.Minute, 15 * time.Minute, time.Hour, 6 * time.Hour, 24 * time.Hour,
}

// Config configures registration and delivery.
type Config struct {
	// AllowPrivate allows http URLs and loopback/private targets (development).
	AllowPrivate bool
	// Schedule is the delay before each retry; nil means DefaultSchedule.
	// An empty, non-nil schedule makes one attempt only.
	Schedule []time.Duration
	// Workers is how many deliveries one dispatcher sends at once (default 8).
	Workers int
	// Poll is how often a dispatcher looks for new events and due retries
	// (default 500ms).
	Poll time.Duration
	// Timeout bounds one attempt: connect, TLS, request and answer (default 10s).
	Timeout time.Duration
	// CursorSecret signs list cursors; empty means a random key per process.
	CursorSecret []byte
	// Resolver looks webhook hosts up; nil means the system's resolver.
	Resolver Resolver
	Logger   *slog.Logger
}

func (c Config) withDefaults() Config {
	if c.Schedule == nil {
		c.Schedule = DefaultSchedule
	}
	if c.Workers <= 0 {
		c.Workers = 8
	}
	if c.Poll <= 0 {
		c.Poll = 500 * time.Millisecond
	}
	if c.Timeout <= 0 {
		c.Timeout = 10 * time.Second
	}
	if c.Resolver == nil {
		c.Resolver = net.DefaultResolver
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// Service registers, lists and removes webhooks and reads their delivery log.
type Service struct {
	st        *store.Store
	cfg       Config
	cursorKey cursor.Key
}

// NewService returns the webhook service on st.
func NewService(st *store.Store, cfg Config) *Service {
	return &Service{st: st, cfg: cfg.withDefaults(), cursorKey: cursor.NewKey(cfg.CursorSecret, "shelf/webhooks-cursor")}
}

// Webhook is a registered endpoint as the API shows it. Secret is set only
// in the answer to its registration.
type Webhook struct {
	ID           uint64     `json:"id"`
	URL          string     `json:"url"`
	Events       []string   `json:"events"`
	Description  string     `json:"description"`
	Status       string     `json:"status"`
	FailingSince *time.Time `json:"failing_since"`
	CreatedAt    time.Time  `json:"created_at"`
	Secret       string     `json:"secret,omitempty"`
}

func newWebhook(r db.Webhook) *Webhook {
	w := &Webhook{
		ID: r.ID, URL: r.Url, Events: strings.Split(r.Events, ","), Description: r.Description,
		Status: "active", CreatedAt: r.CreatedAt.UTC(),
	}
	if r.FailingSince.Valid {
		t := r.FailingSince.Time.UTC()
		w.Status, w.FailingSince = "failing", &t
	}
	return w
}

// Registration is what a client asks to register.
type Registration struct {
	URL         string
	Events      []string // empty: every event
	Description string
}

// Register validates r, stores the webhook with a new secret and returns it,
// secret included (the only time it is shown). The webhook receives every
// event sequenced after it was registered.
func (s *Service) Register(ctx context.Context, r Registration) (*Webhook, error) {
	var fe problem.Fields
	u, err := checkURL(ctx, r.URL, s.cfg.AllowPrivate, s.cfg.Resolver)
	if pe, ok := problem.As(err); ok {
		fe.Errors = append(fe.Errors, pe.Errors...)
	} else if err != nil {
		return nil, err
	}
	events := checkEvents(r.Events, &fe)
	if !utf8.ValidString(r.Description) || utf8.RuneCountInString(r.Description) > 500 {
		fe.Add("description", "must be at most 500 characters of UTF-8")
	}
	if err := fe.Err(); err != nil {
		return nil, err
	}
	secret := newSecret()
	now := time.Now().UTC()
	var id int64
	err = s.st.InTx(ctx, func(tx *store.Tx) error {
		// The cursor's lock orders this registration with the fan-out:
		// every event past the head read here is fanned out after this
		// commit, and so reaches the new webhook.
		if _, err := tx.Q.LockWebhookCursor(ctx); err != nil {
			return fmt.Errorf("lock webhook cursor: %w", err)
		}
		head, err := tx.Q.WebhookFeedHead(ctx)
		if err != nil {
			return err
		}
		id, err = tx.Q.InsertWebhook(ctx, db.InsertWebhookParams{
			Url: u, Description: r.Description, Events: strings.Join(events, ","), Secret: secret,
			FromSeq: uint64(head), CreatedAt: now,
		})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("register webhook: %w", err)
	}
	w := newWebhook(db.Webhook{ID: uint64(id), Url: u, Description: r.Description, Events: strings.Join(events, ","), CreatedAt: now})
	w.Secret = secret
	return w, nil
}

// checkEvents validates an events filter: known types, or "*" alone; empty
// means "*". The result is sorted and without repeats.
func checkEvents(in []string, fe *problem.Fields) []string {
	if len(in) == 0 {
		return []string{AllEvents}
	}
	for i, e := range in {
		field := fmt.Sprintf("events[%d]", i)
		switch {
		case e == AllEvents && len(in) > 1:
			fe.Add(field, `"*" (every event) cannot be combined with other types`)
		case e != AllEvents && !events.Known(e):
			fe.Add(field, fmt.Sprintf("unknown event type %q (known: %s, or \"*\" for all)", e, strings.Join(events.Types, ", ")))
		}
	}
	return slices.Compact(slices.Sorted(slices.Values(in)))
}

// Page is one page of webhooks, oldest first.
type Page struct {
	Items      []*Webhook `json:"items"`
	NextCursor *string    `json:"next_cursor"`
}

// List returns up to limit webhooks after the cursor's position, never
// their secrets.
func (s *Service) List(ctx context.Context, cursor string, limit int) (*Page, error) {
	after, err := s.position(cursor, cursorWebhooks, 0)
	if err != nil {
		return nil, err
	}
	rows, err := s.st.Q.ListWebhooks(ctx, db.ListWebhooksParams{ID: after, Limit: int32(limit + 1)})
	if err != nil {
		return nil, fmt.Errorf("list webhooks: %w", err)
	}
	p := &Page{Items: make([]*Webhook, 0, len(rows))}
	for i, r := range rows {
		if i == limit {
			c := s.cursor(cursorWebhooks, 0, rows[i-1].ID)
			p.NextCursor = &c
			break
		}
		p.Items = append(p.Items, newWebhook(r))
	}
	return p, nil
}

// Get returns one webhook, without its secret.
func (s *Service) Get(ctx context.Context, id uint64) (*Webhook, error) {
	r, err := s.st.Q.GetWebhook(ctx, id)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound(id)
	} else if err != nil {
		return nil, err
	}
	return newWebhook(r), nil
}

// Delete removes a webhook, its queued deliveries and its log. An attempt
// already in flight finishes, but is not retried.
func (s *Service) Delete(ctx context.Context, id uint64) error {
	return s.st.InTx(ctx, func(tx *store.Tx) error {
		n, err := tx.Q.DeleteWebhook(ctx, id)
		if err != nil {
			return err
		}
		if n == 0 {
			return notFound(id)
		}
		if err := tx.Q.DeleteWebhookQueue(ctx, id); err != nil {
			return err
		}
		return tx.Q.DeleteWebhookLog(ctx, id)
	})
}

func notFound(id uint64) error {
	return problem.New(problem.NotFound, "there is no webhook %d", id)
}

// Delivery is one attempt in the delivery log.
type Delivery struct {
	EventID        string     `json:"event_id"`
	Event          string     `json:"event"`
	Attempt        uint32     `json:"attempt"`
	ResponseStatus *int32     `json:"response_status"`
	Error          *string    `json:"error"`
	DurationMS     uint32     `json:"duration_ms"`
	NextAttemptAt  *time.Time `json:"next_attempt_at"`
	At             time.Time  `json:"at"`
}

// DeliveryPage is one page of the delivery log, newest first.
type DeliveryPage struct {
	Items      []*Delivery `json:"items"`
	NextCursor *string     `json:"next_cursor"`
}

// Deliveries returns a webhook's delivery attempts, newest first.
func (s *Service) Deliveries(ctx context.Context, webhook uint64, cursor string, limit int) (*DeliveryPage, error) {
	before, err := s.position(cursor, cursorDeliveries, webhook)
	if err != nil {
		return nil, err
	}
	if before == 0 {
		before = math.MaxUint64
	}
	if _, err := s.Get(ctx, webhook); err != nil {
		return nil, err
	}
	rows, err := s.st.Q.ListDeliveries(ctx, db.ListDeliveriesParams{WebhookID: webhook, ID: before, Limit: int32(limit + 1)})
	if err != nil {
		return nil, fmt.Errorf("list deliveries: %w", err)
	}
	p := &DeliveryPage{Items: make([]*Delivery, 0, len(rows))}
	for i, r := range rows {
		if i == limit {
			c := s.cursor(cursorDeliveries, webhook, rows[i-1].ID)
			p.NextCursor = &c
			break
		}
		d := &Delivery{
			EventID: strconv.FormatUint(r.EventSeq, 10), Event: r.EventType, Attempt: r.Attempt,
			DurationMS: r.DurationMs, At: r.At.UTC(),
		}
		if r.ResponseStatus.Valid {
			d.ResponseStatus = &r.ResponseStatus.Int32
		}
		if r.Error.Valid {
			d.Error = &r.Error.String
		}
		if r.NextAttemptAt.Valid {
			t := r.NextAttemptAt.Time.UTC()
			d.NextAttemptAt = &t
		}
		p.Items = append(p.Items, d)
	}
	return p, nil
}

// A cursor is the list it belongs to, the webhook it pages (0 for the list
// of webhooks) and the id of the last row shown, signed with HMAC-SHA256 so
// that an altered or foreign cursor is refused (400), never obeyed.
const (
	cursorWebhooks   byte = 'w'
	cursorDeliveries byte = 'd'
	cursorLen             = 1 + 8 + 8
)

func (s *Service) cursor(kind byte, scope, id uint64) string {
	b := make([]byte, 1, cursorLen)
	b[0] = kind
	b = binary.BigEndian.AppendUint64(b, scope)
	return s.cursorKey.Seal(binary.BigEndian.AppendUint64(b, id))
}

// position returns the id a cursor names, 0 for no cursor.
func (s *Service) position(c string, kind byte, scope uint64) (uint64, error) {
	if c == "" {
		return 0, nil
	}
	b, err := s.cursorKey.Open(c)
	if err != nil || len(b) != cursorLen || b[0] != kind || binary.BigEndian.Uint64(b[1:9]) != scope {
		return 0, problem.Field(problem.Invalid, "cursor", "is not a cursor from this list; start again without it")
	}
	return binary.BigEndian.Uint64(b[9:]), nil
}
