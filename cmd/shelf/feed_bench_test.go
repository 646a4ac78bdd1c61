package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shelfcommerce/shelf/handlers"
	"github.com/shelfcommerce/shelf/internal/benchload"
	"github.com/shelfcommerce/shelf/internal/catalog"
	"github.com/shelfcommerce/shelf/internal/dbtest"
	"github.com/shelfcommerce/shelf/internal/events"
	"github.com/shelfcommerce/shelf/internal/importer"
	"github.com/shelfcommerce/shelf/internal/orders"
	"github.com/shelfcommerce/shelf/internal/orders/orderstest"
)

// BenchmarkFeed measures the change feed in one run, against a real
// `shelf serve` process (instance A) while this process writes to the same
// database as another instance would:
//
//	(a) SHELF_BENCH_SUBSCRIBERS (2,000) SSE streams on A, one stock change
//	    every 10 ms for SHELF_BENCH_FEED_SECONDS (30): commit to delivery
//	    p50/p99 over every (event, stream), A's memory per stream, drops;
//	    and commit to A's cached product page showing the change;
//	(b) orders/s and import rows/s with the outbox and with it switched off;
//	(c) a 100,000-row import with one stream attached: events/s delivered.
//
// It prints a table and writes docs/benchmarks/feed.md.
func BenchmarkFeed(b *testing.B) {
	phases := os.Getenv("SHELF_BENCH_FEED_PHASES") // which of a, b, c to run: all when unset
	if phases == "" {
		phases = "abc"
	}
	ctx := context.Background()
	d := dbtest.New(b)
	seeded, err := orderstest.Seed(ctx, d.Store, orderstest.Simple("f", 1000, 1999, 1_000_000)...)
	if err != nil {
		b.Fatal(err)
	}
	f := &feedBench{b: b, ctx: ctx, d: d, subscribers: benchload.EnvInt("SHELF_BENCH_SUBSCRIBERS", 2000)}
	f.variantID = seeded.VariantID
	for s := range seeded.VariantID {
		f.skus = append(f.skus, s)
	}
	slices.Sort(f.skus)
	// The streams all come from this one address, where 2,000 browsers
	// would come from 2,000: the per-address connection cap is lifted.
	f.a = startInstance(b, d.DSN, "SHELF_DETAIL_CACHE_TTL=1h", "SHELF_MAX_CONNS_PER_IP=0")
	load := [2]float64{loadAverage(), loadAverage()}
	note := func() {
		l := loadAverage()
		load = [2]float64{min(load[0], l), max(load[1], l)}
	}
	if strings.Contains(phases, "a") {
		f.fanOut(benchload.EnvInt("SHELF_BENCH_FEED_SECONDS", 30))
		note()
		f.visible(200)
		note()
	}
	if strings.Contains(phases, "b") {
		f.outboxCost(time.Duration(benchload.EnvInt("SHELF_BENCH_SECONDS", 10)) * time.Second)
		note()
	}
	if strings.Contains(phases, "c") {
		f.bigImport(benchload.EnvInt("SHELF_BENCH_IMPORT_ROWS", 100000))
		note()
	}
	table := f.report.String()
	fmt.Println()
	fmt.Print(table)
	if phases == "abc" {
		writeFeedReport(b, table, f.subscribers, load)
	}
}

// feedBench is one run of BenchmarkFeed: instance A and what is written.
type feedBench struct {
	b           *testing.B
	ctx         context.Context
	d           *dbtest.DB
	a           *instance
	skus        []string
	variantID   map[string]uint64
	subscribers int
	report      strings.Builder
}

// fanOut is (a): f.subscribers streams on A, one stock change every 10 ms.
func (f *feedBench) fanOut(seconds int) {
	b, ctx, d, a, subscribers := f.b, f.ctx, f.d, f.a, f.subscribers
	rssBefore := rssOf(a.cmd.Process.Pid)
	head, err := events.Head(ctx, d.Store)
	if err != nil {
		b.Fatal(err)
	}
	changes := seconds * 100
	slots := changes + 1000
	recv := make([][]int64, subscribers) // per stream: receive time (ns) by seq-head-1
	var ended atomic.Int64
	var opened sync.WaitGroup
	streamCtx, closeStreams := context.WithCancel(ctx)
	transport := &http.Transport{MaxIdleConnsPerHost: subscribers, MaxConnsPerHost: 0}
	client := &http.Client{Transport: transport}
	var done sync.WaitGroup
	for i := range subscribers {
		recv[i] = make([]int64, slots)
		opened.Add(1)
		done.Add(1)
		go func() {
			defer done.Done()
			req, _ := http.NewRequestWithContext(streamCtx, "GET", a.base+"/v1/events?types=stock.changed&last_event_id="+strconv.FormatUint(head, 10), nil)
			res, err := client.Do(req)
			opened.Done()
			if err != nil {
				ended.Add(1)
				return
			}
			defer res.Body.Close()
			rd := bufio.NewReaderSize(res.Body, 4096)
			for {
				line, err := rd.ReadSlice('\n')
				if err != nil {
					if streamCtx.Err() == nil {
						ended.Add(1)
					}
					return
				}
				if len(line) > 4 && string(line[:4]) == "id: " {
					n, _ := strconv.ParseUint(strings.TrimSpace(string(line[4:])), 10, 64)
					if k := int(n - head - 1); n > head && k < slots {
						recv[i][k] = time.Now().UnixNano()
					}
				}
			}
		}()
	}
	opened.Wait()
	time.Sleep(2 * time.Second)
	runtime.GC()
	rssOpen := rssOf(a.cmd.Process.Pid)

	// One change starts every 10 ms, each in its own goroutine, so a
	// commit that takes longer (an fsync) does not slow the pace.
	tick := time.NewTicker(10 * time.Millisecond)
	r := rand.New(rand.NewPCG(1, uint64(time.Now().UnixNano())))
	var writers sync.WaitGroup
	var failed atomic.Int64
	var returnedMu sync.Mutex
	returned := map[string]int64{} // "sku/on_hand" after the change -> when SetStock returned (ns)
	began := time.Now()
	for range changes {
		<-tick.C
		delta := int64(r.IntN(5) + 1)
		sku := f.skus[r.IntN(len(f.skus))]
		writers.Go(func() {
			level, err := catalog.SetStock(ctx, d.Store, catalog.StockChange{SKU: sku, Delta: delta, Reason: "bench"})
			if err != nil {
				failed.Add(1)
				return
			}
			at := time.Now().UnixNano()
			returnedMu.Lock()
			returned[level.SKU+"/"+strconv.FormatInt(level.OnHand, 10)] = at
			returnedMu.Unlock()
		})
	}
	writers.Wait()
	took := time.Since(began)
	tick.Stop()
	if failed.Load() > 0 {
		b.Fatalf("%d stock changes failed", failed.Load())
	}
	written := changes
	rssLoaded := rssOf(a.cmd.Process.Pid)
	time.Sleep(3 * time.Second) // let the last events arrive
	closeStreams()
	done.Wait()
	occurred, level := occurredAt(b, d, head, written)
	var lat, fromReturn []time.Duration
	drops := 0
	for i := range recv {
		for k := range written {
			if recv[i][k] == 0 {
				drops++
				continue
			}
			lat = append(lat, time.Duration(recv[i][k]-occurred[k]))
			if at, ok := returned[level[k]]; ok {
				fromReturn = append(fromReturn, time.Duration(recv[i][k]-at))
			}
		}
	}
	slices.Sort(lat)
	slices.Sort(fromReturn)
	at := func(lat []time.Duration, q int) time.Duration {
		if len(lat) == 0 {
			return 0
		}
		return lat[min(len(lat)-1, len(lat)*q/100)]
	}
	pctOf := func(lat []time.Duration, q int) float64 { return benchload.Ms(at(lat, q)) }
	pct := func(q int) float64 { return pctOf(lat, q) }
	if len(lat) > 0 {
		f.record(benchload.SummaryRow{Path: "change feed: stock changes to SSE streams, commit to delivery",
			Rate: float64(len(lat)) / took.Seconds(), Unit: "deliveries/s", P50: at(lat, 50), P99: at(lat, 99),
			Dataset: fmt.Sprintf("%s streams, 100 changes/s", benchload.Count(subscribers))})
	}
	perStream := float64(rssOpen-rssBefore) / float64(subscribers) // KiB
	w := &f.report
	fmt.Fprintf(w, "### (a) %d streams, one stock change every 10 ms for %d s\n\n", subscribers, seconds)
	fmt.Fprintf(w, "| figure | value |\n|---|---|\n")
	fmt.Fprintf(w, "| stock changes committed | %d in %.1f s |\n", written, took.Seconds())
	fmt.Fprintf(w, "| deliveries (event x stream) | %d |\n", len(lat))
	fmt.Fprintf(w, "| commit to delivery p50 / p99 / max | %.1f / %.1f / %.1f ms |\n", pct(50), pct(99), pct(100))
	fmt.Fprintf(w, "| the same from the writing call's return (after its commit: a lower bound) | %.1f / %.1f / %.1f ms |\n",
		pctOf(fromReturn, 50), pctOf(fromReturn, 99), pctOf(fromReturn, 100))
	fmt.Fprintf(w, "| events missed by a stream (drops) | %d |\n", drops)
	fmt.Fprintf(w, "| streams cut off or failed | %d |\n", ended.Load())
	fmt.Fprintf(w, "| instance RSS: idle / %d streams open / under load | %.1f / %.1f / %.1f MiB |\n", subscribers,
		float64(rssBefore)/1024, float64(rssOpen)/1024, float64(rssLoaded)/1024)
	fmt.Fprintf(w, "| memory per open stream (RSS growth / streams) | %.1f KiB |\n\n", perStream)
	b.ReportMetric(pct(99), "p99-ms(a)")
	b.ReportMetric(float64(drops), "drops(a)")
}

// visible is commit (in this process) to "instance A's cached page shows
// it", n times.
func (f *feedBench) visible(n int) {
	b, a := f.b, f.a
	var vis []time.Duration
	slug := firstSlug(b, f.d)
	sku := skuOf(b, f.d, slug)
	for i := range n {
		want := int64(1000 + i)
		_ = a.available(b, slug) // the page is in A's cache
		if _, err := catalog.SetStock(f.ctx, f.d.Store, catalog.StockChange{SKU: sku, OnHand: &want, Reason: "bench"}); err != nil {
			b.Fatal(err)
		}
		committed := time.Now()
		for a.available(b, slug) != want {
			time.Sleep(time.Millisecond)
		}
		vis = append(vis, time.Since(committed))
	}
	slices.Sort(vis)
	fmt.Fprintf(&f.report, "Commit (here) to instance A's cached product page showing it, %d changes: p50 %.1f ms, p99 %.1f ms, max %.1f ms.\n\n",
		n, benchload.Ms(vis[n/2]), benchload.Ms(vis[n*99/100-1]), benchload.Ms(vis[n-1]))
	b.ReportMetric(benchload.Ms(vis[n*99/100-1]), "p99-ms(visible)")
}

// importRun imports products new products of 3 variants each and returns
// the rows/s.
func (f *feedBench) importRun(tag string, products int) float64 {
	start := time.Now()
	rd, err := importer.NewReader("csv", strings.NewReader(feedCSV(tag, products)), importer.Options{Currency: "USD"})
	if err != nil {
		f.b.Fatal(err)
	}
	rep, err := catalog.Import(f.ctx, f.d.Store, rd, catalog.ImportOptions{Actor: "bench"})
	if err != nil || rep.Created != products {
		f.b.Fatalf("import %s: %v %+v", tag, err, rep)
	}
	return float64(products*3) / time.Since(start).Seconds()
}

// outboxCost is (b): the same orders and imports with and without the outbox.
func (f *feedBench) outboxCost(phase time.Duration) {
	b, ctx := f.b, f.ctx
	svc := orders.NewService(f.d.Store, orders.Config{})
	var keyN atomic.Int64
	place := func(*rand.Rand) (int, error) {
		n := keyN.Add(1)
		_, err := svc.Place(ctx, orders.PlaceParams{Scope: "bench", Key: "k" + strconv.FormatInt(n, 10), Input: orders.PlaceInput{
			Email: "b@example.com", Lines: []orders.LineInput{{SKU: f.skus[int(n)%len(f.skus)], Quantity: 1}},
			ShippingAddress: orders.Address{Name: "B", Line1: "1 St", City: "X", Country: "US"}}})
		if err != nil {
			return 0, err
		}
		return 201, nil
	}
	w := &f.report
	fmt.Fprintf(w, "### (b) what the outbox costs writers (8 concurrent buyers; imports of 30,000 rows)\n\n")
	fmt.Fprintf(w, "| work | without events | with events | with / without |\n|---|---|---|---|\n")
	// The orders' turns interleave (eight each, with and without), and so
	// do the imports (off, on, on, off), so that the machine's drift and
	// what one run leaves to the database (purge, flushing, the tail of its
	// events) fall on both alike. The switch is set on every call: the
	// turns run one after another.
	withEvents := func(on bool) func(*rand.Rand) (int, error) {
		return func(r *rand.Rand) (int, error) {
			events.SwitchOffForBenchmark(!on)
			return place(r)
		}
	}
	// The raw SQL of the same choice: the bare stock loop (the guarded
	// UPDATE and a ledger INSERT, committed) with and without one more
	// INSERT of an events row like an order's (order.created and one
	// stock.changed), which the instance's sequencer then numbers as it
	// numbers Shelf's. It is the floor of what an outbox row costs a write.
	var rawN atomic.Int64
	rawLoop := func(withEvent bool) func(*rand.Rand) (int, error) {
		return func(*rand.Rand) (int, error) {
			n := rawN.Add(1)
			sku := f.skus[int(n)%len(f.skus)]
			vid, now := f.variantID[sku], time.Now().UTC()
			tx, err := f.d.DB.BeginTx(ctx, nil)
			if err != nil {
				return 0, err
			}
			_, err = tx.ExecContext(ctx, "UPDATE inventory SET on_hand = on_hand - 1 WHERE variant_id = ? AND on_hand >= 1", vid)
			if err == nil {
				_, err = tx.ExecContext(ctx, "INSERT INTO stock_movements (variant_id, sku, delta, on_hand_after, reason, created_at) VALUES (?, ?, -1, 0, 'bench', ?)",
					vid, sku, now)
			}
			if err == nil && withEvent {
				doc := string(events.Order(events.TypeOrderCreated, now, "ord_bench"+strconv.FormatInt(n, 10), strconv.FormatInt(n, 10), "pending").Data) +
					"\n" + string(events.StockChanged(now, 1, vid, sku, -1, 999).Data)
				_, err = tx.ExecContext(ctx, "INSERT INTO events (type, n, data, created_at) VALUES ('', 2, ?, ?)", doc, now)
			}
			if err != nil {
				_ = tx.Rollback()
				return 0, err
			}
			return 201, tx.Commit()
		}
	}
	res := benchload.Interleave(8, 8, phase, 1,
		benchload.Phase{Name: "orders off", Fn: withEvents(false)}, benchload.Phase{Name: "orders on", Fn: withEvents(true)},
		benchload.Phase{Name: "raw off", Fn: rawLoop(false)}, benchload.Phase{Name: "raw on", Fn: rawLoop(true)})
	ordersOff, ordersOn, rawOff, rawOn := res[0].Rate(), res[1].Rate(), res[2].Rate(), res[3].Rate()
	// As a storefront places them: POST /v1/orders through the real
	// router (in this process, so the switch reaches it), 32 buyers.
	srv := httptest.NewServer(handlers.New(handlers.Config{Store: f.d.Store, Logger: slog.New(slog.DiscardHandler)}))
	defer srv.Close()
	client := &http.Client{Transport: &http.Transport{MaxIdleConns: 64, MaxIdleConnsPerHost: 64}}
	viaHTTP := func(on bool) func(*rand.Rand) (int, error) {
		return func(*rand.Rand) (int, error) {
			events.SwitchOffForBenchmark(!on)
			n := keyN.Add(1)
			return orderstest.PostOrder(ctx, client, srv.URL, "h"+strconv.FormatInt(n, 10), "b@example.com", f.skus[int(n)%len(f.skus)])
		}
	}
	hres := benchload.Interleave(32, 8, phase, 1,
		benchload.Phase{Name: "http off", Fn: viaHTTP(false)}, benchload.Phase{Name: "http on", Fn: viaHTTP(true)})
	for _, r := range hres {
		if bad := r.StatusesExcept(201); bad != "none" || r.Errors > 0 {
			b.Fatalf("%s: statuses other than 201: %s, %d errors", r.Name, bad, r.Errors)
		}
	}
	httpOff, httpOn := hres[0].Rate(), hres[1].Rate()
	var importOff, importOn float64
	for i, on := range []bool{false, true, true, false} {
		events.SwitchOffForBenchmark(!on)
		rate := f.importRun(fmt.Sprintf("outbox%d", i), 10000) / 2
		if on {
			importOn += rate
		} else {
			importOff += rate
		}
	}
	events.SwitchOffForBenchmark(false)
	fmt.Fprintf(w, "| orders/s (one line, in process, 8 buyers) | %.0f | %.0f | %.0f%% |\n", ordersOff, ordersOn, 100*ordersOn/ordersOff)
	fmt.Fprintf(w, "| orders/s (one line, POST /v1/orders, 32 buyers) | %.0f | %.0f | %.0f%% |\n", httpOff, httpOn, 100*httpOn/httpOff)
	fmt.Fprintf(w, "| raw SQL: UPDATE + ledger INSERT, without and with an events INSERT | %.0f | %.0f | %.0f%% |\n", rawOff, rawOn, 100*rawOn/rawOff)
	fmt.Fprintf(w, "| import rows/s (new products, 3 variants each) | %.0f | %.0f | %.0f%% |\n\n", importOff, importOn, 100*importOn/importOff)
	const offBound = "the same with the outbox off"
	f.record(
		benchload.SummaryRow{Path: "orders with the outbox, in process (8 buyers)", Rate: ordersOn, Bound: offBound, BoundRate: ordersOff, Unit: "orders/s", Dataset: "1,000 SKUs"},
		benchload.SummaryRow{Path: "POST /v1/orders with the outbox (32 buyers)", Rate: httpOn, Bound: offBound, BoundRate: httpOff, Unit: "orders/s", Dataset: "1,000 SKUs"},
		benchload.SummaryRow{Path: "import with the outbox (new products)", Rate: importOn, Bound: offBound, BoundRate: importOff, Unit: "rows/s", Dataset: "imports of 30,000 rows"})
	b.ReportMetric(100*ordersOn/ordersOff, "orders-%")
	b.ReportMetric(100*rawOn/rawOff, "raw-%")
	b.ReportMetric(100*httpOn/httpOff, "http-orders-%")
	b.ReportMetric(100*importOn/importOff, "import-%")
}

// bigImport is (c): an import of rows rows with one stream on A attached.
func (f *feedBench) bigImport(rows int) {
	b, ctx, d := f.b, f.ctx, f.d
	// Start after every earlier event has been numbered.
	for pending := 1; pending > 0; time.Sleep(50 * time.Millisecond) {
		if err := d.DB.QueryRow("SELECT COUNT(*) FROM events WHERE seq = 0").Scan(&pending); err != nil {
			b.Fatal(err)
		}
	}
	h2, _ := events.Head(ctx, d.Store)
	var got, first, last, cuts atomic.Int64
	bigCtx, stopBig := context.WithCancel(ctx)
	go func() {
		pos := h2
		for bigCtx.Err() == nil { // a stream cut off for falling behind resumes from its last id
			req, _ := http.NewRequestWithContext(bigCtx, "GET", f.a.base+"/v1/events?last_event_id="+strconv.FormatUint(pos, 10), nil)
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				continue
			}
			rd := bufio.NewReaderSize(res.Body, 64<<10)
			for {
				line, err := rd.ReadSlice('\n')
				if err != nil {
					break
				}
				if len(line) > 4 && string(line[:4]) == "id: " {
					now := time.Now().UnixNano()
					first.CompareAndSwap(0, now)
					last.Store(now)
					got.Add(1)
					pos, _ = strconv.ParseUint(strings.TrimSpace(string(line[4:])), 10, 64)
				}
			}
			res.Body.Close()
			cuts.Add(1)
		}
	}()
	products := rows / 3
	start := time.Now()
	rate := f.importRun("big", products)
	want := int64(products * 7) // product.updated + 3 price.changed + 3 stock.changed
	for deadline := time.Now().Add(5 * time.Minute); got.Load() < want && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
	}
	stopBig()
	spread := time.Duration(last.Load() - start.UnixNano())
	fmt.Fprintf(&f.report, "### (c) import of %d rows (%d products) with one stream attached\n\n", products*3, products)
	fmt.Fprintf(&f.report, "Import: %.0f rows/s. Stream: %d of %d events delivered, the last %.1f s after the import began: %.0f events/s; the stream was cut off %d times for falling behind and resumed by id.\n",
		rate, got.Load(), want, spread.Seconds(), float64(got.Load())/spread.Seconds(), max(cuts.Load()-1, 0))
	b.ReportMetric(float64(got.Load())/spread.Seconds(), "events/s(c)")
	f.record(benchload.SummaryRow{Path: "change feed: events to one stream during an import", Rate: float64(got.Load()) / spread.Seconds(),
		Unit: "events/s", Dataset: fmt.Sprintf("import of %s rows at %.0f rows/s", benchload.Count(products*3), rate)})
}

// record adds rows to make bench's summary, with the buffer pool.
func (f *feedBench) record(rows ...benchload.SummaryRow) {
	buf := benchload.BufferPool(f.ctx, f.d.DB)
	for i := range rows {
		rows[i].BufPool = buf
	}
	if err := benchload.Record(rows...); err != nil {
		f.b.Fatal(err)
	}
}

// loadAverage is the machine's one-minute load average (Linux).
func loadAverage() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	l, _ := strconv.ParseFloat(strings.Fields(string(b))[0], 64)
	return l
}

// occurredAt reads each sequenced event's occurred_at (the writing
// transaction's clock, taken before its last statements and its commit)
// and "sku/available", by seq-head-1.
func occurredAt(b *testing.B, d *dbtest.DB, head uint64, n int) ([]int64, []string) {
	evs, err := events.Read(context.Background(), d.Store, head, n)
	if err != nil {
		b.Fatal(err)
	}
	out, level := make([]int64, n), make([]string, n)
	for _, ev := range evs {
		var e struct {
			OccurredAt time.Time `json:"occurred_at"`
			SKU        string    `json:"sku"`
			Available  int64     `json:"available"`
		}
		_ = json.Unmarshal(ev.Data, &e)
		out[ev.Seq-head-1] = e.OccurredAt.UnixNano()
		level[ev.Seq-head-1] = e.SKU + "/" + strconv.FormatInt(e.Available, 10)
	}
	return out, level
}

func firstSlug(b *testing.B, d *dbtest.DB) string {
	var s string
	if err := d.DB.QueryRow("SELECT slug FROM products ORDER BY id LIMIT 1").Scan(&s); err != nil {
		b.Fatal(err)
	}
	return s
}

func skuOf(b *testing.B, d *dbtest.DB, slug string) string {
	var s string
	if err := d.DB.QueryRow("SELECT v.sku FROM variants v JOIN products p ON p.id = v.product_id WHERE p.slug = ? ORDER BY v.position, v.id LIMIT 1", slug).Scan(&s); err != nil {
		b.Fatal(err)
	}
	return s
}

// feedCSV is an import of n new products of 3 variants each, all with stock.
func feedCSV(tag string, n int) string {
	var sb strings.Builder
	sb.WriteString("handle,title,sku,price,stock,option1_name,option1_value\n")
	for p := range n {
		for v, size := range []string{"S", "M", "L"} {
			title, opt := "", ""
			if v == 0 {
				title, opt = "Product "+tag+strconv.Itoa(p), "Size"
			}
			fmt.Fprintf(&sb, "%s-%d,%s,%s-%d-%s,%d.99,%d,%s,%s\n", tag, p, title, tag, p, size, 10+p%7, 5+v, opt, size)
		}
	}
	return sb.String()
}

// rssOf is a process's resident memory in KiB (Linux).
func rssOf(pid int) int64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0
	}
	for l := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			n, _ := strconv.ParseInt(strings.Fields(v)[0], 10, 64)
			return n
		}
	}
	return 0
}

func writeFeedReport(b *testing.B, table string, subscribers int, load [2]float64) {
	var doc strings.Builder
	doc.WriteString("# Change feed benchmark\n\n")
	doc.WriteString("Written by `make bench` (`BenchmarkFeed` in cmd/shelf/feed_bench_test.go); alone (SHELF_BENCH_FEED_PHASES=a, b or c runs one part and writes nothing):\n\n")
	doc.WriteString("```sh\nGOTOOLCHAIN=go1.27.3 go test -run '^$' -bench BenchmarkFeed -benchtime 1x -timeout 30m ./cmd/shelf/\n```\n\n")
	doc.WriteString("Instance A is a real `shelf serve` process (the test binary re-executed) with its default\n")
	doc.WriteString("settings (25 ms poll) and a one-hour page cache; the benchmark process writes to the same database\n")
	doc.WriteString("as a second instance would, so every figure includes crossing instances through the database (a\n")
	doc.WriteString("write made on A itself wakes A's hub within 10 ms). Commit time is the event's `occurred_at`, taken in\n")
	doc.WriteString("the writing transaction before its last statements and its commit, so latencies are overestimates;\n")
	doc.WriteString("(a) also gives them from the writing call's return, which comes after the commit (an underestimate). The\n")
	doc.WriteString(strconv.Itoa(subscribers) + " stream clients run in the benchmark process, on the same 2 cores as A and MariaDB.\n\n")
	doc.WriteString(table)
	doc.WriteString(fmt.Sprintf("\nGOMAXPROCS %d, %s; one-minute load average between %.2f and %.2f during the run.\n",
		runtime.GOMAXPROCS(0), time.Now().UTC().Format("2006-01-02 15:04 MST"), load[0], load[1]))
	// The hand-written reading of the figures, at the end, is kept.
	path := filepath.Join("..", "..", "docs", "benchmarks", "feed.md")
	if err := benchload.WriteDoc(path, []byte(doc.String()), "## Reading these figures"); err != nil {
		b.Logf("write feed.md: %v", err)
	}
}
