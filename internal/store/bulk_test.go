package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/shelfcommerce/shelf/internal/dbtest"
	"github.com/shelfcommerce/shelf/internal/store"
)

// TestInsertRowsIDsAreTheStoredIDs: the ids InsertRowsIDs derives from each
// statement's first id are the ids the rows got, over several statements
// and after a gap in the sequence.
func TestInsertRowsIDsAreTheStoredIDs(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := dbtest.New(t)
	if _, err := d.DB.ExecContext(ctx, "CREATE TABLE bulk_ids (id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY, name VARCHAR(20) NOT NULL UNIQUE) ENGINE=InnoDB"); err != nil {
		t.Fatal(err)
	}
	if _, err := d.DB.ExecContext(ctx, "INSERT INTO bulk_ids (id, name) VALUES (77, 'gap')"); err != nil {
		t.Fatal(err)
	}
	tx, err := d.DB.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	ok, err := store.AutoIDsConsecutive(ctx, tx)
	if err != nil || !ok {
		t.Skipf("server does not give consecutive ids (%v): nothing to check", err)
	}
	var args []any
	for i := range 1234 {
		args = append(args, nil, fmt.Sprintf("n%d", i))
	}
	ids, err := store.InsertRowsIDs(ctx, tx, "INSERT INTO bulk_ids (id, name)", 2, args)
	if err != nil {
		t.Fatal(err)
	}
	if len(ids) != 1234 {
		t.Fatalf("%d ids for 1234 rows", len(ids))
	}
	for i, id := range ids {
		var name string
		if err := tx.QueryRowContext(ctx, "SELECT name FROM bulk_ids WHERE id = ?", id).Scan(&name); err != nil || name != fmt.Sprintf("n%d", i) {
			t.Fatalf("row %d: id %d holds %q (%v)", i, id, name, err)
		}
	}
}

// TestAutoIDsConsecutiveSeesTheIncrement: a session whose ids step by more
// than one is not told it may derive them.
func TestAutoIDsConsecutiveSeesTheIncrement(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := dbtest.New(t)
	conn, err := d.DB.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "SET SESSION auto_increment_increment = 2"); err != nil {
		t.Fatal(err)
	}
	if ok, err := store.AutoIDsConsecutive(ctx, conn); err != nil || ok {
		t.Errorf("increment 2: consecutive=%v err=%v", ok, err)
	}
}

// TestFewRowsRunPreparedWithAFullPool: the small INSERTs InsertRows keeps
// prepared give the same rows as plain ones, and preparing them never waits
// for a second connection, so transactions that hold every connection of
// the pool still finish.
func TestFewRowsRunPreparedWithAFullPool(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := dbtest.New(t)
	if _, err := d.DB.ExecContext(ctx, "CREATE TABLE bulk_few (id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY, name VARCHAR(20) NOT NULL UNIQUE) ENGINE=InnoDB"); err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(ctx, d.DSN, store.PoolConfig{MaxOpen: 2, MaxIdle: 2, MaxLifetime: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	const writers, rounds = 2, 20
	errs := make(chan error, writers)
	for w := range writers {
		go func() {
			for r := range rounds {
				err := st.InTx(ctx, func(tx *store.Tx) error {
					n, err := store.InsertRows(ctx, tx, "INSERT INTO bulk_few (name)", 1,
						[]any{fmt.Sprintf("w%d-%d-a", w, r), fmt.Sprintf("w%d-%d-b", w, r)}, "")
					if err == nil && n != 2 {
						err = fmt.Errorf("%d rows inserted, want 2", n)
					}
					return err
				})
				if err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for range writers {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	var n int
	if err := d.DB.QueryRowContext(ctx, "SELECT COUNT(*) FROM bulk_few").Scan(&n); err != nil || n != writers*rounds*2 {
		t.Fatalf("%d rows (%v), want %d", n, err, writers*rounds*2)
	}
}
