package orders

import (
	"context"
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
	// its Idempotency-Key and replayed byte for byte. Nil: the status and
	// the error's message.
	RenderError func(ctx context.Context, err error) (status int, body []byte)
}

// Service places, reads, lists and moves orders.
type Service struct {
	st        *store.Store
	ttl       time.Duration
	cursorKey []byte
	render    func(ctx context.Context, err error) (int, []byte)
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
	s := &Service{st: st, ttl: cfg.IdempotencyTTL, render: cfg.RenderError}
	if s.ttl <= 0 {
		s.ttl = defaultTTL
	}
	s.cursorKey = cursorKey(cfg.CursorSecret)
	if s.render == nil {
		// No HTTP layer (this package's tests): the status from the one
		// table and the problem's message as the stored body.
		s.render = func(_ context.Context, err error) (int, []byte) {
			return problem.Status(err), []byte(err.Error())
		}
	}
	return s
}

func now() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }
