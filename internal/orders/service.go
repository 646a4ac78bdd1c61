package orders

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/shelfcommerce/shelf/internal/problem"
	"github.com/shelfcommerce/shelf/internal/store"
)

// Config tunes the order service.
type Config struct {
	// IdempotencyTTL is how long an Idempotency-Key and its stored response
	// are kept (SHELF_IDEMPOTENCY_TTL). Default 24h.
	IdempotencyTTL time.Duration
	// CursorSecret signs admin listing cursors. Empty: a random key per process.
	CursorSecret []byte
	// RenderError turns a client error into the exact status and body the
	// HTTP layer answers with, so that a failed order can be stored under
	// its Idempotency-Key and replayed byte for byte. Nil: a plain rendering.
	RenderError func(ctx context.Context, err error) (status int, body []byte)
	// PendingOrderTTL is how long an order may stay pending (unpaid) before
	// the sweep cancels it as expired and returns its stock
	// (SHELF_PENDING_ORDER_TTL). 0: never.
	PendingOrderTTL time.Duration
	// Limits cap one order; a zero field takes its default.
	Limits Limits
	// Now is the clock; nil is time.Now. Tests move it instead of sleeping.
	Now func() time.Time
}

// Limits cap one order, so that one request cannot reserve a whole
// catalog's stock (SHELF_ORDER_MAX_*).
type Limits struct {
	Lines     int // lines in one order
	LineUnits int // units of one line
	Units     int // units of the whole order
}

// DefaultLimits are the caps when none are configured.
var DefaultLimits = Limits{Lines: MaxLines, LineUnits: MaxQuantity, Units: MaxUnits}

func (l Limits) orDefault() Limits {
	if l.Lines <= 0 {
		l.Lines = DefaultLimits.Lines
	}
	if l.LineUnits <= 0 {
		l.LineUnits = DefaultLimits.LineUnits
	}
	if l.Units <= 0 {
		l.Units = DefaultLimits.Units
	}
	return l
}

// Service places, reads, lists and moves orders.
type Service struct {
	st         *store.Store
	ttl        time.Duration
	pendingTTL time.Duration
	limits     Limits
	now        func() time.Time
	cursorKey  []byte
	render     func(ctx context.Context, err error) (int, []byte)
}

// Limits of one order.
const (
	MaxLines       = 100
	MaxQuantity    = 1000
	MaxUnits       = 1000
	maxSKULen      = 191
	maxEmailLen    = 254
	maxFieldLen    = 255
	maxKeyLen      = 255
	placeTimeout   = 30 * time.Second
	claimLease     = 2 * time.Minute // > placeTimeout with room: see claim
	defaultTTL     = 24 * time.Hour
	sweepBatchSize = 1000
)

// NewService returns the order service over st.
func NewService(st *store.Store, cfg Config) *Service {
	s := &Service{st: st, ttl: cfg.IdempotencyTTL, render: cfg.RenderError,
		pendingTTL: cfg.PendingOrderTTL, limits: cfg.Limits.orDefault(), now: cfg.Now}
	if s.now == nil {
		s.now = time.Now
	}
	if s.ttl <= 0 {
		s.ttl = defaultTTL
	}
	s.cursorKey = cursorKey(cfg.CursorSecret)
	if s.render == nil {
		s.render = plainRender
	}
	return s
}

// plainRender is the rendering used when the HTTP layer supplies none
// (tests of this package): the problem's kind and message as JSON.
func plainRender(_ context.Context, err error) (int, []byte) {
	pe, ok := problem.As(err)
	if !ok {
		return http.StatusInternalServerError, nil
	}
	status := http.StatusBadRequest
	switch pe.Kind {
	case problem.Unprocessable:
		status = http.StatusUnprocessableEntity
	case problem.NotFound:
		status = http.StatusNotFound
	case problem.Conflict, problem.InsufficientStock, problem.IdempotencyInUse:
		status = http.StatusConflict
	case problem.Unavailable:
		status = http.StatusServiceUnavailable
	}
	body, _ := json.Marshal(map[string]any{"type": "/problems/" + string(pe.Kind), "status": status,
		"detail": pe.Detail, "errors": pe.Errors, "extra": pe.Extra})
	return status, body
}

func now() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }

// clock is the service's time, as the database stores it.
func (s *Service) clock() time.Time { return s.now().UTC().Truncate(time.Microsecond) }
