package orders

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/shelfcommerce/shelf/internal/cursor"
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
}

// Service places, reads, lists and moves orders.
type Service struct {
	st        *store.Store
	ttl       time.Duration
	cursorKey cursor.Key
	render    func(ctx context.Context, err error) (int, []byte)
	now       func() time.Time // the clock; tests of this package set their own
}

// Limits of one order.
const (
	MaxLines       = 100
	MaxQuantity    = 1000
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
	s := &Service{st: st, ttl: cfg.IdempotencyTTL, render: cfg.RenderError, now: clock}
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

// clock is the service's time: UTC, to the microsecond DATETIME(6) keeps.
func clock() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }
