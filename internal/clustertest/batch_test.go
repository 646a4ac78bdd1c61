//go:build cluster

package clustertest

import (
	"context"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/shelfcommerce/shelf/internal/store"
)

// A transaction that queues its last INSERTs (store.Tx.Defer) while a
// write replicated from another node aborts it: on Galera the queued
// statements must not outlive the transaction, and a COMMIT that reports
// success must have written everything. Sent as one statement list, they
// did not (store.Store.Batching): COMMITs succeeded for transactions that
// were gone, and rows of aborted ones stayed.
func TestQueuedWritesOnGaleraAreWholeOrAbsent(t *testing.T) {
	dsns := clusterDB(t)
	ctx := context.Background()
	mine, theirs := openStore(t, dsns[0]), openStore(t, dsns[1])
	if mine.Batching() {
		t.Fatal("Batching() is true on a Galera node")
	}
	for _, q := range []string{
		"CREATE TABLE bt_hot (id INT PRIMARY KEY, n INT NOT NULL)",
		"CREATE TABLE bt_tx (round INT PRIMARY KEY)",
		"CREATE TABLE bt_rows (id BIGINT AUTO_INCREMENT PRIMARY KEY, round INT NOT NULL)",
		"INSERT INTO bt_hot VALUES (1, 0)",
	} {
		if _, err := mine.DB.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range dsns {
		caughtUp(t, d)
	}

	const rounds, perRound = 120, 40
	var committed, aborted int
	for round := range rounds {
		// The other node's write lands at a random point of the round.
		var wg sync.WaitGroup
		wg.Go(func() {
			time.Sleep(rand.N(4 * time.Millisecond))
			_ = theirs.Retry(ctx, func(ctx context.Context) error {
				_, err := theirs.DB.ExecContext(ctx, "UPDATE bt_hot SET n = n + 1 WHERE id = 1")
				return err
			})
		})
		err := func() error {
			tx, err := mine.Begin(ctx, nil)
			if err != nil {
				return err
			}
			defer tx.Rollback()
			if _, err := tx.ExecContext(ctx, "UPDATE bt_hot SET n = n - 1 WHERE id = 1"); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, "INSERT INTO bt_tx VALUES (?)", round); err != nil {
				return err
			}
			tx.Defer()
			for range perRound {
				if _, err := store.InsertRows(ctx, tx, "INSERT INTO bt_rows (round)", 1, []any{round}, ""); err != nil {
					return err
				}
			}
			if err := tx.Flush(ctx); err != nil {
				return err
			}
			return tx.Commit()
		}()
		wg.Wait()
		switch {
		case err == nil:
			committed++
		case store.IsRetryable(err):
			aborted++
		default:
			t.Fatalf("round %d: %v", round, err)
		}
	}
	caughtUp(t, dsns[0])
	var txs, rows, badRounds int
	if err := mine.DB.QueryRowContext(ctx,
		"SELECT (SELECT COUNT(*) FROM bt_tx), (SELECT COUNT(*) FROM bt_rows),"+
			" (SELECT COUNT(*) FROM (SELECT round FROM bt_rows GROUP BY round HAVING COUNT(*) <> ? OR round NOT IN (SELECT round FROM bt_tx)) b)",
		perRound).Scan(&txs, &rows, &badRounds); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d rounds: %d committed, %d aborted; %d transactions and %d rows stored", rounds, committed, aborted, txs, rows)
	if aborted == 0 {
		t.Error("no round was aborted: the other node's writes never met a transaction, so this proved nothing")
	}
	if txs != committed || rows != committed*perRound || badRounds != 0 {
		t.Errorf("%d COMMITs succeeded but %d transactions and %d rows (%d rounds partly written) are stored; want %d and %d, none partial",
			committed, txs, rows, badRounds, committed, committed*perRound)
	}
}
