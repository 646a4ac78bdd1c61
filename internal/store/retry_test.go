package store_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/shelfcommerce/shelf/db"
	"github.com/shelfcommerce/shelf/internal/dbtest"
	"github.com/shelfcommerce/shelf/internal/problem"
	"github.com/shelfcommerce/shelf/internal/store"
)

// retryable are the errors after which Shelf runs the work again: each is
// one a unit of work that was not applied gets from MariaDB, Galera or MySQL.
var retryable = []struct {
	name string
	code uint16
}{
	{"deadlock, or Galera certification failure", 1213},
	{"lock-wait timeout", 1205},
	{"Galera node not ready (resync)", 1047},
	{"MySQL group replication rollback", 3101},
}

// Every retryable error, on an autocommit statement and on a transaction's
// COMMIT, is retried until the work is done, exactly once.
func TestRetryPolicyRetriesEachErrorCode(t *testing.T) {
	t.Parallel()
	d, f := dbtest.NewFaulty(t)
	st := d.Store
	ctx := context.Background()
	for i, tc := range retryable {
		t.Run(tc.name, func(t *testing.T) {
			before := st.RetryStats().Retries.Load()
			name := "autocommit-" + string(rune('a'+i))
			f.Set("INSERT IGNORE INTO service_secrets", tc.code, 3)
			err := st.Retry(ctx, func(ctx context.Context) error {
				return st.Q.InsertSecretIfAbsent(ctx, db.InsertSecretIfAbsentParams{Name: name, Secret: []byte("x"), CreatedAt: time.Now()})
			})
			if err != nil || f.Hits() != 3 {
				t.Fatalf("autocommit INSERT after 3 injected %d: %v (%d injected)", tc.code, err, f.Hits())
			}
			name = "tx-" + string(rune('a'+i))
			f.Set("COMMIT", tc.code, 2)
			attempts := 0
			err = st.InTx(ctx, func(tx *store.Tx) error {
				attempts++
				return tx.Q.InsertSecretIfAbsent(ctx, db.InsertSecretIfAbsentParams{Name: name, Secret: []byte("y"), CreatedAt: time.Now()})
			})
			if err != nil || attempts != 3 {
				t.Fatalf("transaction whose COMMIT failed twice with %d: %v after %d attempts", tc.code, err, attempts)
			}
			var n int
			if err := st.DB.QueryRowContext(ctx, "SELECT COUNT(*) FROM service_secrets WHERE name IN (?, ?)",
				"autocommit-"+string(rune('a'+i)), name).Scan(&n); err != nil || n != 2 {
				t.Fatalf("%d rows written (%v), want 2", n, err)
			}
			if got := st.RetryStats().Retries.Load() - before; got != 5 {
				t.Errorf("retries counted %d, want 5", got)
			}
		})
	}
}

// A unit that keeps failing gives up within the budget with ErrBusy, a 503
// with Retry-After; an error that is not a lost race is not retried.
func TestRetryPolicyGivesUpWithinItsBudget(t *testing.T) {
	t.Parallel()
	d, f := dbtest.NewFaulty(t)
	st := d.Store
	st.Policy = store.RetryPolicy{Budget: 300 * time.Millisecond, MinAttempts: 3, Base: 5 * time.Millisecond, Cap: 50 * time.Millisecond}
	ctx := context.Background()
	f.Set("COMMIT", 1213, -1) // every COMMIT fails
	err := st.InTx(ctx, func(tx *store.Tx) error {
		return tx.Q.InsertSecretIfAbsent(ctx, db.InsertSecretIfAbsentParams{Name: "never", Secret: []byte("z"), CreatedAt: time.Now()})
	})
	if !errors.Is(err, store.ErrBusy) || problem.Status(err) != 503 || !store.IsUnavailable(err) {
		t.Fatalf("err = %v (status %d), want ErrBusy, a 503", err, problem.Status(err))
	}
	if f.Hits() < 3 {
		t.Errorf("gave up after %d attempts, before the policy's minimum of 3", f.Hits())
	}
	f.Set("INSERT IGNORE", 1062, 5)
	err = st.Retry(ctx, func(ctx context.Context) error {
		return st.Q.InsertSecretIfAbsent(ctx, db.InsertSecretIfAbsentParams{Name: "dup", Secret: []byte("z"), CreatedAt: time.Now()})
	})
	if !store.IsDuplicate(err) || f.Hits() != 1 {
		t.Fatalf("a duplicate key was retried or lost: %v after %d attempts", err, f.Hits())
	}
}

// Several processes starting at once on one database agree on one key per
// purpose, and keep it across restarts.
func TestSecretsAreCreatedOnceAndShared(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	ctx := context.Background()
	const n = 4
	got := make([]store.Secrets, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st, err := store.Open(ctx, d.DSN, store.PoolConfig{MaxOpen: 2, MaxIdle: 2})
			if err != nil {
				t.Error(err)
				return
			}
			defer st.Close()
			if got[i], err = st.LoadSecrets(ctx); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	again, err := d.LoadSecrets(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for i, s := range got {
		if len(s.Cursor) != 32 || string(s.Cursor) != string(again.Cursor) || string(s.Idempotency) != string(again.Idempotency) {
			t.Fatalf("process %d got other keys than the database keeps", i)
		}
	}
	if string(again.Cursor) == string(again.Idempotency) {
		t.Fatal("one key serves two purposes")
	}
}
