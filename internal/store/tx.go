package store

import (
	"context"
	"database/sql"

	"github.com/shelfcommerce/shelf/db"
	"github.com/shelfcommerce/shelf/internal/problem"
)

// Tx is one transaction: the raw *sql.Tx for queries built at run time and
// the sqlc queries bound to it.
type Tx struct {
	*sql.Tx
	Q *db.Queries
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
	defer func() {
		if p := recover(); p != nil {
			_ = sqlTx.Rollback()
			panic(p)
		}
		if err != nil {
			_ = sqlTx.Rollback()
		}
	}()
	if err = fn(&Tx{Tx: sqlTx, Q: s.Q.WithTx(sqlTx)}); err != nil {
		return err
	}
	return sqlTx.Commit()
}
