package store_test

import (
	"context"
	"fmt"
	"testing"

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
