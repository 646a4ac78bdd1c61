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
// clause. It is the one place Shelf builds INSERT statements at run time; the
// values always travel as parameters. It returns the total rows affected.
func InsertRows(ctx context.Context, ex Execer, head string, width int, args []any, tail string) (int64, error) {
	if width <= 0 || len(args)%width != 0 {
		return 0, fmt.Errorf("store.InsertRows: %d args do not fill rows of %d", len(args), width)
	}
	one := "(" + strings.TrimSuffix(strings.Repeat("?,", width), ",") + ")"
	var total int64
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
		res, err := ex.ExecContext(ctx, b.String(), args[start:end]...)
		if err != nil {
			return total, err
		}
		if ra, err := res.RowsAffected(); err == nil {
			total += ra
		}
	}
	return total, nil
}
