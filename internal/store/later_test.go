package store_test

import (
	"bytes"
	"context"
	"database/sql"
	"testing"

	"github.com/shelfcommerce/shelf/internal/dbtest"
	"github.com/shelfcommerce/shelf/internal/store"
)

// Values a statement list could be broken by if they travelled as text
// without escaping: quotes, the list's separator, a placeholder, a comment
// and raw bytes.
var awkward = []struct {
	s string
	b []byte
}{
	{`it's; "quoted" \ back\slash ? -- not a comment`, []byte{0, '\'', '\\', ';', 0xff}},
	{"'); DROP TABLE later_t; --", []byte("?;\n/*")},
	{"line\nbreak\ttab\x1a", nil},
}

func laterTable(t *testing.T) *dbtest.DB {
	t.Helper()
	d := dbtest.New(t)
	if _, err := d.DB.Exec("CREATE TABLE later_t (id INT PRIMARY KEY, s TEXT NOT NULL, b VARBINARY(20) NULL)"); err != nil {
		t.Fatal(err)
	}
	return d
}

type rowQuerier interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}

// countRows counts table's rows as q sees them.
func countRows(t *testing.T, q rowQuerier, table string) int {
	t.Helper()
	var n int
	if err := q.QueryRowContext(context.Background(), "SELECT COUNT(*) FROM "+table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func laterRows(t *testing.T, q rowQuerier) int { return countRows(t, q, "later_t") }

// TestDeferredInsertsArriveTogetherAtFlush: queued INSERTs are not run until
// Flush, then all are, with every value stored as given.
func TestDeferredInsertsArriveTogetherAtFlush(t *testing.T) {
	t.Parallel()
	d := laterTable(t)
	ctx := context.Background()
	err := d.InTx(ctx, func(tx *store.Tx) error {
		tx.Defer()
		for i, v := range awkward {
			var b any
			if v.b != nil {
				b = v.b
			}
			if n, err := store.InsertRows(ctx, tx, "INSERT INTO later_t (id, s, b)", 3, []any{i + 1, v.s, b}, ""); err != nil || n != 1 {
				t.Fatalf("queue row %d: %d rows, %v", i+1, n, err)
			}
		}
		if n := laterRows(t, tx); n != 0 {
			t.Fatalf("%d rows before Flush: the INSERTs were not queued", n)
		}
		if err := tx.Flush(ctx); err != nil {
			return err
		}
		if n := laterRows(t, tx); n != len(awkward) {
			t.Fatalf("%d rows after Flush, want %d", n, len(awkward))
		}
		// After Flush the transaction writes at once again.
		if _, err := store.InsertRows(ctx, tx, "INSERT INTO later_t (id, s, b)", 3, []any{99, "now", nil}, ""); err != nil {
			return err
		}
		if n := laterRows(t, tx); n != len(awkward)+1 {
			t.Fatalf("%d rows after a write past Flush, want %d", n, len(awkward)+1)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range awkward {
		var s string
		var b []byte
		if err := d.DB.QueryRow("SELECT s, b FROM later_t WHERE id = ?", i+1).Scan(&s, &b); err != nil {
			t.Fatal(err)
		}
		if s != v.s || !bytes.Equal(b, v.b) || (b == nil) != (v.b == nil) {
			t.Errorf("row %d: stored %q %q, sent %q %q", i+1, s, b, v.s, v.b)
		}
	}
}

// TestCommitSendsWhatIsQueued: a transaction that never calls Flush loses
// nothing, and a queued statement that fails undoes the whole transaction,
// the writes sent before it included.
func TestCommitSendsWhatIsQueued(t *testing.T) {
	t.Parallel()
	d := laterTable(t)
	ctx := context.Background()
	if err := d.InTx(ctx, func(tx *store.Tx) error {
		tx.Defer()
		_, err := store.InsertRows(ctx, tx, "INSERT INTO later_t (id, s)", 2, []any{1, "a", 2, "b"}, "")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if n := laterRows(t, d.DB); n != 2 {
		t.Fatalf("%d rows after Commit, want the 2 queued", n)
	}

	err := d.InTx(ctx, func(tx *store.Tx) error {
		if _, err := tx.ExecContext(ctx, "INSERT INTO later_t (id, s) VALUES (10, 'sent at once')"); err != nil {
			return err
		}
		tx.Defer()
		for _, id := range []int{11, 1, 12} { // 1 exists: the second fails
			if _, err := store.InsertRows(ctx, tx, "INSERT INTO later_t (id, s)", 2, []any{id, "queued"}, ""); err != nil {
				return err
			}
		}
		return nil
	})
	if !store.IsDuplicate(err) {
		t.Fatalf("err = %v, want the queued duplicate's", err)
	}
	if n := laterRows(t, d.DB); n != 2 {
		t.Fatalf("%d rows after the failed transaction, want the 2 from before", n)
	}
}

// TestLaterQueuesSqlcStatements: Later's queries queue their statement, and
// an upsert or an INSERT whose ids are wanted is never queued.
func TestLaterQueuesSqlcStatements(t *testing.T) {
	t.Parallel()
	d := laterTable(t)
	ctx := context.Background()
	if _, err := d.DB.Exec("DELETE FROM event_sequence"); err != nil {
		t.Fatal(err)
	}
	sequenceRows := func(q rowQuerier) int { return countRows(t, q, "event_sequence") }
	if err := d.InTx(ctx, func(tx *store.Tx) error {
		tx.Defer()
		if err := tx.Later().EventSequenceCreate(ctx); err != nil {
			return err
		}
		if n := sequenceRows(tx); n != 0 {
			t.Fatalf("Later's INSERT ran at once (%d rows)", n)
		}
		// Not queued: an upsert reports its rows, the ids of an INSERT are read.
		if n, err := store.InsertRows(ctx, tx, "INSERT INTO later_t (id, s)", 2, []any{1, "a"}, "ON DUPLICATE KEY UPDATE s = VALUES(s)"); err != nil || n != 1 {
			t.Fatalf("upsert under Defer: %d rows, %v", n, err)
		}
		if n := laterRows(t, tx); n != 1 {
			t.Fatalf("the upsert was queued (%d rows)", n)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if n := sequenceRows(d.DB); n != 1 {
		t.Fatalf("%d sequence rows after Commit, want 1", n)
	}
	// Nor is an INSERT whose ids are wanted: they are the rows' own.
	if _, err := d.DB.Exec("CREATE TABLE later_ids (id INT AUTO_INCREMENT PRIMARY KEY, s TEXT NOT NULL)"); err != nil {
		t.Fatal(err)
	}
	if err := d.InTx(ctx, func(tx *store.Tx) error {
		tx.Defer()
		ids, err := store.InsertRowsIDs(ctx, tx, "INSERT INTO later_ids (id, s)", 2, []any{nil, "p", nil, "q"})
		if err != nil {
			return err
		}
		for i, want := range []string{"p", "q"} {
			var s string
			if err := tx.QueryRowContext(ctx, "SELECT s FROM later_ids WHERE id = ?", ids[i]).Scan(&s); err != nil || s != want {
				t.Fatalf("id %d holds %q (%v), want %q", ids[i], s, err, want)
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}
