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
	// IdempotencySecret keys the stored hashes of Idempotency-Key scopes
	// and keys and seals stored responses (store.Secrets.Idempotency, the
	// same for every instance). Empty: a random key per process.
	IdempotencySecret []byte
	// RenderError turns a client error into the exact status and body the
	// HTTP layer answers with, so that a failed order can be stored under
	// its Idempotency-Key and replayed byte for byte. Nil: the status and
	// the error's message.
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
	cursorKey  []byte
	idemKey    []byte
	render     func(ctx context.Context, err error) (int, []byte)
	now        func() time.Time // the clock: UTC, to the microsecond; tests set their own
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
	placeTimeout   = 30 * time.Second // the request's own deadline is shorter (SHELF_DB_TIMEOUT)
	claimLease     = 10 * time.Second // how long a crash keeps a key busy: see idempotency.go
	defaultTTL     = 24 * time.Hour
	sweepBatchSize = 1000
)

// NewService returns the order service over st.
func NewService(st *store.Store, cfg Config) *Service {
	s := &Service{st: st, ttl: cfg.IdempotencyTTL, render: cfg.RenderError,
		pendingTTL: cfg.PendingOrderTTL, limits: cfg.Limits.orDefault(), now: clock}
	if cfg.Now != nil {
		s.now = func() time.Time { return cfg.Now().UTC().Truncate(time.Microsecond) }
	}
	if s.ttl <= 0 {
		s.ttl = defaultTTL
	}
	s.cursorKey = cursorKey(cfg.CursorSecret)
	s.idemKey = cfg.IdempotencySecret
	if len(s.idemKey) == 0 {
		s.idemKey = randomBytes(32)
	}
	if s.render == nil {
		// No HTTP layer (this package's tests): the status from the one
		// table and the problem's message as the stored body.
		s.render = func(_ context.Context, err error) (int, []byte) {
			return problem.Status(err), []byte(err.Error())
		}
	}
	return s
}

// detached is ctx without its cancellation, for the bookkeeping that must
// run even when the client has gone (storing or releasing a key's claim):
// it keeps ctx's deadline, or at least floor from now, or placeTimeout
// when ctx has none.
func detached(ctx context.Context, floor time.Duration) (context.Context, context.CancelFunc) {
	d := placeTimeout
	if deadline, ok := ctx.Deadline(); ok {
		d = max(time.Until(deadline), floor)
	}
	return context.WithTimeout(context.WithoutCancel(ctx), d)
}

// clock is the service's time: UTC, to the microsecond DATETIME(6) keeps.
func clock() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }
