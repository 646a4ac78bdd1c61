package handlers_test

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shelfcommerce/shelf/handlers"
	"github.com/shelfcommerce/shelf/internal/auth"
)

// seriesOf counts the request-metric series /metrics exposes.
func seriesOf(t *testing.T, e http.Handler) (series int, size int) {
	t.Helper()
	rec := do(e, httptest.NewRequest("GET", "/metrics", nil))
	for l := range strings.SplitSeq(rec.Body.String(), "\n") {
		if strings.HasPrefix(l, "shelf_http_requests_total{") {
			series++
		}
	}
	return series, rec.Body.Len()
}

func randomToken(r *rand.Rand, n int) string {
	const letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	b := make([]byte, n)
	for i := range b {
		b[i] = letters[r.IntN(len(letters))]
	}
	return string(b)
}

// Invented methods and paths must not add series to /metrics: the review
// grew it from 38 KB to 41 MB with 300 requests of 8 KB method names.
func TestMetricsDoNotGrowWithRandomMethodsAndPaths(t *testing.T) {
	e, _, _ := newServer(t)
	r := rand.New(rand.NewPCG(1, 2))
	send := func(n int) {
		for range n {
			method := randomToken(r, 1+r.IntN(64))
			switch r.IntN(3) {
			case 0:
				method = "GET"
			case 1:
				method = strings.ToUpper(method)
			}
			path := "/" + randomToken(r, 1+r.IntN(40))
			switch r.IntN(4) {
			case 0:
				path = "/v1/products/" + randomToken(r, 12) // a real route with a random parameter
			case 1:
				path = "/v1/" + randomToken(r, 6) + "/" + randomToken(r, 6)
			}
			do(e, httptest.NewRequest(method, path, nil))
		}
	}
	send(300)      // every label value a request can reach, at least once
	seriesOf(t, e) // and GET /metrics itself
	before, sizeBefore := seriesOf(t, e)
	send(2000)
	after, sizeAfter := seriesOf(t, e)
	if after != before {
		t.Fatalf("series grew from %d to %d with random methods and paths", before, after)
	}
	if sizeAfter > sizeBefore+sizeBefore/10 {
		t.Fatalf("/metrics grew from %d to %d bytes", sizeBefore, sizeAfter)
	}
	body := do(e, httptest.NewRequest("GET", "/metrics", nil)).Body.String()
	for _, want := range []string{`method="other"`, `route="unmatched"`, `route="/v1/products/:id_or_slug"`} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics has no series with %s", want)
		}
	}
}

func TestMetricsCanLeaveThePublicRouter(t *testing.T) {
	e, _, _ := newServer(t, func(c *handlers.Config) { c.MetricsElsewhere = true })
	if rec := do(e, httptest.NewRequest("GET", "/metrics", nil)); rec.Code != http.StatusNotFound {
		t.Fatalf("GET /metrics = %d with SHELF_METRICS_ADDR set, want 404 on the public listener", rec.Code)
	}
}

// fakeClock is the limiters' clock, moved by the test instead of sleeping.
type fakeClock struct{ t atomic.Int64 }

func newFakeClock() *fakeClock {
	c := &fakeClock{}
	c.t.Store(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	return c
}
func (c *fakeClock) now() time.Time          { return time.Unix(0, c.t.Load()) }
func (c *fakeClock) advance(d time.Duration) { c.t.Add(int64(d)) }

func placeFrom(e http.Handler, remote, xff, key string) *httptest.ResponseRecorder {
	req := httptest.NewRequest("POST", "/v1/orders", strings.NewReader(`{"email": "a@example.com", "lines": []}`))
	req.RemoteAddr = remote
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", strconv.FormatInt(rand.Int64(), 36))
	if xff != "" {
		req.Header.Set("X-Forwarded-For", xff)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	return do(e, req)
}

func TestAnonymousOrdersAreRateLimitedPerAddress(t *testing.T) {
	clock := newFakeClock()
	_, proxies, _ := net.ParseCIDR("10.0.0.0/8")
	e, d, _ := newServer(t, func(c *handlers.Config) {
		c.OrderRateLimit = 3
		c.Now = clock.now
		c.TrustedProxies = []*net.IPNet{proxies}
	})
	staff := adminKey(t, d, "pos", auth.ScopeOrdersWrite)
	for i := range 3 {
		if rec := placeFrom(e, "192.0.2.1:1000", "", ""); rec.Code == http.StatusTooManyRequests {
			t.Fatalf("order %d of 3 in a minute refused", i+1)
		}
	}
	rec := placeFrom(e, "192.0.2.1:1001", "", "")
	if rec.Code != http.StatusTooManyRequests {
		t.Fatalf("4th order in a minute: %d, want 429", rec.Code)
	}
	p := decodeProblem(t, rec)
	if p["type"] != "/problems/too-many-requests" {
		t.Fatalf("429 type %v", p["type"])
	}
	if ra, err := strconv.Atoi(rec.Header().Get("Retry-After")); err != nil || ra < 1 || ra > 60 {
		t.Fatalf("Retry-After %q, want 1 to 60 seconds", rec.Header().Get("Retry-After"))
	}
	// Another buyer, and staff with a key, are not held up by this one.
	if rec := placeFrom(e, "192.0.2.2:1000", "", ""); rec.Code == http.StatusTooManyRequests {
		t.Fatal("another address was refused")
	}
	if rec := placeFrom(e, "192.0.2.1:1002", "", staff); rec.Code == http.StatusTooManyRequests {
		t.Fatal("an order with an API key was rate limited")
	}
	// X-Forwarded-For counts only from a trusted proxy: a buyer cannot
	// dodge the limit by inventing addresses.
	if rec := placeFrom(e, "192.0.2.1:1003", "198.51.100.7", ""); rec.Code != http.StatusTooManyRequests {
		t.Fatalf("a forged X-Forwarded-For from an untrusted peer dodged the limit: %d", rec.Code)
	}
	for i := range 3 {
		if rec := placeFrom(e, "10.1.2.3:5000", "198.51.100.8", ""); rec.Code == http.StatusTooManyRequests {
			t.Fatalf("buyer behind the proxy refused at order %d", i+1)
		}
	}
	if rec := placeFrom(e, "10.1.2.3:5000", "198.51.100.8", ""); rec.Code != http.StatusTooManyRequests {
		t.Fatalf("buyer behind the proxy not limited: %d", rec.Code)
	}
	if rec := placeFrom(e, "10.1.2.3:5000", "198.51.100.9", ""); rec.Code == http.StatusTooManyRequests {
		t.Fatal("a second buyer behind the same proxy shares the first one's limit")
	}
	// A minute later the address may order again.
	clock.advance(time.Minute)
	if rec := placeFrom(e, "192.0.2.1:1004", "", ""); rec.Code == http.StatusTooManyRequests {
		t.Fatal("still refused a minute later")
	}
}

func TestFailedAPIKeysAreLimitedPerAddress(t *testing.T) {
	clock := newFakeClock()
	e, d, _ := newServer(t, func(c *handlers.Config) {
		c.AuthFailureLimit = 2
		c.Now = clock.now
	})
	good := adminKey(t, d, "ops", auth.ScopeOrdersRead)
	get := func(remote, key string) int {
		req := httptest.NewRequest("GET", "/v1/admin/orders", nil)
		req.RemoteAddr = remote
		req.Header.Set("Authorization", "Bearer "+key)
		return do(e, req).Code
	}
	for i := range 2 {
		if code := get("192.0.2.9:1", fmt.Sprintf("shelf_guess%d", i)); code != http.StatusUnauthorized {
			t.Fatalf("guess %d: %d, want 401", i+1, code)
		}
	}
	if code := get("192.0.2.9:1", "shelf_guess3"); code != http.StatusTooManyRequests {
		t.Fatalf("third guess in a minute: %d, want 429", code)
	}
	// Refused before the key is looked at: even a real key waits.
	if code := get("192.0.2.9:1", good); code != http.StatusTooManyRequests {
		t.Fatalf("a real key from the guessing address: %d, want 429", code)
	}
	if code := get("192.0.2.10:1", good); code != http.StatusOK {
		t.Fatalf("a real key from another address: %d, want 200", code)
	}
	clock.advance(time.Minute)
	if code := get("192.0.2.9:1", good); code != http.StatusOK {
		t.Fatalf("a real key a minute later: %d, want 200", code)
	}
	// The event stream takes only API keys as bearers: its guesses count too.
	stream := func(key string) int {
		req := httptest.NewRequest("GET", "/v1/events?types=nope", nil) // answered before it would stream
		req.RemoteAddr = "192.0.2.11:1"
		req.Header.Set("Authorization", "Bearer "+key)
		return do(e, req).Code
	}
	for i := range 2 {
		if code := stream(fmt.Sprintf("shelf_guess%d", i)); code != http.StatusUnauthorized {
			t.Fatalf("stream guess %d: %d, want 401", i+1, code)
		}
	}
	if code := stream("shelf_guess3"); code != http.StatusTooManyRequests {
		t.Fatalf("third stream guess in a minute: %d, want 429", code)
	}
}

// A buyer whose answer was lost retries with the same Idempotency-Key; past
// the address's limit the retry still gets the stored answer (an order
// placed once, a refusal as it was given), and only new orders are refused.
func TestARetryPastTheOrderLimitGetsItsStoredAnswer(t *testing.T) {
	e := newOrderEnv(t, func(c *handlers.Config) { c.OrderRateLimit = 2 })
	placedBody := orderBody("ada@example.com", "H-0", "1")
	shortBody := orderBody("ada@example.com", "H-1", "99")
	placed := e.do("POST", "/v1/orders", "", key("lost-1"), placedBody)
	short := e.do("POST", "/v1/orders", "", key("lost-2"), shortBody)
	if placed.status != http.StatusCreated || short.status != http.StatusConflict {
		t.Fatalf("first requests: %d %s, %d %s", placed.status, placed.body, short.status, short.body)
	}
	if r := e.do("POST", "/v1/orders", "", key("new-3"), placedBody); r.status != http.StatusTooManyRequests {
		t.Fatalf("a new order past the limit: %d, want 429", r.status)
	}
	for _, c := range []struct {
		key, body string
		want      reply
	}{{"lost-1", placedBody, placed}, {"lost-2", shortBody, short}} {
		r := e.do("POST", "/v1/orders", "", key(c.key), c.body)
		if r.status != c.want.status || !bytes.Equal(r.body, c.want.body) || r.header.Get("Idempotent-Replayed") != "true" {
			t.Fatalf("retry of %s past the limit: %d %s (replayed %q), want the stored %d %s",
				c.key, r.status, r.body, r.header.Get("Idempotent-Replayed"), c.want.status, c.want.body)
		}
		if c.want.status == http.StatusCreated && r.header.Get("Location") != placed.header.Get("Location") {
			t.Fatalf("replayed Location %q, want %q", r.header.Get("Location"), placed.header.Get("Location"))
		}
	}
	// The key with another body is no replay: refused like any new order.
	if r := e.do("POST", "/v1/orders", "", key("lost-1"), orderBody("ada@example.com", "H-0", "2")); r.status != http.StatusTooManyRequests {
		t.Fatalf("another body under a used key past the limit: %d %s, want 429", r.status, r.body)
	}
	var n int
	if err := e.d.DB.QueryRow("SELECT COUNT(*) FROM orders").Scan(&n); err != nil || n != 1 {
		t.Fatalf("%d orders stored (%v), want 1", n, err)
	}
}
