package handlers_test

import (
	"bufio"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/shelfcommerce/shelf/handlers"
	"github.com/shelfcommerce/shelf/internal/auth"
	"github.com/shelfcommerce/shelf/internal/version"
)

// scrape reads /metrics into series → value.
func scrape(t *testing.T, e http.Handler) map[string]float64 {
	t.Helper()
	rec := do(e, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != 200 {
		t.Fatalf("/metrics = %d", rec.Code)
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(rec.Body)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("bad metrics line %q", line)
		}
		out[line[:i]] = v
	}
	return out
}

// The business counters move when what they count happens. The counters
// are process-wide, so the test compares scrapes before and after.
func TestBusinessMetricsCountWhatHappened(t *testing.T) {
	e, d, _ := newServer(t, func(c *handlers.Config) { c.Storefront.DetailTTL = time.Minute })
	key := adminKey(t, d, "metrics", auth.ScopeImportsWrite)
	before := scrape(t, e)

	file := `{"handle":"metric-mug","title":"Mug","status":"active","variants":[{"sku":"MM-1","price":"9.00","stock":5},{"sku":"MM-2","price":"9.00","stock":5}]}
{"handle":"bad one!","title":"Bad","variants":[{"sku":"MM-3","price":"9.00"}]}
`
	runImport(t, e, key, "format=ndjson", []byte(file))
	runImport(t, e, key, "format=ndjson&dry_run=true", []byte(file)) // dry runs count nothing

	for range 2 {
		if rec := do(e, httptest.NewRequest("GET", "/v1/products/metric-mug", nil)); rec.Code != 200 {
			t.Fatalf("product page = %d %s", rec.Code, rec.Body)
		}
	}
	order := func(sku, qty, idem string) int {
		req := httptest.NewRequest("POST", "/v1/orders", strings.NewReader(
			`{"email":"ada@example.com","lines":[{"sku":"`+sku+`","quantity":`+qty+`}],"shipping_address":{"name":"Ada","line1":"1 Main St","city":"Springfield","country":"US"}}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Idempotency-Key", idem)
		return do(e, req).Code
	}
	if c := order("MM-1", "1", "m-1"); c != 201 {
		t.Fatalf("order = %d", c)
	}
	order("MM-1", "1", "m-1") // a retry: replayed
	if c := order("MM-2", "50", "m-2"); c != 409 {
		t.Fatalf("order over stock = %d", c)
	}
	behind, _, _ := newServer(t, func(c *handlers.Config) { c.SchemaVersion += 1 })
	do(behind, httptest.NewRequest("GET", "/readyz", nil))

	after := scrape(t, e)
	for series, min := range map[string]float64{
		`shelf_import_rows_total{outcome="created"}`:                       2,
		`shelf_import_rows_total{outcome="failed"}`:                        1,
		`shelf_orders_placed_total{outcome="placed"}`:                      1,
		`shelf_orders_placed_total{outcome="replayed"}`:                    1,
		`shelf_orders_placed_total{outcome="insufficient-stock"}`:          1,
		`shelf_cache_requests_total{cache="product_detail",result="hit"}`:  1,
		`shelf_cache_requests_total{cache="product_detail",result="miss"}`: 1,
		`shelf_unavailable_responses_total`:                                1,
	} {
		if got := after[series] - before[series]; got < min {
			t.Errorf("%s grew by %v, want at least %v", series, got, min)
		}
	}
	v := version.Get()
	build := `shelf_build_info{commit="` + v.Commit + `",goversion="` + v.GoVersion + `",version="` + v.Version + `"}`
	if after[build] != 1 {
		t.Errorf("/metrics lacks %s 1", build)
	}
	for _, s := range []string{"shelf_db_retries_total", "shelf_event_feed_lag_seconds", `shelf_webhook_deliveries_total{outcome="delivered"}`} {
		if _, ok := after[s]; !ok {
			t.Errorf("/metrics lacks %s", s)
		}
	}
}
