package store_test

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/shelfcommerce/shelf/internal/dbtest"
	"github.com/shelfcommerce/shelf/internal/store"
)

// tricky are text values that the file form of LOAD DATA must escape or
// must not mistake for something else.
var tricky = []string{
	"plain", "", "tab\there", "line\nbreak", "carriage\rreturn", `back\slash`, `\N`, "NULL", `\`, "\\\t\n",
	"trailing backslash\\", "nul\x00byte", "ctrl-z\x1a", "naïve café ☕ 𝄞 日本語", "'quotes' \"double\"", " lead and trail ",
}

func bulkTable(t *testing.T, d *dbtest.DB) *store.Table {
	t.Helper()
	ctx := context.Background()
	if _, err := d.DB.ExecContext(ctx, `CREATE TABLE bulk_load (
		id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
		name VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL UNIQUE,
		note TEXT NULL, hash BINARY(4) NULL, body MEDIUMBLOB NOT NULL,
		qty BIGINT NOT NULL, flag TINYINT(1) NOT NULL, at DATETIME(6) NOT NULL,
		CONSTRAINT bulk_load_qty CHECK (qty >= 0)) ENGINE=InnoDB`); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = d.DB.ExecContext(context.Background(), "DROP TABLE IF EXISTS bulk_load") })
	return store.NewTable("bulk_load", []string{"id", "name", "note", "hash", "body", "qty", "flag", "at"}, "hash")
}

// eachTransport runs fn on a fresh database and its bulk_load table, once
// with LOAD DATA forced and once with INSERTs forced.
func eachTransport(t *testing.T, fn func(t *testing.T, d *dbtest.DB, tb *store.Table, load bool)) {
	for _, load := range []bool{true, false} {
		t.Run(fmt.Sprintf("load=%v", load), func(t *testing.T) {
			d := dbtest.New(t)
			d.Store.Bulk = store.BulkLoad
			if !load {
				d.Store.Bulk = store.BulkInsert
			}
			fn(t, d, bulkTable(t, d), load)
		})
	}
}

type bulkRow struct {
	id         uint64
	name       string
	note       sql.NullString
	hash, body []byte
	qty        int64
	flag       bool
	at         time.Time
}

func readBulk(t *testing.T, d *dbtest.DB) []bulkRow {
	t.Helper()
	rows, err := d.DB.QueryContext(context.Background(), "SELECT id, name, note, hash, body, qty, flag, at FROM bulk_load ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []bulkRow
	for rows.Next() {
		var r bulkRow
		if err := rows.Scan(&r.id, &r.name, &r.note, &r.hash, &r.body, &r.qty, &r.flag, &r.at); err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	return out
}

// TestTableInsertStoresEveryValueAsGiven: both transports (LOAD DATA where
// the server takes it, INSERTs otherwise) store text with tabs, newlines,
// backslashes, NUL, \N and NULL spelled out and non-ASCII exactly, NULLs as
// NULL, raw bytes as they were, and hand back the ids the rows got.
func TestTableInsertStoresEveryValueAsGiven(t *testing.T) {
	eachTransport(t, func(t *testing.T, d *dbtest.DB, tb *store.Table, load bool) {
		ctx := context.Background()
		at := time.Date(2026, 12, 2, 13, 4, 5, 123456000, time.UTC)
		var args []any
		var want []bulkRow
		for i, s := range tricky {
			var note any = s
			wantNote := sql.NullString{String: s, Valid: true}
			if i%5 == 4 {
				note, wantNote = nil, sql.NullString{}
			}
			hash := []byte{0, '\t', '\\', byte(0xff - i)}
			// Runs of rows share a time, as a write's rows share its now.
			rowAt := at.Add(time.Duration(i/3) * time.Second)
			args = append(args, nil, fmt.Sprintf("%02d %s", i, s), note, hash, []byte(s), int64(i), i%2 == 0, rowAt)
			want = append(want, bulkRow{name: fmt.Sprintf("%02d %s", i, s), note: wantNote, hash: hash, body: []byte(s), qty: int64(i), flag: i%2 == 0, at: rowAt})
		}
		if _, err := d.DB.ExecContext(ctx, "INSERT INTO bulk_load (id, name, body, qty, flag, at) VALUES (41, 'gap', '', 0, 0, NOW())"); err != nil {
			t.Fatal(err)
		}
		tx, err := d.Store.Begin(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback()
		if got := store.LoadDataUsed(ctx, tx); load && !got {
			t.Skip("the server refuses LOCAL INFILE: only the INSERT path runs here")
		} else if !load && got {
			t.Fatal("BulkInsert is set, but the store still loads")
		}
		ok, err := store.AutoIDsConsecutive(ctx, tx)
		if err != nil || !ok {
			t.Skipf("no consecutive ids (%v)", err)
		}
		ids, err := tb.InsertIDs(ctx, tx, args)
		if err != nil {
			t.Fatal(err)
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
		got := readBulk(t, d)[1:] // the gap row first
		if len(got) != len(want) || len(ids) != len(want) {
			t.Fatalf("%d rows stored, %d ids, want %d", len(got), len(ids), len(want))
		}
		for i := range want {
			g, w := got[i], want[i]
			if g.id != ids[i] || g.id <= 41 {
				t.Errorf("row %d: id %d, InsertIDs said %d", i, g.id, ids[i])
			}
			if g.name != w.name || g.note != w.note || !bytes.Equal(g.hash, w.hash) || !bytes.Equal(g.body, w.body) ||
				g.qty != w.qty || g.flag != w.flag || !g.at.Equal(w.at) {
				t.Errorf("row %d stored as %+v, want %+v", i, g, w)
			}
		}
	})
}

// TestTableInsertRefusesWhatAnInsertWould: a duplicate key, a CHECK
// violation and a value too long for its column fail the write on both
// transports with the error an INSERT in strict mode gives, and the
// statement leaves nothing behind once rolled back to a savepoint.
func TestTableInsertRefusesWhatAnInsertWould(t *testing.T) {
	eachTransport(t, func(t *testing.T, d *dbtest.DB, tb *store.Table, load bool) {
		ctx := context.Background()
		row := func(name string, qty int64) []any {
			return []any{nil, name, nil, nil, []byte{}, qty, false, time.Now()}
		}
		cases := []struct {
			name  string
			args  []any
			check func(error) bool
		}{
			{"duplicate", append(row("a", 1), row("a", 2)...), store.IsDuplicate},
			{"check", append(row("b", 1), row("c", -1)...), store.IsCheckViolation},
			{"too long", append(row("d", 1), row(strings.Repeat("x", 65), 1)...), func(err error) bool { return err != nil }},
		}
		for _, c := range cases {
			tx, err := d.Store.Begin(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := tx.ExecContext(ctx, "SAVEPOINT s"); err != nil {
				t.Fatal(err)
			}
			err = tb.Insert(ctx, tx, c.args)
			if !c.check(err) {
				t.Errorf("%s: error %v", c.name, err)
			}
			if _, err := tx.ExecContext(ctx, "ROLLBACK TO SAVEPOINT s"); err != nil {
				t.Fatal(err)
			}
			if err := tx.Commit(); err != nil {
				t.Fatal(err)
			}
		}
		if got := readBulk(t, d); len(got) != 0 {
			t.Errorf("refused writes left %d rows", len(got))
		}
	})
}

// refusingLocal is a connection to a server that refuses LOCAL INFILE, as
// MySQL 8 does by default (local_infile=OFF answers 3948; older servers and
// MariaDB with it disabled, 1148).
type refusingLocal struct {
	*store.Tx
	number uint16
}

func (r refusingLocal) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if strings.HasPrefix(query, "LOAD DATA") {
		return nil, &mysql.MySQLError{Number: r.number, Message: "The used command is not allowed with this MariaDB version"}
	}
	return r.Tx.ExecContext(ctx, query, args...)
}

// TestTableInsertFallsBackWhenLocalIsRefused: a server that refuses LOAD
// DATA LOCAL INFILE gets the same rows with INSERTs, and the process stops
// trying LOAD DATA after the first refusal.
func TestTableInsertFallsBackWhenLocalIsRefused(t *testing.T) {
	for _, number := range []uint16{1148, 3948} {
		t.Run(fmt.Sprint(number), func(t *testing.T) {
			ctx := context.Background()
			d := dbtest.New(t)
			tb := bulkTable(t, d)
			restore := store.ForgetLoadData()
			defer restore()
			tx, err := d.Store.Begin(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer tx.Rollback()
			if !store.LoadDataUsed(ctx, tx) {
				t.Skip("the server refuses LOCAL INFILE itself: the fallback is all that runs here")
			}
			q := refusingLocal{tx, number}
			var args []any
			for i := range 40 {
				args = append(args, nil, fmt.Sprintf("r%d", i), "tab\there", nil, []byte("b"), int64(i), true, time.Now())
			}
			if err := tb.Insert(ctx, q, args); err != nil {
				t.Fatalf("insert after the refusal: %v", err)
			}
			if store.LoadDataUsed(ctx, q) {
				t.Error("LOAD DATA is still tried after the server refused it")
			}
			if err := tx.Commit(); err != nil {
				t.Fatal(err)
			}
			got := readBulk(t, d)
			if len(got) != 40 || got[39].name != "r39" || got[0].note.String != "tab\there" {
				t.Errorf("stored %d rows: %+v", len(got), got)
			}
		})
	}
}
