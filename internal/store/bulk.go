package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
)

// Execer is what both *sql.DB and *sql.Tx offer.
type Execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// rowsPerStatement keeps a multi-row INSERT far below max_allowed_packet
// (16 MiB here) and the 65,535-placeholder limit of prepared statements.
const rowsPerStatement = 500

// InsertRows runs head + " VALUES (?,...),(?,...) " + tail in chunks, where
// head is "INSERT INTO t (a, b, c)", width is the number of columns and args
// holds the values row after row. tail may be "" or an ON DUPLICATE KEY UPDATE
// clause. The values always travel as parameters. It returns the total rows
// affected.
func InsertRows(ctx context.Context, ex Execer, head string, width int, args []any, tail string) (int64, error) {
	var total int64
	err := insertChunks(ctx, ex, head, width, args, tail, tail == "", func(_ int, res sql.Result) error {
		if ra, err := res.RowsAffected(); err == nil {
			total += ra
		}
		return nil
	})
	return total, err
}

// insertChunks runs the statements of InsertRows, handing each one's result
// and row count to done.
func insertChunks(ctx context.Context, ex Execer, head string, width int, args []any, tail string, queueable bool, done func(rows int, res sql.Result) error) error {
	if width <= 0 || len(args)%width != 0 {
		return fmt.Errorf("store.InsertRows: %d args do not fill rows of %d", len(args), width)
	}
	one := "(" + strings.TrimSuffix(strings.Repeat("?,", width), ",") + ")"
	for start := 0; start < len(args); start += width * rowsPerStatement {
		end := min(start+width*rowsPerStatement, len(args))
		n := (end - start) / width
		var b strings.Builder
		b.Grow(len(head) + len(tail) + n*(len(one)+1) + 8)
		b.WriteString(head)
		b.WriteString(" VALUES ")
		for i := range n {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(one)
		}
		if tail != "" {
			b.WriteByte(' ')
			b.WriteString(tail)
		}
		var res sql.Result
		var err error
		if tx, ok := ex.(*Tx); ok && n <= FewRows {
			if tx.deferring && queueable {
				tx.queue(b.String(), args[start:end])
				res = queuedResult(n)
			} else {
				res, err = tx.ExecPrepared(ctx, b.String(), args[start:end]...)
			}
		} else {
			res, err = ex.ExecContext(ctx, b.String(), args[start:end]...)
		}
		if err != nil {
			return err
		}
		if err := done(n, res); err != nil {
			return err
		}
	}
	return nil
}

// AutoIDsConsecutive reports whether a multi-row INSERT on this connection
// gives its rows consecutive AUTO_INCREMENT ids, in the order of its VALUES,
// starting at the LAST_INSERT_ID() it reports. InnoDB guarantees that for a
// statement whose row count is known in advance (a plain INSERT ... VALUES,
// not one with ON DUPLICATE KEY UPDATE) unless innodb_autoinc_lock_mode is 2
// (interleaved), and the step is auto_increment_increment, which must be 1
// here. Ask on the connection (the transaction) that will insert.
func AutoIDsConsecutive(ctx context.Context, q interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}) (bool, error) {
	var mode, inc int64
	if err := q.QueryRowContext(ctx, "SELECT @@GLOBAL.innodb_autoinc_lock_mode, @@SESSION.auto_increment_increment").Scan(&mode, &inc); err != nil {
		return false, err
	}
	return (mode == 0 || mode == 1) && inc == 1, nil
}

// InsertRowsIDs is InsertRows without a tail, for rows that leave the
// table's AUTO_INCREMENT id NULL, on a connection where AutoIDsConsecutive
// holds: it returns the id each row got, in the order of args, without
// reading anything back.
func InsertRowsIDs(ctx context.Context, ex Execer, head string, width int, args []any) ([]uint64, error) {
	ids := make([]uint64, 0, len(args)/max(width, 1))
	err := insertChunks(ctx, ex, head, width, args, "", false, func(n int, res sql.Result) error {
		ra, err := res.RowsAffected()
		if err != nil {
			return err
		}
		first, err := res.LastInsertId()
		if err != nil {
			return err
		}
		if ra != int64(n) || first <= 0 {
			return fmt.Errorf("store.InsertRowsIDs: %d rows inserted of %d, first id %d", ra, n, first)
		}
		for i := range n {
			ids = append(ids, uint64(first)+uint64(i))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return ids, nil
}
