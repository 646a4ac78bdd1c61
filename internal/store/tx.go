package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"sync/atomic"
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
	ctx   context.Context // the transaction's, which bounds COMMIT and ROLLBACK
	after []func()

	// restore undoes Patient (nil: nothing to undo).
	restore func()

	// Writes queued until Flush (later.go).
	deferring  bool
	queued     strings.Builder
	queuedArgs []any
}

// Store is the store the transaction runs on.
func (tx *Tx) Store() *Store { return tx.st }

// AfterCommit queues fn to run, in queue order, once this transaction has
// committed: never after a rollback, nor for an attempt that InTx retries
// (each attempt has its own Tx). It is how a write tells its own process
// what changed (caches, the change feed) before the write returns.
func (tx *Tx) AfterCommit(fn func()) { tx.after = append(tx.after, fn) }

// Commit commits the transaction, then runs what AfterCommit queued. It
// ends with the transaction's context (see ended).
func (tx *Tx) Commit() error {
	if err := tx.Flush(tx.ctx); err != nil {
		return err
	}
	tx.unwait()
	if err := ended(tx.ctx, "commit", tx.Tx.Commit, tx.runAfter); err != nil {
		return err
	}
	tx.runAfter()
	return nil
}

func (tx *Tx) runAfter() {
	after := tx.after
	tx.after = nil
	for _, f := range after {
		f()
	}
}

// Patient lets the transaction's connection stay silent for as long as
// its context allows, instead of WaitTimeout: for the transactions a client
// paces (an export writing to a slow reader, a one-transaction import
// waiting for its upload). The session's own wait_timeout comes back when
// the transaction ends, before its connection goes back to the pool.
func (tx *Tx) Patient(ctx context.Context) error {
	deadline, ok := ctx.Deadline()
	if !ok {
		return nil
	}
	secs := int64(time.Until(deadline)/time.Second) + 1
	var was int64
	if err := tx.QueryRowContext(ctx, "SELECT @@session.wait_timeout").Scan(&was); err != nil {
		return err
	}
	if secs <= was {
		return nil
	}
	if _, err := tx.ExecContext(ctx, "SET SESSION wait_timeout = ?", secs); err != nil {
		return err
	}
	tx.restore = func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_, _ = tx.Tx.ExecContext(ctx, "SET SESSION wait_timeout = ?", was)
	}
	return nil
}

// Rollback rolls the transaction back; it ends with the transaction's
// context (see ended).
func (tx *Tx) Rollback() error {
	tx.unwait()
	return ended(tx.ctx, "rollback", tx.Tx.Rollback, nil)
}

// unwait undoes Patient, once.
func (tx *Tx) unwait() {
	if tx.restore != nil {
		tx.restore()
		tx.restore = nil
	}
}

// ended runs a COMMIT or ROLLBACK (end) so that the caller's wait ends with
// ctx. database/sql sends both without a context, and the driver watches
// one only while a statement runs, so a server that freezes or is cut off
// between the last statement and the COMMIT would hold the request (and,
// through it, the client) until the server answers again. Past ctx, end is
// left to finish in the background, holding its connection until the
// server answers or the connection breaks, and then runs late if it
// succeeded; the caller gets an error that means "database unavailable".
// The transaction is then committed whole or not at all (for a COMMIT,
// which one is unknown, as with a connection lost during COMMIT).
func ended(ctx context.Context, what string, end func() error, late func()) error {
	if ctx == nil || ctx.Done() == nil {
		return end()
	}
	var taken atomic.Bool // by the caller giving up, or by end's result
	done := make(chan error, 1)
	go func() {
		err := end()
		if taken.CompareAndSwap(false, true) {
			done <- err
		} else if err == nil && late != nil {
			late()
		}
	}()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		if !taken.CompareAndSwap(false, true) {
			return <-done // the result came as the deadline passed
		}
		return fmt.Errorf("%s: no answer from the database within the deadline: %w", what, context.DeadlineExceeded)
	}
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
