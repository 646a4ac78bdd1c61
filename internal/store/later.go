package store

import (
	"context"
	"database/sql"
	"errors"
	"strings"

	"github.com/shelfcommerce/shelf/db"
)

// Writes sent later, together. A round trip to the server costs both ends
// more than a small INSERT's work (measured on the order path: every
// statement a write and a read system call on each side, and two goroutine
// wake-ups in the driver), so a transaction that ends in several INSERTs
// whose results nobody reads (an order's lines, its ledger rows, its
// events, its Idempotency-Key) may queue them and send them as one
// multi-statement round trip:
//
//   - Defer starts queueing: from then on until Flush, a plain INSERT of a
//     few rows (FewRows at most, no ON DUPLICATE KEY clause, no ids wanted)
//     that Table.Insert or InsertRows would run on this transaction is
//     queued instead of sent.
//   - Later is the sqlc queries whose :exec statements are queued.
//   - Flush sends what is queued as one statement list and stops queueing;
//     Commit flushes first, so nothing queued is ever dropped.
//
// A queued INSERT is not run until Flush: a read in the same transaction
// before it does not see its row, so queue only the last writes of a
// transaction. Its values are interpolated into the list by the driver
// (interpolateParams), as for any statement built at run time; the server
// runs the list in order and stops at the first error, which Flush returns
// (the transaction then rolls back whole). In strict mode an INSERT
// without IGNORE writes every row it names or fails, so a queued one
// reports its rows as affected.

//
// On a Galera node (Store.Batching false) nothing is queued: Defer does
// nothing, Later's statements run at once and Flush has nothing to send,
// because a transaction aborted there while a statement list runs has the
// list's remaining statements commit outside it.

// Defer makes the transaction queue its small INSERTs until Flush, where
// the store allows it.
func (tx *Tx) Defer() { tx.deferring = tx.st.Batching() }

// Later returns sqlc queries whose :exec statements are queued until Flush
// (each reports one row and no id: use them only for plain INSERTs), or,
// when the transaction does not queue, its own queries.
func (tx *Tx) Later() *db.Queries {
	if !tx.deferring {
		return tx.Q
	}
	return db.New(laterExec{tx})
}

// Flush sends the queued statements in one round trip and stops queueing.
func (tx *Tx) Flush(ctx context.Context) error {
	tx.deferring = false
	if tx.queued.Len() == 0 {
		return nil
	}
	q, args := tx.queued.String(), tx.queuedArgs
	tx.queued.Reset()
	tx.queuedArgs = nil
	_, err := tx.Tx.ExecContext(ctx, q, args...)
	return err
}

// queue adds one statement to the list Flush sends.
func (tx *Tx) queue(query string, args []any) {
	if tx.queued.Len() > 0 {
		tx.queued.WriteString(";\n")
	}
	tx.queued.WriteString(strings.TrimSpace(query))
	tx.queuedArgs = append(tx.queuedArgs, args...)
}

// queuedResult is what a queued INSERT of rows rows reports.
type queuedResult int64

func (r queuedResult) RowsAffected() (int64, error) { return int64(r), nil }
func (queuedResult) LastInsertId() (int64, error) {
	return 0, errors.New("store: a queued INSERT has no id until it is sent")
}

// laterExec is the db.DBTX of Later: Exec queues, reading is refused.
type laterExec struct{ tx *Tx }

var errQueuedRead = errors.New("store: Later's queries only write")

func (l laterExec) ExecContext(_ context.Context, query string, args ...any) (sql.Result, error) {
	l.tx.queue(query, args)
	return queuedResult(1), nil
}

func (laterExec) PrepareContext(context.Context, string) (*sql.Stmt, error) {
	return nil, errQueuedRead
}

func (laterExec) QueryContext(context.Context, string, ...any) (*sql.Rows, error) {
	return nil, errQueuedRead
}

func (laterExec) QueryRowContext(context.Context, string, ...any) *sql.Row {
	panic(errQueuedRead) // a sqlc :one query on Later's queries: a programming error
}
