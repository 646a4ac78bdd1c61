package handlers_test

import (
	"bytes"
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shelfcommerce/shelf/handlers"
	"github.com/shelfcommerce/shelf/internal/auth"
	"github.com/shelfcommerce/shelf/internal/dbtest"
	"github.com/shelfcommerce/shelf/internal/orders/orderstest"
	"github.com/shelfcommerce/shelf/internal/store"
)

// hangMargin is how much longer than its database deadline a request may
// take before it counts as hanging.
const hangMargin = 4 * time.Second

// outageEnv is a Shelf on a private mariadbd, under load from storefront
// readers and retrying buyers, recording every answer.
type outageEnv struct {
	t       *testing.T
	db      *dbtest.Server
	st      *store.Store
	srv     *httptest.Server
	timeout time.Duration

	mu       sync.Mutex
	statuses map[int]int
	bad      []string // answers a client must never get
	placed   map[string]bool
	refused  atomic.Int64
	log      lockedBuffer // errors the server logged
}

func (e *outageEnv) record(method, path string, res *http.Response, err error, took time.Duration) {
	e.mu.Lock()
	defer e.mu.Unlock()
	// A request may wait for the database for the deadline, then release
	// its claim and write its answer; past a generous margin it is hanging
	// (the freeze below lasts longer than this).
	if limit := e.timeout + hangMargin; took > limit {
		e.bad = append(e.bad, fmt.Sprintf("%s %s took %v, past the %v deadline (started %s)", method, path, took.Round(time.Millisecond), e.timeout, time.Now().Add(-took).UTC().Format("15:04:05.000")))
	}
	if err != nil {
		e.bad = append(e.bad, fmt.Sprintf("%s %s: %v", method, path, err))
		return
	}
	e.statuses[res.StatusCode]++
	switch {
	case res.StatusCode >= 500 && res.StatusCode != 503:
		e.bad = append(e.bad, fmt.Sprintf("%s %s answered %d", method, path, res.StatusCode))
	case res.StatusCode == 503 && (res.Header.Get("Retry-After") == "" ||
		res.Header.Get("Content-Type") != "application/problem+json"):
		e.bad = append(e.bad, fmt.Sprintf("%s %s: 503 without Retry-After or problem+json", method, path))
	}
}

func (e *outageEnv) do(method, path string, hdr map[string]string, body string) (int, string) {
	req, _ := http.NewRequest(method, e.srv.URL+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	start := time.Now()
	res, err := e.srv.Client().Do(req)
	var b []byte
	if err == nil {
		b, _ = io.ReadAll(res.Body)
		res.Body.Close()
	}
	e.record(method, path, res, err, time.Since(start))
	if err != nil {
		return 0, ""
	}
	return res.StatusCode, string(b)
}

// buy places one order, retrying its Idempotency-Key until it gets a
// definitive answer, as a client following Retry-After would.
func (e *outageEnv) buy(ctx context.Context, key string) {
	body := `{"email":"b@example.com","lines":[{"sku":"OUT-0","quantity":1}],` +
		`"shipping_address":{"name":"B","line1":"1 Main St","city":"Springfield","country":"US"}}`
	// Once the load stops, the key is still finished: its order may exist.
	for try := 0; ctx.Err() == nil || try < 400; try++ {
		status, got := e.do("POST", "/v1/orders", map[string]string{"Idempotency-Key": key}, body)
		switch {
		case status == 201:
			e.mu.Lock()
			e.placed[key] = true
			e.mu.Unlock()
			return
		case status == 409 && strings.Contains(got, "idempotency-key-in-use"):
			// A claim left by a request the outage cut off: it lapses.
		case status == 409 || status == 422:
			e.refused.Add(1)
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	e.t.Errorf("key %s never got an answer", key)
}

// waitFor polls path until it answers want, for at most limit.
func (e *outageEnv) waitFor(path string, want int, limit time.Duration) time.Duration {
	e.t.Helper()
	start := time.Now()
	for time.Since(start) < limit {
		if status, _ := e.do("GET", path, nil, ""); status == want {
			return time.Since(start)
		}
		time.Sleep(50 * time.Millisecond)
	}
	e.t.Fatalf("%s did not answer %d within %v", path, want, limit)
	return 0
}

// TestDatabaseOutages kills the database (kill -9) and freezes it
// (SIGSTOP) under storefront reads and retrying buyers: no client gets a
// 500 or waits past the per-request deadline; storefront and orders answer
// 503 with Retry-After; /readyz turns 503 and /healthz stays 200; the same
// process serves again by itself once the database is back; and through it
// all no order is lost, doubled or oversold.
func TestDatabaseOutages(t *testing.T) {
	t.Parallel()
	priv := dbtest.StartServer(t)
	ctx := context.Background()
	st := priv.NewStore(ctx, "shelf_outage", 6)
	const stock = 100000
	if _, err := orderstest.Seed(ctx, st, orderstest.Simple("OUT", 3, 1500, stock)...); err != nil {
		t.Fatal(err)
	}
	mig, err := store.NewMigrator(st.DB, nil)
	if err != nil {
		t.Fatal(err)
	}
	e := &outageEnv{t: t, db: priv, st: st, timeout: time.Second, statuses: map[int]int{}, placed: map[string]bool{}}
	e.srv = httptest.NewServer(handlers.New(handlers.Config{
		Logger: slog.New(slog.NewTextHandler(&e.log, &slog.HandlerOptions{Level: slog.LevelError})), Store: st,
		SchemaVersion: store.LatestVersion(mig), DBTimeout: e.timeout,
	}))
	t.Cleanup(e.srv.Close)
	e.srv.Client().Timeout = 30 * time.Second
	e.waitFor("/readyz", 200, 10*time.Second)
	tooManyConnections(t, e, priv)

	load, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for r := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			paths := []string{"/v1/products?limit=5", "/v1/products?sort=price&in_stock=true", "/v1/categories"}
			for load.Err() == nil {
				e.do("GET", paths[r], nil, "")
				time.Sleep(10 * time.Millisecond)
			}
		}()
	}
	for b := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; load.Err() == nil; n++ {
				e.buy(load, fmt.Sprintf("buyer-%d-%d", b, n))
			}
		}()
	}

	time.Sleep(500 * time.Millisecond)
	priv.Kill()
	t.Logf("killed: /readyz 503 after %v", e.waitFor("/readyz", 503, 10*time.Second))
	if status, _ := e.do("GET", "/healthz", nil, ""); status != 200 {
		t.Errorf("/healthz answered %d while the database was down", status)
	}
	e.waitFor("/v1/products?limit=5", 503, 10*time.Second)
	time.Sleep(time.Second)
	priv.Start()
	t.Logf("restarted: /readyz 200 after %v", e.waitFor("/readyz", 200, 30*time.Second))
	e.waitFor("/v1/products?limit=5", 200, 30*time.Second)

	priv.Freeze()
	t.Logf("frozen: /readyz 503 after %v", e.waitFor("/readyz", 503, 10*time.Second))
	if status, _ := e.do("GET", "/healthz", nil, ""); status != 200 {
		t.Errorf("/healthz answered %d while the database was frozen", status)
	}
	time.Sleep(hangMargin + time.Second) // longer than any answer may take
	priv.Thaw()
	t.Logf("thawed: /readyz 200 after %v", e.waitFor("/readyz", 200, 30*time.Second))
	e.waitFor("/v1/products?limit=5", 200, 30*time.Second)
	time.Sleep(300 * time.Millisecond)
	stop()
	wg.Wait()

	e.mu.Lock()
	defer e.mu.Unlock()
	t.Logf("answers by status: %v; %d orders placed", e.statuses, len(e.placed))
	for _, b := range e.bad[:min(len(e.bad), 20)] {
		t.Error(b)
	}
	if len(e.bad) > 0 {
		t.Logf("server errors:\n%s", e.log.String())
	}
	if e.statuses[503] == 0 {
		t.Error("no request was answered 503: the outages were not seen")
	}
	if e.refused.Load() > 0 {
		t.Errorf("%d orders refused although stock was left", e.refused.Load())
	}
	var orders int
	if err := st.DB.QueryRowContext(ctx, "SELECT COUNT(*) FROM orders").Scan(&orders); err != nil {
		t.Fatal(err)
	}
	onHand, err := orderstest.OnHand(ctx, st, "OUT-0")
	if err != nil {
		t.Fatal(err)
	}
	if orders != len(e.placed) || onHand != stock-int64(orders) {
		t.Fatalf("%d orders in the database, %d answered 201, %d units left of %d: lost, doubled or oversold",
			orders, len(e.placed), onHand, stock)
	}
}

// Every error that means "the database is not there or refuses work" is a
// 503 problem with Retry-After on the storefront and on orders, never a
// 500: too many connections (1040), a server shutting down (1053), a killed
// connection (1927), a read-only server (1290), a Galera node that stays
// not ready past the retry budget (1047).
func TestDatabaseRefusalsAre503(t *testing.T) {
	t.Parallel()
	d, f := dbtest.NewFaulty(t)
	d.Store.Policy = store.RetryPolicy{Budget: 50 * time.Millisecond, MinAttempts: 2, Base: time.Millisecond, Cap: 5 * time.Millisecond}
	if _, err := orderstest.Seed(context.Background(), d.Store, orderstest.Simple("REF", 2, 700, 5)...); err != nil {
		t.Fatal(err)
	}
	e := handlers.New(handlers.Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Store: d.Store})
	order := `{"email":"r@example.com","lines":[{"sku":"REF-0","quantity":1}],` +
		`"shipping_address":{"name":"R","line1":"1 Main St","city":"Springfield","country":"US"}}`
	for _, code := range []uint16{1040, 1053, 1927, 1290, 1047} {
		for _, tc := range []struct{ method, path, match string }{
			{"GET", "/v1/products?limit=3", "product_listing"},
			{"POST", "/v1/orders", "INSERT INTO idempotency_keys"},
		} {
			f.Set(tc.match, code, -1)
			req := httptest.NewRequest(tc.method, tc.path, strings.NewReader(order))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Idempotency-Key", fmt.Sprintf("ref-%d", code))
			rec := do(e, req)
			if rec.Code != 503 || rec.Header().Get("Retry-After") == "" || f.Hits() == 0 {
				t.Errorf("error %d on %s %s: %d (Retry-After %q): %s", code, tc.method, tc.path,
					rec.Code, rec.Header().Get("Retry-After"), rec.Body)
			} else if p := decodeProblem(t, rec); p["type"] != "/problems/service-unavailable" {
				t.Errorf("error %d: problem type %v", code, p["type"])
			}
		}
	}
	f.Set("", 0, 0)
	if rec := do(e, httptest.NewRequest("GET", "/v1/products?limit=3", nil)); rec.Code != 200 {
		t.Fatalf("after the faults: %d %s", rec.Code, rec.Body)
	}
}

// tooManyConnections fills the server's connection slots while Shelf's pool
// holds open connections: /readyz must see that new connections are refused
// (1040), and be ready again once slots are free.
func tooManyConnections(t *testing.T, e *outageEnv, priv *dbtest.Server) {
	t.Helper()
	hog, err := sql.Open("mysql", priv.DSN)
	if err != nil {
		t.Fatal(err)
	}
	defer hog.Close()
	if _, err := hog.Exec("SET GLOBAL max_connections = 20"); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var held []*sql.Conn
	for len(held) < 200 {
		c, err := hog.Conn(ctx)
		if err != nil {
			break // refused: the server is full
		}
		if err := c.PingContext(ctx); err != nil {
			c.Close()
			break
		}
		held = append(held, c)
	}
	e.waitFor("/readyz", 503, 10*time.Second)
	for _, c := range held {
		c.Raw(func(any) error { return driver.ErrBadConn }) // close, do not pool
		c.Close()
	}
	e.waitFor("/readyz", 200, 10*time.Second)
}

// Imports and exports run past SHELF_DB_TIMEOUT by design (here a
// statement of each takes twice the deadline), and still answer a
// database that fails before their first byte with a 503 problem and
// Retry-After: an export that cannot open its snapshot, and a
// one-transaction (chunked) import that loses a lock race, which nothing
// runs again, and writes nothing. A database that does not answer at all
// is a 503 within the deadline, for both.
func TestImportsAndExportsOutliveTheRequestDeadlineAndFailAs503(t *testing.T) {
	t.Parallel()
	d, f := dbtest.NewFaulty(t)
	key := adminKey(t, d, "sync", auth.ScopeCatalogRead, auth.ScopeImportsWrite, auth.ScopeInventoryWrite)
	const deadline = 300 * time.Millisecond
	e := handlers.New(handlers.Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Store: d.Store,
		DBTimeout: deadline})
	file := shopifyFile(t, "candles_products_export.csv")
	f.Slow("products (", 2*deadline) // the INSERT of the new products
	start := time.Now()
	r := runImport(t, e, key, "format=shopify", file)
	if r.Created == 0 || !r.Complete || time.Since(start) < 2*deadline {
		t.Fatalf("import with a statement slower than the request deadline: %+v after %v", r, time.Since(start))
	}
	f.Slow("SELECT COUNT(*) FROM products", 2*deadline)
	start = time.Now()
	rec := send(t, e, key, "GET", "/v1/admin/exports?format=ndjson", "")
	if lines := strings.Count(rec.Body.String(), "\n"); rec.Code != 200 || lines != r.Created || time.Since(start) < 2*deadline {
		t.Fatalf("export with a statement slower than the request deadline: %d, %d products of %d after %v: %.300s", rec.Code, lines, r.Created, time.Since(start), rec.Body)
	}
	f.Slow("", 0)

	// Nothing answers: the ping at the start, under the deadline.
	f.Slow("", time.Hour)
	for _, req := range []*http.Request{
		httptest.NewRequest("GET", "/v1/admin/exports?format=csv", nil),
		httptest.NewRequest("POST", "/v1/admin/imports?format=shopify", bytes.NewReader(file)),
	} {
		req.Header.Set("Authorization", "Bearer "+key)
		req.Header.Set("Content-Type", "text/csv")
		start := time.Now()
		rec := do(e, req)
		if took := time.Since(start); rec.Code != 503 || rec.Header().Get("Retry-After") == "" || took > deadline+hangMargin {
			t.Errorf("%s %s on a database that does not answer: %d after %v", req.Method, req.URL.Path, rec.Code, took.Round(time.Millisecond))
		}
	}
	f.Slow("", 0)

	f.Set("SELECT COUNT(*) FROM products", 1040, -1)
	rec = send(t, e, key, "GET", "/v1/admin/exports?format=shopify", "")
	if rec.Code != 503 || rec.Header().Get("Retry-After") == "" || rec.Header().Get("Content-Disposition") != "" ||
		rec.Header().Get("Content-Type") != "application/problem+json" {
		t.Errorf("export on a refusing database: %d, Retry-After %q, Content-Disposition %q, Content-Type %q: %.300s",
			rec.Code, rec.Header().Get("Retry-After"), rec.Header().Get("Content-Disposition"), rec.Header().Get("Content-Type"), rec.Body)
	}

	f.Set("", 0, 0)
	before := count(t, d, "SELECT COUNT(*) FROM products")
	f.Set("INTO products", 1213, -1)
	req := httptest.NewRequest(http.MethodPost, "/v1/admin/imports?format=shopify", bytes.NewReader(shopifyFile(t, "pet-store_products_export.csv")))
	req.ContentLength = -1 // chunked: the whole import is one transaction
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "text/csv")
	rec = do(e, req)
	if rec.Code != 503 || rec.Header().Get("Retry-After") == "" || f.Hits() == 0 {
		t.Errorf("one-transaction import that lost a race: %d (Retry-After %q, %d faults): %.300s",
			rec.Code, rec.Header().Get("Retry-After"), f.Hits(), rec.Body)
	}
	f.Set("", 0, 0)
	if after := count(t, d, "SELECT COUNT(*) FROM products"); after != before {
		t.Errorf("the failed import left %d products, %d before", after, before)
	}
}

// The same refusals met by the product writer, of the admin API and of
// imports: a 503 to retry, never a 422 blaming the product or an import
// reported complete with every row failed.
func TestCatalogWriteRefusalsAre503(t *testing.T) {
	t.Parallel()
	d, f := dbtest.NewFaulty(t)
	d.Store.Policy = store.RetryPolicy{Budget: 50 * time.Millisecond, MinAttempts: 2, Base: time.Millisecond, Cap: 5 * time.Millisecond}
	key := adminKey(t, d, "w", auth.ScopeCatalogWrite, auth.ScopeImportsWrite, auth.ScopeInventoryWrite)
	e := handlers.New(handlers.Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Store: d.Store})
	file := shopifyFile(t, "candles_products_export.csv")
	for _, code := range []uint16{1290, 1836, 1317} {
		f.Set("INTO products", code, -1)
		rec := send(t, e, key, "PUT", "/v1/admin/products/tee", teeJSON)
		if rec.Code != 503 || rec.Header().Get("Retry-After") == "" {
			t.Errorf("error %d on PUT /v1/admin/products/tee: %d (Retry-After %q): %.300s", code, rec.Code, rec.Header().Get("Retry-After"), rec.Body)
		}
		f.Set("INTO products", code, -1)
		rec = postImport(t, e, key, "format=shopify", file)
		if rec.Code != 503 || rec.Header().Get("Retry-After") == "" {
			t.Errorf("error %d on POST /v1/admin/imports: %d (Retry-After %q): %.300s", code, rec.Code, rec.Header().Get("Retry-After"), rec.Body)
		}
	}
	f.Set("", 0, 0)
	if got := count(t, d, "SELECT COUNT(*) FROM products"); got != 0 {
		t.Errorf("%d products written by refused writes", got)
	}
}
