package orders_test

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shelfcommerce/shelf/handlers"
	"github.com/shelfcommerce/shelf/internal/benchload"
	"github.com/shelfcommerce/shelf/internal/dbtest"
	"github.com/shelfcommerce/shelf/internal/orders/orderstest"
	"github.com/shelfcommerce/shelf/internal/store"
)

// BenchmarkOrders measures what a storefront sees: orders/s and latency of
// POST /v1/orders through the real router on a loopback httptest server,
// with 32 concurrent buyers, (a) spread over 10,000 SKUs and (b) all on one
// hot SKU, next to the limit measured in the same run: a bare database/sql
// loop of the guarded UPDATE + one INSERT, committed, at the same
// concurrency. It checks that nothing was oversold and prints a table, also
// written to docs/benchmarks/orders.md. `make bench` runs it (-benchtime 1x);
// SHELF_BENCH_SECONDS (default 10) sets each phase's length and
// SHELF_BENCH_POOL (default 8, the service's default) the server's pool.
func BenchmarkOrders(b *testing.B) {
	const (
		buyers    = 32
		skus      = 10000
		spreadQty = 1_000_000
		hotQty    = 100_000_000
	)
	seconds := benchload.EnvInt("SHELF_BENCH_SECONDS", 10)
	pool := benchload.EnvInt("SHELF_BENCH_POOL", 8)
	phase := time.Duration(seconds) * time.Second
	ctx := context.Background()

	d := dbtest.New(b)
	products := orderstest.Simple("B", skus, 1999, spreadQty)
	products = append(products, orderstest.Simple("HOT", 1, 2999, hotQty)...)
	products = append(products, orderstest.Simple("RAW", skus, 1999, spreadQty)...)
	products = append(products, orderstest.Simple("RAWHOT", 1, 2999, hotQty)...)
	seeded, err := orderstest.Seed(ctx, d.Store, products...)
	if err != nil {
		b.Fatal(err)
	}
	st, err := store.Open(ctx, d.DSN, store.PoolConfig{MaxOpen: pool, MaxIdle: pool, MaxLifetime: 5 * time.Minute})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	srv := httptest.NewServer(handlers.New(handlers.Config{
		Store: st, Logger: slog.New(slog.NewJSONHandler(io.Discard, nil)),
	}))
	defer srv.Close()
	client := &http.Client{Transport: &http.Transport{MaxIdleConns: buyers * 2, MaxIdleConnsPerHost: buyers * 2}}

	var seq atomic.Int64
	httpOrder := func(pick func(r *rand.Rand) string) func(r *rand.Rand) (int, error) {
		return func(r *rand.Rand) (int, error) {
			n := seq.Add(1)
			return orderstest.PostOrder(ctx, client, srv.URL, "bench-"+strconv.FormatInt(n, 10),
				fmt.Sprintf("buyer%d@example.com", n%1000), pick(r))
		}
	}
	raw, err := sql.Open("mysql", mustNormalize(d.DSN))
	if err != nil {
		b.Fatal(err)
	}
	defer raw.Close()
	raw.SetMaxOpenConns(buyers)
	raw.SetMaxIdleConns(buyers)
	rawOrder := func(pick func(r *rand.Rand) string) func(r *rand.Rand) (int, error) {
		return func(r *rand.Rand) (int, error) {
			sku := pick(r)
			vid := seeded.VariantID[sku]
			tx, err := raw.BeginTx(ctx, nil)
			if err != nil {
				return 0, err
			}
			res, err := tx.ExecContext(ctx, "UPDATE inventory SET on_hand = on_hand - 1 WHERE variant_id = ? AND on_hand >= 1", vid)
			if err == nil {
				if n, _ := res.RowsAffected(); n != 1 {
					err = fmt.Errorf("%s sold out", sku)
				}
			}
			if err == nil {
				_, err = tx.ExecContext(ctx, "INSERT INTO stock_movements (variant_id, sku, delta, on_hand_after, reason, created_at) VALUES (?, ?, -1, 0, 'bench', ?)",
					vid, sku, time.Now().UTC())
			}
			if err != nil {
				_ = tx.Rollback()
				return 0, err
			}
			return 201, tx.Commit()
		}
	}
	spread := func(prefix string) func(r *rand.Rand) string {
		return func(r *rand.Rand) string { return prefix + "-" + strconv.Itoa(r.IntN(skus)) }
	}
	hot := func(sku string) func(*rand.Rand) string { return func(*rand.Rand) string { return sku } }

	// The bare loop and the orders it bounds take turns, 4 rounds of a
	// quarter phase each (benchload.Interleave), so that the load of the
	// shared machine, which drifts within seconds, falls on both alike;
	// each warms up for half a second first. SKUs are drawn from a
	// time-seeded source, so runs do not replay one sequence of rows.
	const rounds = 4
	warmup, seed := 500*time.Millisecond, uint64(time.Now().UnixNano())
	pair := func(phases ...benchload.Phase) []benchload.Result {
		for _, p := range phases {
			benchload.Run(p.Name, buyers, 0, warmup, seed, p.Fn)
		}
		return benchload.Interleave(buyers, rounds, phase, seed, phases...)
	}
	spreadPair := pair(
		benchload.Phase{Name: "bare SQL loop, 10,000 SKUs", Fn: rawOrder(spread("RAW"))},
		benchload.Phase{Name: "POST /v1/orders, 10,000 SKUs (a)", Fn: httpOrder(spread("B"))})
	hotPair := pair(
		benchload.Phase{Name: "bare SQL loop, 1 hot SKU", Fn: rawOrder(hot("RAWHOT-0"))},
		benchload.Phase{Name: "POST /v1/orders, 1 hot SKU (b)", Fn: httpOrder(hot("HOT-0"))})
	results := append(spreadPair, hotPair...)

	// Nothing oversold: for every SKU, stock + units in orders = initial,
	// and the ledger agrees.
	var bad int
	if err := d.DB.QueryRowContext(ctx, `
		SELECT COUNT(*) FROM (
		  SELECT v.sku, i.on_hand,
		         COALESCE((SELECT SUM(l.quantity) FROM order_lines l WHERE l.variant_id = v.id), 0) AS sold,
		         COALESCE((SELECT SUM(m.delta) FROM stock_movements m WHERE m.variant_id = v.id), 0) AS ledger
		  FROM variants v JOIN inventory i ON i.variant_id = v.id
		  WHERE v.sku LIKE 'B-%' OR v.sku = 'HOT-0') x
		WHERE on_hand < 0 OR on_hand + sold <> IF(sku = 'HOT-0', ?, ?) OR ledger <> -sold`, hotQty, spreadQty).Scan(&bad); err != nil {
		b.Fatal(err)
	}
	if bad != 0 {
		b.Fatalf("%d SKUs oversold or out of step with their ledger", bad)
	}

	a, hotHTTP := results[1], results[3]
	var t strings.Builder
	fmt.Fprintf(&t, "| %-34s | %8s | %8s | %8s | %8s | %s |\n", "32 concurrent buyers", "orders/s", "p50 ms", "p99 ms", "errors", "non-2xx")
	fmt.Fprintf(&t, "|%s|%s|%s|%s|%s|%s|\n", strings.Repeat("-", 36), strings.Repeat("-", 10), strings.Repeat("-", 10), strings.Repeat("-", 10), strings.Repeat("-", 10), strings.Repeat("-", 9))
	for _, r := range results {
		fmt.Fprintf(&t, "| %-34s | %8.0f | %8.2f | %8.2f | %8d | %s |\n", r.Name, r.Rate(), benchload.Ms(r.P(50)), benchload.Ms(r.P(99)), r.Errors, r.StatusesExcept(http.StatusCreated))
	}
	fmt.Fprintf(&t, "\n(a) is %.0f%% of the bare loop over 10,000 SKUs (goal >= 30%%, and >= 1,500 orders/s); "+
		"(b) is %.0f%% of (a) (goal >= 40%%). Nothing oversold; stock + sold = initial and the ledger agrees for every SKU.\n",
		100*a.Rate()/results[0].Rate(), 100*hotHTTP.Rate()/a.Rate())
	fmt.Fprintf(&t, "\n%s phases (in %d turns, alternating with the bare loop), server pool %d connections, bare loop pool %d, GOMAXPROCS %d, %s UTC, load average %s.\n",
		phase, rounds, pool, buyers, runtime.GOMAXPROCS(0), time.Now().UTC().Format("2006-01-02 15:04"), benchload.LoadAverage())
	fmt.Println()
	fmt.Print(t.String())
	b.ReportMetric(a.Rate(), "orders/s(a)")
	b.ReportMetric(hotHTTP.Rate(), "orders/s(b)")
	b.ReportMetric(benchload.Ms(a.P(99)), "p99-benchload.Ms(a)")
	b.ReportMetric(benchload.Ms(hotHTTP.P(99)), "p99-benchload.Ms(b)")
	for _, r := range results {
		if r.Fatal != nil {
			b.Fatalf("%s: %v", r.Name, r.Fatal)
		}
	}
	writeReport(b, t.String())
	buf, ds := benchload.BufferPool(ctx, d.DB), benchload.Count(skus)+" SKUs"
	if err := benchload.Record(
		benchload.SummaryRow{Path: "POST /v1/orders, spread over the SKUs", Rate: a.Rate(), Bound: "bare UPDATE + INSERT loop",
			BoundRate: results[0].Rate(), Unit: "orders/s", P50: a.P(50), P99: a.P(99), Dataset: ds, Pool: pool, BufPool: buf},
		benchload.SummaryRow{Path: "POST /v1/orders, 1 hot SKU", Rate: hotHTTP.Rate(), Bound: "bare loop, 1 hot SKU",
			BoundRate: results[2].Rate(), Unit: "orders/s", P50: hotHTTP.P(50), P99: hotHTTP.P(99), Dataset: ds, Pool: pool, BufPool: buf},
	); err != nil {
		b.Fatal(err)
	}
}

func writeReport(b *testing.B, table string) {
	path := filepath.Join("..", "..", "docs", "benchmarks", "orders.md")
	var doc bytes.Buffer
	doc.WriteString("# Orders benchmark\n\n")
	doc.WriteString("Written by `make bench` (`BenchmarkOrders` in internal/orders/bench_test.go). Each order is a\n")
	doc.WriteString("`POST /v1/orders` of one line through the real router and middleware on a loopback httptest\n")
	doc.WriteString("server, with a fresh Idempotency-Key (probed without waiting before the order, written with the\n")
	doc.WriteString("response as the last INSERT of the order's transaction). The bare loop is the limit: `UPDATE ... SET\n")
	doc.WriteString("on_hand = on_hand - 1 WHERE ... AND on_hand >= 1` + one INSERT, committed, over database/sql at the\n")
	doc.WriteString("same concurrency, taking turns with the orders it bounds (4 turns each, so that the shared\n")
	doc.WriteString("machine's drifting load falls on both alike). The load generator, the server and MariaDB share the\n")
	doc.WriteString("machine's 2 cores, so read every absolute figure as noisy (±15% or worse).\n\n")
	doc.WriteString(table)
	doc.WriteString("\n## Where the time goes\n\n")
	doc.WriteString("Statements, round trips and commits per order:\n\n")
	doc.WriteString("| path | statements | round trips | commits |\n|---|---:|---:|---:|\n")
	doc.WriteString("| bare loop: START TRANSACTION, UPDATE, INSERT, COMMIT | 4 | 4 | 1 |\n")
	doc.WriteString("| POST /v1/orders, one line, new key | 9 | 6 | 1 |\n\n")
	doc.WriteString("A one-line order with a new Idempotency-Key: one autocommit SELECT (the key's record FOR UPDATE\n")
	doc.WriteString("NOWAIT, UNION ALL the variants by SKU; a running order's uncommitted key makes it fail at once, a\n")
	doc.WriteString("409), then START TRANSACTION, the guarded UPDATE (strict, so a match also means \"not sold out\";\n")
	doc.WriteString("it sets the level through LAST_INSERT_ID(expr), so its OK packet reports the level left), the\n")
	doc.WriteString("order INSERT, then in one round trip (store.Tx.Defer) the lines INSERT, the ledger INSERT, the\n")
	doc.WriteString("outbox INSERT (plain rows, each level the one the UPDATE reported) and the key's INSERT with the\n")
	doc.WriteString("sealed response, and COMMIT. The lookup, the UPDATE and the order INSERT run as server-side\n")
	doc.WriteString("prepared statements (the lookup built at run time too, up to store.FewRows SKUs), the four queued\n")
	doc.WriteString("INSERTs as one text query. Each further line adds one UPDATE; a sell-out adds one UPDATE and\n")
	doc.WriteString("the listing sync; a shortage one SELECT and, after the rollback, the INSERT storing\n")
	doc.WriteString("the 409. The machine is CPU-bound here (MariaDB, the server and the load generator on 2 cores), so\n")
	doc.WriteString("the ratio tracks the statements and what each costs (an order writes 5 tables and about 15 index\n")
	doc.WriteString("entries, the bare loop 1 table and 3), and the absolute figures track whatever else the machine is\n")
	doc.WriteString("running.\n")
	// The hand-written sections after the generated ones are kept.
	if err := benchload.WriteDoc(path, doc.Bytes(), "## Earlier runs"); err != nil {
		b.Logf("write %s: %v", path, err)
	}
}

func mustNormalize(dsn string) string {
	n, err := store.NormalizeDSN(dsn)
	if err != nil {
		panic(err)
	}
	return n
}
