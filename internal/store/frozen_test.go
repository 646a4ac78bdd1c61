package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/shelfcommerce/shelf/internal/dbtest"
	"github.com/shelfcommerce/shelf/internal/store"
)

// A server that freezes (SIGSTOP: its sockets stay open, nothing answers)
// after a transaction's last statement and before its COMMIT must not hold
// the caller past its deadline: database/sql sends COMMIT and ROLLBACK
// without the context, so the store bounds them itself. The caller gets a
// "database unavailable" error, and once the server thaws the transaction
// has either committed whole or not at all.
func TestCommitOnAFrozenServerEndsWithItsDeadline(t *testing.T) {
	t.Parallel()
	priv := dbtest.StartServer(t)
	ctx := context.Background()
	st := priv.NewStore(ctx, "shelf_frozen", 4)
	if _, err := st.DB.ExecContext(ctx, "CREATE TABLE frozen_probe (id INT PRIMARY KEY)"); err != nil {
		t.Fatal(err)
	}

	for id, end := range []string{"commit", "rollback"} {
		t.Run(end, func(t *testing.T) {
			rctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
			defer cancel()
			done := make(chan error, 1)
			thawed := false
			go func() {
				done <- st.InTx(rctx, func(tx *store.Tx) error {
					if _, err := tx.ExecContext(rctx, "INSERT INTO frozen_probe (id) VALUES (?)", id); err != nil {
						return err
					}
					priv.Freeze() // between the last statement and COMMIT or ROLLBACK
					frozen(t, st)
					if end == "rollback" {
						return errors.New("refused")
					}
					return nil
				})
			}()
			var got error
			select {
			case got = <-done:
			case <-time.After(20 * time.Second):
				priv.Thaw()
				thawed = true
				got = <-done
			}
			if !thawed {
				priv.Thaw()
			}
			if thawed {
				t.Fatalf("%s on a frozen server returned only after the server thawed (%v)", end, got)
			}
			if end == "commit" && !store.IsUnavailable(got) {
				t.Errorf("commit on a frozen server: %v, want a database-unavailable error", got)
			}
			// The pool serves again, and a rolled-back row is not there.
			var n int
			if err := st.DB.QueryRowContext(ctx, "SELECT COUNT(*) FROM frozen_probe WHERE id = ?", id).Scan(&n); err != nil {
				t.Fatal(err)
			}
			if end == "rollback" && n != 0 {
				t.Errorf("rolled-back row is in the table")
			}
		})
	}
}

// frozen waits until the server has stopped answering.
func frozen(t *testing.T, st *store.Store) {
	for range 100 {
		pctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		err := st.DB.PingContext(pctx)
		cancel()
		if err != nil {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Error("the server still answers after SIGSTOP")
}
