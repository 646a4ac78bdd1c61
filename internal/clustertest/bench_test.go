//go:build cluster

package clustertest

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"net/http"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shelfcommerce/shelf/internal/benchload"
	"github.com/shelfcommerce/shelf/internal/orders/orderstest"
	"github.com/shelfcommerce/shelf/internal/store"
)

// BenchmarkCluster measures what scaling out buys on this machine: orders/s
// and p99 for 32 buyers over 10,000 SKUs through (a) one instance on one
// server, (b) two instances on that server, (c) three instances on the
// 3-node Galera cluster writing to node 1 and reading from their own node,
// (d) three instances each writing to its own node; and the listing's
// req/s through (a) and (c). Next to them, in the same run, the bare SQL
// of an order (the guarded UPDATE + one INSERT, committed) on the single
// server and on Galera node 1, and a bare listing SELECT. The single server
// is a private mariadbd with the Galera nodes' InnoDB settings, so the
// comparison is of topologies, not of configurations. Nothing may be
// oversold; the table is written to docs/benchmarks/cluster.md. Run it with
//
//	make bench-cluster        (SHELF_BENCH_SECONDS per phase, default 10)
func BenchmarkCluster(b *testing.B) {
	const (
		buyers  = 32
		skus    = 10000
		initial = 1_000_000
	)
	phase := time.Duration(benchload.EnvInt("SHELF_BENCH_SECONDS", 10)) * time.Second
	warmup, rseed := time.Second, uint64(time.Now().UnixNano())
	ctx := context.Background()

	m := startMariaDB(b)
	single := withDB(m.Server, migratedDB(b, m.Server))
	name := migratedDB(b, galera[0])
	nodes := make([]string, 3)
	for i := range nodes {
		nodes[i] = withDB(galera[i], name)
		caughtUp(b, nodes[i])
	}
	for _, dsn := range []string{single, nodes[0]} {
		seed(b, dsn, orderstest.Simple("b", skus, 1999, initial)...)
		seed(b, dsn, orderstest.Simple("raw", skus, 1999, initial)...)
	}

	var seq atomic.Int64
	order := func(base func() string) func(*rand.Rand) (int, error) {
		return func(r *rand.Rand) (int, error) {
			n := seq.Add(1)
			res, err := placeOrder(ctx, base(), "bench-"+strconv.FormatInt(n, 10), fmt.Sprintf("b%d@example.com", n%1000),
				"b-"+strconv.Itoa(r.IntN(skus)), 1)
			return res.Status, err
		}
	}
	listing := func(base string) func(*rand.Rand) (int, error) {
		return func(r *rand.Rand) (int, error) {
			u := fmt.Sprintf("%s/v1/products?sort=price&min_price=%d&limit=24", base, 10+r.IntN(10))
			res, err := call(ctx, http.MethodGet, u, "")
			return res.Status, err
		}
	}
	fixed := func(u string) func() string { return func() string { return u } }

	var results []benchload.Result
	run := func(name string, fn func(*rand.Rand) (int, error)) benchload.Result {
		r := benchload.Run(name, buyers, warmup, phase, rseed, fn)
		results = append(results, r)
		return r
	}
	env := []string{"SHELF_DB_MAX_OPEN=16", "SHELF_DB_MAX_IDLE=16"}

	run("bare SQL order, single server", rawOrder(b, single, skus))
	run("bare SQL order, Galera node 1", rawOrder(b, nodes[0], skus))
	a1 := startShelf(b, "a-1", single, "", env...)
	oa := run("(a) 1 instance, 1 server", order(fixed(a1.URL)))
	la := run("(a) listing, 1 instance", listing(a1.URL))
	run("bare SQL listing, single server", rawListing(b, single))
	b2 := startShelf(b, "b-2", single, "", env...)
	ob := run("(b) 2 instances, 1 server", order(fixed(newProxy(b, a1, b2).URL)))

	var sw, mw []*instance
	for i := range 3 {
		sw = append(sw, startShelf(b, fmt.Sprintf("c-%d", i+1), nodes[0], nodes[i], env...))
	}
	oc := run("(c) 3 instances, Galera, single writer", order(fixed(newProxy(b, sw...).URL)))
	lc := run("(c) listing, reads from local nodes", listing(newProxy(b, sw...).URL))
	run("bare SQL listing, Galera node 2", rawListing(b, nodes[1]))
	for i := range 3 {
		mw = append(mw, startShelf(b, fmt.Sprintf("d-%d", i+1), nodes[i], "", env...))
	}
	od := run("(d) 3 instances, Galera, multi-writer", order(fixed(newProxy(b, mw...).URL)))

	for _, dsn := range []string{single, nodes[0]} {
		var bad int
		if err := openStore(b, dsn).DB.QueryRowContext(ctx, `
			SELECT COUNT(*) FROM variants v JOIN inventory i ON i.variant_id = v.id
			WHERE v.sku LIKE 'b-%' AND (i.on_hand < 0 OR i.on_hand +
			  COALESCE((SELECT SUM(l.quantity) FROM order_lines l WHERE l.variant_id = v.id), 0) <> ?)`, initial).Scan(&bad); err != nil {
			b.Fatal(err)
		}
		if bad != 0 {
			b.Fatalf("%d SKUs oversold or out of step with their orders", bad)
		}
	}

	var t strings.Builder
	fmt.Fprintf(&t, "| 32 concurrent clients | req/s | p50 ms | p99 ms | vs (a) | 5xx | no answer | non-2xx |\n")
	fmt.Fprintf(&t, "|---|---:|---:|---:|---:|---:|---:|---|\n")
	for _, r := range results {
		vs := "-"
		switch {
		case strings.Contains(r.Name, "listing") && !strings.HasPrefix(r.Name, "bare"):
			vs = fmt.Sprintf("%.2f", r.Rate()/la.Rate())
		case !strings.HasPrefix(r.Name, "bare"):
			vs = fmt.Sprintf("%.2f", r.Rate()/oa.Rate())
		}
		fivexx := 0
		for s, n := range r.Statuses {
			if s >= 500 {
				fivexx += n
			}
		}
		fmt.Fprintf(&t, "| %s | %.0f | %.1f | %.1f | %s | %d | %d | %s |\n", r.Name, r.Rate(),
			benchload.Ms(r.P(50)), benchload.Ms(r.P(99)), vs, fivexx, r.Errors, r.StatusesExcept(http.StatusOK, http.StatusCreated))
	}
	fmt.Fprintf(&t, "\nOrders: (b) %.2fx, (c) %.2fx, (d) %.2fx of (a). Listing: (c) %.2fx of (a). Nothing oversold on either database.\n",
		ob.Rate()/oa.Rate(), oc.Rate()/oa.Rate(), od.Rate()/oa.Rate(), lc.Rate()/la.Rate())
	fmt.Fprintf(&t, "\n%s phases after a %s warm-up, instance pools of 16, GOMAXPROCS %d, %s.\n",
		phase, warmup, runtime.GOMAXPROCS(0), time.Now().UTC().Format("2006-01-02 15:04 MST"))
	fmt.Println()
	fmt.Print(t.String())
	for _, r := range []benchload.Result{oa, ob, oc, od} {
		b.ReportMetric(r.Rate(), "orders/s"+r.Name[:3])
	}
	writeTable(b, t.String())
}

func rawOrder(b *testing.B, dsn string, skus int) func(*rand.Rand) (int, error) {
	ids := map[string]uint64{}
	raw := rawDB(b, dsn)
	rows, err := raw.Query("SELECT sku, id FROM variants WHERE sku LIKE 'raw-%'")
	if err != nil {
		b.Fatal(err)
	}
	for rows.Next() {
		var sku string
		var id uint64
		if err := rows.Scan(&sku, &id); err != nil {
			b.Fatal(err)
		}
		ids[sku] = id
	}
	rows.Close()
	return func(r *rand.Rand) (int, error) {
		sku := "raw-" + strconv.Itoa(r.IntN(skus))
		return rawTx(raw, ids[sku], sku)
	}
}

// rawTx is one order's stock work in bare SQL; a Galera certification
// failure is counted like the service would answer it, as a 503.
func rawTx(raw *sql.DB, vid uint64, sku string) (int, error) {
	tx, err := raw.Begin()
	if err != nil {
		return 0, err
	}
	_, err = tx.Exec("UPDATE inventory SET on_hand = on_hand - 1 WHERE variant_id = ? AND on_hand >= 1", vid)
	if err == nil {
		_, err = tx.Exec("INSERT INTO stock_movements (variant_id, sku, delta, on_hand_after, reason, created_at) VALUES (?, ?, -1, 0, 'bench', ?)",
			vid, sku, time.Now().UTC())
	}
	if err == nil {
		err = tx.Commit()
	} else {
		_ = tx.Rollback()
	}
	if store.IsRetryable(err) {
		return http.StatusServiceUnavailable, nil
	}
	if err != nil {
		return 0, err
	}
	return http.StatusCreated, nil
}

func rawListing(b *testing.B, dsn string) func(*rand.Rand) (int, error) {
	raw := rawDB(b, dsn)
	return func(r *rand.Rand) (int, error) {
		rows, err := raw.Query(`SELECT product_id, slug, title, brand, price_min, currency, in_stock FROM product_listing
			WHERE category_id = 0 AND price_min >= ? ORDER BY price_min, product_id LIMIT 25`, (10+r.IntN(10))*100)
		if err != nil {
			return 0, err
		}
		defer rows.Close()
		for rows.Next() {
		}
		return http.StatusOK, rows.Err()
	}
}

func rawDB(b *testing.B, dsn string) *sql.DB {
	n, err := store.NormalizeDSN(dsn)
	if err != nil {
		b.Fatal(err)
	}
	raw, err := sql.Open("mysql", n)
	if err != nil {
		b.Fatal(err)
	}
	raw.SetMaxOpenConns(32)
	raw.SetMaxIdleConns(32)
	b.Cleanup(func() { raw.Close() })
	return raw
}

func writeTable(b *testing.B, table string) {
	var doc strings.Builder
	doc.WriteString("# Scale-out benchmark\n\n")
	doc.WriteString("Written by `make bench-cluster` (`BenchmarkCluster` in internal/clustertest/bench_test.go): real\n")
	doc.WriteString("`shelf serve` processes, 32 concurrent clients, one-line orders with fresh Idempotency-Keys over\n")
	doc.WriteString("10,000 SKUs, and a price-sorted listing page. The single server is a private mariadbd with the same\n")
	doc.WriteString("InnoDB settings as the Galera nodes (192 MB buffer pool, `innodb_flush_log_at_trx_commit=2`);\n")
	doc.WriteString("the cluster is scripts/ensure-galera.sh's three nodes on loopback. \"bare SQL\" rows are the same\n")
	doc.WriteString("work without Shelf, in the same run: the limit each topology sets.\n\n")
	doc.WriteString("Everything (load driver, proxies, instances, three database nodes) shares one 2-core machine:\n")
	doc.WriteString("read the figures as noisy, and the Galera rows as what replication costs on one box, not as what\n")
	doc.WriteString("three machines give.\n\n")
	doc.WriteString(table)
	path := filepath.Join(repoRoot, "docs", "benchmarks", "cluster.md")
	// A hand-written "## Notes" section (the conditions of the recorded run)
	// survives a re-run.
	if err := benchload.WriteDoc(path, []byte(doc.String()), "## Notes"); err != nil {
		b.Logf("write %s: %v", path, err)
	}
}
