package store

import (
	"context"
	"database/sql"
	"time"

	"github.com/shelfcommerce/shelf/db"
	"github.com/shelfcommerce/shelf/internal/problem"
)

// Tx is one transaction: the raw *sql.Tx for queries built at run time and
// the sqlc queries bound to it.
type Tx struct {
	*sql.Tx
	Q *db.Queries

	st    *Store
	ctx   context.Context // the transaction's, which bounds its COMMIT
	after []func()
}

// Store is the store the transaction runs on.
func (tx *Tx) Store() *Store { return tx.st }

// AfterCommit queues fn to run, in queue order, once this transaction has
// committed: never after a rollback, nor for an attempt that InTx retries
// (each attempt has its own Tx). It is how a write tells its own process
// what changed (caches, the change feed) before the write returns.
func (tx *Tx) AfterCommit(fn func()) { tx.after = append(tx.after, fn) }

// Commit commits the transaction, then runs what AfterCommit queued.
//
// COMMIT is sent as a statement under the transaction's context: the
// driver's own Commit has none, so a server frozen at that moment, or a
// Galera cluster stalled in certification, held the request long past its
// deadline. Past the deadline the driver drops the connection and the
// answer is a 503; whether the server committed is then unknown to this
// request, as after any lost connection (an order's Idempotency-Key
// replays it if it did). database/sql's Commit that follows only closes
// its books (a COMMIT with no transaction open).
func (tx *Tx) Commit() error {
	if _, err := tx.Tx.ExecContext(tx.ctx, "COMMIT"); err != nil {
		return err
	}
	if err := tx.Tx.Commit(); err != nil {
		return err
	}
	after := tx.after
	tx.after = nil
	for _, f := range after {
		f()
	}
	return nil
}

// Begin starts a transaction that the caller commits or rolls back itself
// (no retry): for work that spans more than one InTx could hold, such as an
// import that must be all or nothing.
func (s *Store) Begin(ctx context.Context, opts *sql.TxOptions) (*Tx, error) {
	sqlTx, err := s.DB.BeginTx(ctx, opts)
	if err != nil {
		return nil, err
	}
	return s.wrap(ctx, sqlTx), nil
}

func (s *Store) wrap(ctx context.Context, sqlTx *sql.Tx) *Tx {
	return &Tx{Tx: sqlTx, Q: s.Q.WithTx(sqlTx), st: s, ctx: ctx}
}

// Rollback rolls the transaction back, within a second even on a server
// that stopped answering (see Commit): ROLLBACK is sent as a statement
// under a deadline first.
func (tx *Tx) Rollback() error {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(tx.ctx), time.Second)
	defer cancel()
	_, _ = tx.Tx.ExecContext(rctx, "ROLLBACK")
	return tx.Tx.Rollback()
}

// ErrBusy is returned when a unit of work kept losing lock races (or
// cluster certification) for the whole retry budget: a 503 with Retry-After.
var ErrBusy = &problem.Error{Kind: problem.Unavailable,
	Detail: "the database is busy with conflicting requests; retry shortly"}

// InTx runs fn in a transaction and commits it. Any error rolls the whole
// transaction back (MariaDB undoes only the failed statement after a lock-wait
// timeout, so committing after one would save half of the work). A lost race
// (see IsRetryable), at any statement or at COMMIT, reruns fn from the start
// under the store's retry policy, so fn must not keep state across attempts.
func (s *Store) InTx(ctx context.Context, fn func(tx *Tx) error) error {
	return s.InTxOpts(ctx, nil, fn)
}

// InTxOpts is InTx with transaction options (isolation level, read-only).
func (s *Store) InTxOpts(ctx context.Context, opts *sql.TxOptions, fn func(tx *Tx) error) error {
	return s.Retry(ctx, func(ctx context.Context) error { return s.runTx(ctx, opts, fn) })
}

func (s *Store) runTx(ctx context.Context, opts *sql.TxOptions, fn func(tx *Tx) error) (err error) {
	sqlTx, err := s.DB.BeginTx(ctx, opts)
	if err != nil {
		return err
	}
	tx := s.wrap(ctx, sqlTx)
	defer func() {
		if p := recover(); p != nil {
			_ = tx.Rollback()
			panic(p)
		}
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	if err = fn(tx); err != nil {
		return err
	}
	return tx.Commit()
}
