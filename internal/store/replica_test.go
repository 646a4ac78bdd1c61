package store_test

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/shelfcommerce/shelf/internal/dbtest"
	"github.com/shelfcommerce/shelf/internal/store"
)

// A replica whose replication stops is down for Watch: it would serve an
// ever older catalog. Running and caught up, it is up again.
func TestWatchTakesAStoppedReplicaOut(t *testing.T) {
	t.Parallel()
	primary := dbtest.StartServer(t, "--log-bin=primary-bin", "--server-id=1", "--binlog-format=ROW")
	replica := dbtest.StartServer(t, "--server-id=2")
	ctx := context.Background()
	rdb, err := sql.Open("mysql", replica.DSN)
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()
	exec := func(db *sql.DB, q string) {
		t.Helper()
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	exec(rdb, fmt.Sprintf("CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT=%d, MASTER_USER='root', MASTER_PASSWORD='', MASTER_USE_GTID=slave_pos", primary.Port()))
	exec(rdb, "START SLAVE")
	pdb, err := sql.Open("mysql", primary.DSN)
	if err != nil {
		t.Fatal(err)
	}
	defer pdb.Close()
	exec(pdb, "CREATE DATABASE shelf_replicated")
	if err := dbtest.Migrate(ctx, primary.DSN+"shelf_replicated"); err != nil {
		t.Fatal(err)
	}
	var st *store.Store
	for start := time.Now(); st == nil; time.Sleep(100 * time.Millisecond) { // the schema reaches the replica
		if st, err = store.Open(ctx, replica.DSN+"shelf_replicated", store.PoolConfig{MaxOpen: 2, MaxIdle: 2, MaxLifetime: time.Minute}); err != nil && time.Since(start) > 30*time.Second {
			t.Fatal(err)
		}
	}
	defer st.Close()
	wctx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		st.Watch(wctx, 50*time.Millisecond, store.LatestMigration(), 5*time.Second, slog.New(slog.NewTextHandler(io.Discard, nil)), "the replica")
		close(done)
	}()
	defer func() { stop(); <-done }()
	until := func(down bool, what string) {
		t.Helper()
		for start := time.Now(); st.Down() != down; time.Sleep(20 * time.Millisecond) {
			if time.Since(start) > 30*time.Second {
				t.Fatalf("%s: Down() stayed %v", what, !down)
			}
		}
	}
	until(false, "replicating")
	exec(rdb, "STOP SLAVE SQL_THREAD")
	until(true, "replication stopped")
	exec(rdb, "START SLAVE SQL_THREAD")
	until(false, "replicating again")
}
