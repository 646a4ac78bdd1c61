//go:build cluster

package clustertest

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shelfcommerce/shelf/internal/events"
	"github.com/shelfcommerce/shelf/internal/store"
)

// A sequencer on every node while writers on every node commit events:
// Galera certifies the sequencers' writes to the one sequence row against
// each other, and a sequencer it aborts must not have numbered anything
// (one statement per round trip there: store.Store.Batching). Every event
// gets exactly one seq, the seqs run 1, 2, 3... without a hole, and the
// feed read through any node holds each event once.
func TestSequencersOnEveryNodeNumberEachEventOnce(t *testing.T) {
	dsns := clusterDB(t)
	ctx := context.Background()
	stores := make([]*store.Store, len(dsns))
	for i, d := range dsns {
		stores[i] = openStore(t, d)
	}
	const perWriter = 120
	var wg, seqWG sync.WaitGroup
	var writing atomic.Int32
	writing.Store(int32(len(stores)))
	for w, st := range stores {
		wg.Go(func() {
			defer writing.Add(-1)
			for i := range perWriter {
				id := uint64(w*1000 + i + 1)
				err := st.InTx(ctx, func(tx *store.Tx) error {
					now := time.Now()
					return events.Emit(ctx, tx, now, events.ProductUpdated(now, id, fmt.Sprintf("p-%d", id)))
				})
				if err != nil {
					t.Errorf("writer %d: %v", w, err)
					return
				}
			}
		})
	}
	var numbered atomic.Int64
	for _, st := range stores {
		seqWG.Go(func() {
			idle := 0
			for idle < 20 { // until the writers are done and nothing is left
				n, err := events.Sequence(ctx, st)
				if err != nil && !store.IsUnavailable(err) {
					t.Errorf("sequence: %v", err)
					return
				}
				numbered.Add(int64(n))
				if n == 0 && writing.Load() == 0 {
					idle++
				}
				time.Sleep(time.Millisecond)
			}
		})
	}
	wg.Wait()
	seqWG.Wait()

	total := len(stores) * perWriter
	for _, d := range dsns {
		caughtUp(t, d)
	}
	var rows, distinct, unnumbered int
	var maxSeq uint64
	if err := stores[0].DB.QueryRowContext(ctx,
		"SELECT COUNT(*), COUNT(DISTINCT seq), COALESCE(SUM(seq = 0), 0), COALESCE(MAX(seq), 0) FROM events").
		Scan(&rows, &distinct, &unnumbered, &maxSeq); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d events in %d rows, %d numbered by the sequencers, %d seqs, largest %d", total, rows, numbered.Load(), distinct, maxSeq)
	if rows != total || unnumbered != 0 || distinct != total || maxSeq != uint64(total) || numbered.Load() != int64(total) {
		t.Fatalf("%d rows of %d events, %d distinct seqs, %d unnumbered, largest seq %d, %d numbered: want each event one seq of 1..%d",
			rows, total, distinct, unnumbered, maxSeq, numbered.Load(), total)
	}
	for i, st := range stores {
		evs, err := events.Read(ctx, st, 0, total+10)
		if err != nil {
			t.Fatal(err)
		}
		seen := map[uint64]bool{}
		for k, e := range evs {
			var d struct {
				ProductID uint64 `json:"product_id"`
			}
			if err := json.Unmarshal(e.Data, &d); err != nil || e.Seq != uint64(k+1) || seen[d.ProductID] {
				t.Fatalf("node %d: event %d of the feed: seq %d, product %d (%v), seen before %v", i+1, k, e.Seq, d.ProductID, err, seen[d.ProductID])
			}
			seen[d.ProductID] = true
		}
		if len(seen) != total {
			t.Errorf("node %d: the feed holds %d events, want %d", i+1, len(seen), total)
		}
	}
}
