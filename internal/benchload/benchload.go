// Package benchload drives the load of Shelf's benchmarks (BenchmarkStorefront,
// BenchmarkOrders, BenchmarkImport): a number of workers calling one function
// for a fixed time, the latencies and statuses they saw, and the small helpers
// their tables share. Only benchmarks import it.
package benchload

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Result is one phase of load.
type Result struct {
	Name     string
	Elapsed  time.Duration
	Lat      []time.Duration // of the 2xx answers, sorted
	Statuses map[int]int     // every answer's status
	Errors   int             // calls that got no answer
	Fatal    error           // the last call with no answer, or a 5xx other than 503
}

// Rate is the 2xx answers per second.
func (r Result) Rate() float64 { return float64(len(r.Lat)) / r.Elapsed.Seconds() }

// P is the q-th percentile latency of the 2xx answers.
func (r Result) P(q int) time.Duration {
	if len(r.Lat) == 0 {
		return 0
	}
	return r.Lat[min(len(r.Lat)-1, len(r.Lat)*q/100)]
}

// StatusesExcept lists the statuses other than the expected ones, with their
// counts ("409 x3, 503 x1"), or "none".
func (r Result) StatusesExcept(expected ...int) string {
	var parts []string
	for _, s := range slices.Sorted(func(yield func(int) bool) {
		for s := range r.Statuses {
			if !yield(s) {
				return
			}
		}
	}) {
		if !slices.Contains(expected, s) {
			parts = append(parts, fmt.Sprintf("%d x%d", s, r.Statuses[s]))
		}
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

// Run calls fn from workers goroutines, first for warmup (not measured), then
// for d, and collects what they saw. fn returns the answer's HTTP status (200
// for a successful call that is not HTTP) or an error when there was no
// answer. Each worker has its own random source, seeded with seed and the
// worker's number.
func Run(name string, workers int, warmup, d time.Duration, seed uint64, fn func(*rand.Rand) (int, error)) Result {
	res := Result{Name: name, Statuses: map[int]int{}}
	var mu sync.Mutex
	var wg sync.WaitGroup
	begin := time.Now().Add(warmup)
	end := begin.Add(d)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(w), seed))
			var lat []time.Duration
			statuses := map[int]int{}
			errs := 0
			var fatal error
			for {
				t0 := time.Now()
				if !t0.Before(end) {
					break
				}
				status, err := fn(r)
				el := time.Since(t0)
				if t0.Before(begin) {
					continue // warming up
				}
				switch {
				case err != nil:
					errs++
					fatal = err
					continue
				case status >= 200 && status < 300:
					lat = append(lat, el)
				case status >= 500 && status != http.StatusServiceUnavailable:
					fatal = fmt.Errorf("status %d", status)
				}
				statuses[status]++
			}
			mu.Lock()
			defer mu.Unlock()
			res.Lat = append(res.Lat, lat...)
			for s, n := range statuses {
				res.Statuses[s] += n
			}
			res.Errors += errs
			if fatal != nil {
				res.Fatal = fatal
			}
		}()
	}
	wg.Wait()
	res.Elapsed = time.Since(begin)
	slices.Sort(res.Lat)
	return res
}

// Phase is one shape of load for Interleave.
type Phase struct {
	Name string
	Fn   func(*rand.Rand) (int, error)
}

// Interleave measures phases that are to be compared with each other: the
// phases take turns, rounds times, each for d/rounds, with the same seeds in
// a round, and each phase's turns are merged into its Result. So a change in
// the machine's load or in what the database has cached in the meantime
// (the first phase over random rows warms the buffer pool for the next)
// falls on every phase alike instead of on whichever ran last.
func Interleave(workers, rounds int, d time.Duration, seed uint64, phases ...Phase) []Result {
	out := make([]Result, len(phases))
	for i, p := range phases {
		out[i] = Result{Name: p.Name, Statuses: map[int]int{}}
	}
	turn := d / time.Duration(rounds)
	for r := range rounds {
		for i, p := range phases {
			res := Run(p.Name, workers, 0, turn, seed+uint64(r), p.Fn)
			o := &out[i]
			o.Elapsed += res.Elapsed
			o.Lat = append(o.Lat, res.Lat...)
			for s, n := range res.Statuses {
				o.Statuses[s] += n
			}
			o.Errors += res.Errors
			if res.Fatal != nil {
				o.Fatal = res.Fatal
			}
		}
	}
	for i := range out {
		slices.Sort(out[i].Lat)
	}
	return out
}

// Ms is d in milliseconds, for tables.
func Ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// EnvInt reads a positive integer setting of a benchmark, or def.
func EnvInt(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil && n > 0 {
		return n
	}
	return def
}

// SummaryRow is one line of the summary table that `make bench` writes to
// docs/benchmarks/README.md: a path, the raw bound measured in the same run,
// and the conditions.
type SummaryRow struct {
	Path      string  // what a user does, e.g. "product page, random, uncached"
	Rate      float64 // per second
	Bound     string  // the raw work that bounds it
	BoundRate float64
	Unit      string        // "req/s", "orders/s", "rows/s"
	P50, P99  time.Duration // of Path; 0 when not measured per request
	Dataset   string        // "1,000,000 products"
	Pool      int           // the service's connection pool
	BufPool   int64         // innodb_buffer_pool_size in bytes
}

// Record appends rows to the file named by SHELF_BENCH_SUMMARY (tab
// separated, one row a line, with the time and the load average), for the
// summary table; without
// it, nothing is written.
func Record(rows ...SummaryRow) error {
	path := os.Getenv("SHELF_BENCH_SUMMARY")
	if path == "" {
		return nil
	}
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	now := time.Now().UTC().Format("2006-01-02 15:04 MST")
	load := LoadAverage()
	for _, r := range rows {
		fmt.Fprintf(f, "%s\t%.0f\t%s\t%.0f\t%s\t%.2f\t%.2f\t%s\t%d\t%d\t%s\t%s\n", r.Path, r.Rate, r.Bound, r.BoundRate, r.Unit,
			Ms(r.P50), Ms(r.P99), r.Dataset, r.Pool, r.BufPool, now, load)
	}
	return f.Close()
}

// LoadAverage is the machine's one-minute load average ("?" where
// /proc/loadavg is not): it says how much else ran beside a benchmark.
func LoadAverage() string {
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		if f := strings.Fields(string(b)); len(f) > 0 {
			return f[0]
		}
	}
	return "?"
}

// BufferPool is the server's innodb_buffer_pool_size (0 when unreadable).
func BufferPool(ctx context.Context, db *sql.DB) int64 {
	var n int64
	_ = db.QueryRowContext(ctx, "SELECT @@innodb_buffer_pool_size").Scan(&n)
	return n
}

// Count writes n with thousands separators, for tables.
func Count(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// WriteDoc writes a benchmark's page (docs/benchmarks/NAME.md): the text the
// run generated, then what the page held from its heading keep on (the
// hand-written readings and the earlier runs, which a new run must not lose).
func WriteDoc(path string, generated []byte, keep string) error {
	doc := append([]byte{}, generated...)
	if old, err := os.ReadFile(path); err == nil {
		if i := bytes.Index(old, []byte("\n"+keep)); i >= 0 {
			doc = append(doc, old[i:]...)
		}
	}
	return os.WriteFile(path, doc, 0o644)
}
