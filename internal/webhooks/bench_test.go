package webhooks

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shelfcommerce/shelf/internal/benchload"
	"github.com/shelfcommerce/shelf/internal/dbtest"
	"github.com/shelfcommerce/shelf/internal/store"
)

// BenchmarkWebhookBacklog measures how fast a backlog of events reaches one
// webhook: SHELF_BENCH_EVENTS (default 100,000) sequenced events, then one
// dispatcher (8 workers, signing, HTTP to a loopback receiver that answers
// 204), then two dispatchers on two pools, as two instances; next to the same
// database work in bare SQL, measured in the same run: the fan-out
// INSERT ... SELECT in batches of 1,000, and per delivery one claim
// transaction (SELECT ... FOR UPDATE SKIP LOCKED + UPDATE) and one record
// transaction (DELETE + log INSERT), at the same concurrency, with no HTTP.
// It prints a table, also written to docs/benchmarks/webhooks.md.
func BenchmarkWebhookBacklog(b *testing.B) {
	events := benchload.EnvInt("SHELF_BENCH_EVENTS", 100_000)
	ctx := context.Background()
	d := dbtest.New(b)
	var received atomic.Int64
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		received.Add(1)
		w.WriteHeader(http.StatusNoContent)
	}))
	defer rcv.Close()
	fillEvents(b, d, events)
	cfg := Config{AllowPrivate: true, Schedule: []time.Duration{time.Second}, Poll: 10 * time.Millisecond}

	type row struct {
		name string
		n    int
		took time.Duration
	}
	var rows []row
	for _, instances := range []int{1, 2} {
		reset(b, d)
		s := NewService(d.Store, cfg)
		if _, err := s.Register(ctx, Registration{URL: rcv.URL}); err != nil {
			b.Fatal(err)
		}
		// The webhook was registered after the events: start it before them.
		if _, err := d.DB.Exec("UPDATE webhooks SET from_seq = 0"); err != nil {
			b.Fatal(err)
		}
		received.Store(0)
		start := time.Now()
		runCtx, stop := context.WithCancel(ctx)
		var wg sync.WaitGroup
		for i := range instances {
			st := d.Store
			if i > 0 {
				other, err := store.Open(ctx, d.DSN, store.DefaultPool)
				if err != nil {
					b.Fatal(err)
				}
				defer other.Close()
				st = other
			}
			wg.Go(func() { NewDispatcher(st, cfg).Run(runCtx) })
		}
		for count(b, d, "SELECT COUNT(*) FROM webhook_deliveries") < events {
			time.Sleep(50 * time.Millisecond)
		}
		took := time.Since(start)
		stop()
		wg.Wait()
		if got := received.Load(); got != int64(events) {
			b.Errorf("%d instances: the receiver got %d requests for %d events", instances, got, events)
		}
		rows = append(rows, row{fmt.Sprintf("%d dispatcher(s), 8 workers each, HTTP + signing", instances), events, took})
	}

	reset(b, d)
	s := NewService(d.Store, cfg)
	if _, err := s.Register(ctx, Registration{URL: rcv.URL}); err != nil {
		b.Fatal(err)
	}
	_, _ = d.DB.Exec("UPDATE webhooks SET from_seq = 0")
	start := time.Now()
	bareFanOut(b, d.DB, events)
	fanned := time.Since(start)
	bareDeliver(b, d.DB, claimRounds*8)
	rows = append(rows, row{"bare SQL: fan-out only", events, fanned}, row{"bare SQL: fan-out, claim and record in batches of 32", events, time.Since(start)})

	rate := func(r row) float64 { return float64(r.n) / r.took.Seconds() }
	ds := fmt.Sprintf("a backlog of %s events, 1 webhook", benchload.Count(events))
	buf := benchload.BufferPool(ctx, d.DB)
	if err := benchload.Record(
		benchload.SummaryRow{Path: "webhook deliveries, 1 dispatcher (HTTP + signature)", Rate: rate(rows[0]),
			Bound: "bare SQL: fan-out, claim and record", BoundRate: rate(rows[3]), Unit: "deliveries/s", Dataset: ds, BufPool: buf},
		benchload.SummaryRow{Path: "webhook deliveries, 2 dispatchers (two instances)", Rate: rate(rows[1]),
			Bound: "bare SQL: fan-out, claim and record", BoundRate: rate(rows[3]), Unit: "deliveries/s", Dataset: ds, BufPool: buf},
	); err != nil {
		b.Fatal(err)
	}

	var t strings.Builder
	fmt.Fprintf(&t, "| %-52s | %8s | %8s | %12s |\n", "100,000-event backlog to one webhook", "events", "seconds", "deliveries/s")
	fmt.Fprintf(&t, "|%s|%s|%s|%s|\n", strings.Repeat("-", 54), strings.Repeat("-", 10), strings.Repeat("-", 10), strings.Repeat("-", 14))
	for _, r := range rows {
		fmt.Fprintf(&t, "| %-52s | %8d | %8.1f | %12.0f |\n", r.name, r.n, r.took.Seconds(), float64(r.n)/r.took.Seconds())
	}
	fmt.Fprintf(&t, "\nGOMAXPROCS %d, %s.\n", runtime.GOMAXPROCS(0), time.Now().UTC().Format("2006-01-02"))
	fmt.Print("\n" + t.String())
	writeDoc(b, t.String())
}

func fillEvents(b *testing.B, d *dbtest.DB, n int) {
	now := time.Now().UTC()
	args := make([]any, 0, 4*n)
	for i := 1; i <= n; i++ {
		args = append(args, i, "stock.changed",
			fmt.Sprintf(`{"type":"stock.changed","occurred_at":%q,"product_id":%d,"sku":"SKU-%d","available":%d}`, now.Format(time.RFC3339), i, i, i%50), now)
	}
	if _, err := store.InsertRows(context.Background(), d.DB, "INSERT INTO events (seq, type, data, created_at)", 4, args, ""); err != nil {
		b.Fatal(err)
	}
}

func reset(b *testing.B, d *dbtest.DB) {
	for _, q := range []string{"DELETE FROM webhooks", "DELETE FROM webhook_queue", "DELETE FROM webhook_deliveries", "UPDATE webhook_cursor SET seq = 0"} {
		if _, err := d.DB.Exec(q); err != nil {
			b.Fatal(err)
		}
	}
}

// bareFanOut is FanOut's statements, by hand.
func bareFanOut(b *testing.B, db *sql.DB, events int) {
	for after := 0; after < events; after += fanOutBatch {
		tx, err := db.Begin()
		if err != nil {
			b.Fatal(err)
		}
		now := time.Now().UTC()
		_ = tx.QueryRow("SELECT seq FROM webhook_cursor WHERE id = 1 FOR UPDATE").Scan(new(uint64))
		if _, err := tx.Exec(`INSERT INTO webhook_queue (webhook_id, event_seq, event_type, attempts, next_at, created_at)
			SELECT w.id, e.seq, e.type, 0, ?, ? FROM events e JOIN webhooks w ON e.seq > w.from_seq AND (w.events = '*' OR FIND_IN_SET(e.type, w.events) > 0)
			WHERE e.seq > ? AND e.seq <= ?`, now, now, after, after+fanOutBatch); err != nil {
			b.Fatal(err)
		}
		if _, err := tx.Exec("UPDATE webhook_cursor SET seq = ? WHERE id = 1", after+fanOutBatch); err != nil {
			b.Fatal(err)
		}
		if err := tx.Commit(); err != nil {
			b.Fatal(err)
		}
	}
}

// bareDeliver is the dispatcher's database work without HTTP: claim a
// batch (SELECT ... FOR UPDATE SKIP LOCKED + UPDATE, one transaction), read
// each event, record the batch (DELETE + log INSERT each, one transaction),
// in two goroutines, as the dispatcher's claimer and recorder overlap.
func bareDeliver(b *testing.B, db *sql.DB, batch int) {
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			for {
				claimed, err := bareClaim(db, batch)
				if err != nil {
					b.Error(err)
				}
				if len(claimed) == 0 {
					return
				}
				for _, c := range claimed {
					var body string
					if err := db.QueryRow("SELECT data FROM events WHERE seq = ?", c[2]).Scan(&body); err != nil {
						b.Error(err)
						return
					}
				}
				if err := bareRecord(db, claimed); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
}

func bareClaim(db *sql.DB, n int) ([][3]uint64, error) {
	tx, err := db.BeginTx(context.Background(), &sql.TxOptions{Isolation: sql.LevelReadCommitted})
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	now := time.Now().UTC()
	rows, err := tx.Query("SELECT id, webhook_id, event_seq FROM webhook_queue WHERE next_at <= ? ORDER BY next_at, id LIMIT ? FOR UPDATE SKIP LOCKED", now, n)
	if err != nil {
		return nil, err
	}
	var out [][3]uint64
	var ids []string
	for rows.Next() {
		var c [3]uint64
		if err := rows.Scan(&c[0], &c[1], &c[2]); err != nil {
			return nil, err
		}
		out = append(out, c)
		ids = append(ids, fmt.Sprint(c[0]))
	}
	if err := rows.Err(); err != nil || len(out) == 0 {
		return nil, err
	}
	if _, err := tx.Exec("UPDATE webhook_queue SET attempts = attempts + 1, next_at = ? WHERE id IN ("+strings.Join(ids, ",")+")", now.Add(time.Minute)); err != nil {
		return nil, err
	}
	return out, tx.Commit()
}

func bareRecord(db *sql.DB, claimed [][3]uint64) error {
	tx, err := db.Begin()
	if err != nil {
		return err
	}
	defer tx.Rollback()
	ids := make([]string, len(claimed))
	var values []string
	var args []any
	for i, c := range claimed {
		ids[i] = fmt.Sprint(c[0])
		values = append(values, "(?, ?, 'stock.changed', 1, 204, NULL, 1, NULL, ?)")
		args = append(args, c[1], c[2], time.Now().UTC())
	}
	if _, err := tx.Exec("DELETE FROM webhook_queue WHERE attempts = 1 AND id IN (" + strings.Join(ids, ",") + ")"); err != nil {
		return err
	}
	if _, err := tx.Exec(`INSERT INTO webhook_deliveries (webhook_id, event_seq, event_type, attempt, response_status, error, duration_ms, next_attempt_at, at)
		VALUES `+strings.Join(values, ","), args...); err != nil {
		return err
	}
	return tx.Commit()
}

func writeDoc(b *testing.B, table string) {
	_, file, _, _ := runtime.Caller(0)
	path := filepath.Join(filepath.Dir(file), "..", "..", "docs", "benchmarks", "webhooks.md")
	var doc bytes.Buffer
	doc.WriteString("# Webhooks benchmark\n\n")
	doc.WriteString("Written by `make bench` (`BenchmarkWebhookBacklog` in internal/webhooks/bench_test.go). A backlog\n")
	doc.WriteString("of sequenced events is delivered to one webhook whose receiver, on loopback, answers 204: each\n")
	doc.WriteString("claim takes 32 deliveries (SELECT ... FOR UPDATE SKIP LOCKED + UPDATE, one transaction), each is\n")
	doc.WriteString("signed and POSTed, and the outcomes are recorded in batches (one DELETE per attempt number + one\n")
	doc.WriteString("multi-row log INSERT, one transaction), while the fan-out queues the\n")
	doc.WriteString("events 1,000 per transaction. The bare SQL rows are the same statements over database/sql with no\n")
	doc.WriteString("HTTP and no signing, at the same concurrency: the database's share of the cost. Everything shares\n")
	doc.WriteString("the machine's 2 cores with MariaDB, so read every figure as noisy.\n\n")
	doc.WriteString(table)
	if err := benchload.WriteDoc(path, doc.Bytes(), "## Reading"); err != nil {
		b.Logf("write %s: %v", path, err)
	}
}
