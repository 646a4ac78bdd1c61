package handlers_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shelfcommerce/shelf/handlers"
	"github.com/shelfcommerce/shelf/internal/auth"
	"github.com/shelfcommerce/shelf/internal/dbtest"
	"github.com/shelfcommerce/shelf/internal/events"
)

// feedServer is a real HTTP server (streams need one) with a running hub.
func feedServer(t *testing.T, mutate ...func(*handlers.Config)) (*httptest.Server, *dbtest.DB, chan struct{}) {
	t.Helper()
	shutdown := make(chan struct{})
	var hub *events.Hub
	e, d, _ := newServer(t, append(mutate, func(c *handlers.Config) {
		hub = events.NewHub(c.Store, events.HubConfig{Poll: 10 * time.Millisecond})
		c.Events, c.Shutdown = hub, shutdown
	})...)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { hub.Run(ctx); close(done) }()
	srv := httptest.NewServer(e)
	t.Cleanup(func() {
		select {
		case <-shutdown:
		default:
			close(shutdown)
		}
		srv.Close()
		cancel()
		<-done
	})
	return srv, d, shutdown
}

type sse struct{ id, event, data string }

type stream struct {
	resp *http.Response
	ch   chan sse
}

func openStream(t *testing.T, srv *httptest.Server, query, key string, hdr ...string) *stream {
	t.Helper()
	req, _ := http.NewRequest("GET", srv.URL+"/v1/events"+query, nil)
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	if resp.StatusCode != 200 {
		t.Fatalf("GET /v1/events%s: %d", query, resp.StatusCode)
	}
	s := &stream{resp: resp, ch: make(chan sse, 1000)}
	go func() {
		defer close(s.ch)
		sc := bufio.NewScanner(resp.Body)
		var ev sse
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if ev.data != "" {
					s.ch <- ev
				}
				ev = sse{}
			case strings.HasPrefix(line, "id: "):
				ev.id = line[4:]
			case strings.HasPrefix(line, "event: "):
				ev.event = line[7:]
			case strings.HasPrefix(line, "data: "):
				ev.data = line[6:]
			}
		}
	}()
	return s
}

// next returns the next n events, failing after a generous wait.
func (s *stream) next(t *testing.T, n int) []sse {
	t.Helper()
	var out []sse
	timeout := time.After(30 * time.Second)
	for len(out) < n {
		select {
		case ev, ok := <-s.ch:
			if !ok {
				t.Fatalf("stream ended after %v", out)
			}
			out = append(out, ev)
		case <-timeout:
			t.Fatalf("got %d of %d events: %v", len(out), n, out)
		}
	}
	return out
}

func call(t *testing.T, srv *httptest.Server, key, method, path, body string) int {
	t.Helper()
	req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+key)
	if method == "POST" && strings.HasPrefix(path, "/v1/orders") {
		req.Header.Set("Idempotency-Key", strconv.FormatInt(time.Now().UnixNano(), 10))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestEventStream(t *testing.T) {
	t.Parallel()
	srv, d, shutdown := feedServer(t)
	admin := adminKey(t, d, "ops", auth.ScopeCatalogWrite, auth.ScopeInventoryWrite, auth.ScopeOrdersRead, auth.ScopeOrdersWrite)

	anon := openStream(t, srv, "", "")
	if h := anon.resp.Header; !strings.HasPrefix(h.Get("Content-Type"), "text/event-stream") || h.Get("X-Accel-Buffering") != "no" ||
		h.Get("Content-Encoding") != "" || h.Get("Cache-Control") != "no-cache" {
		t.Fatalf("stream headers %v", h)
	}
	stockOnly := openStream(t, srv, "?types=stock.changed", "")
	staff := openStream(t, srv, "", admin)

	if c := call(t, srv, admin, "POST", "/v1/admin/products", teeJSON); c != 201 {
		t.Fatalf("create: %d", c)
	}
	if c := call(t, srv, admin, "PUT", "/v1/admin/inventory/TEE-M", `{"on_hand":3}`); c != 200 {
		t.Fatalf("set stock: %d", c)
	}
	if c := call(t, srv, admin, "POST", "/v1/orders", `{"email":"a@example.com","lines":[{"sku":"TEE-M","quantity":1}],"shipping_address":{"name":"A","line1":"1 St","city":"X","country":"US"}}`); c != 201 {
		t.Fatalf("order: %d", c)
	}

	// The product's creation: product.updated, price.changed per variant,
	// stock.changed per variant with stock; then the stock set; then the
	// order's stock (order.created only for the staff stream).
	got := staff.next(t, 1)
	for !strings.Contains(got[len(got)-1].data, `"available":2`) {
		got = append(got, staff.next(t, 1)...)
	}
	var types []string
	for i, ev := range got {
		var data map[string]any
		if err := json.Unmarshal([]byte(ev.data), &data); err != nil || data["type"] != ev.event || data["occurred_at"] == nil {
			t.Fatalf("event %d: %+v (%v)", i, ev, err)
		}
		if i > 0 && ev.id <= got[i-1].id && len(ev.id) <= len(got[i-1].id) {
			t.Fatalf("ids not increasing: %v", got)
		}
		types = append(types, ev.event)
	}
	joined := strings.Join(types, ",")
	if !strings.HasPrefix(joined, "product.updated,price.changed") || !strings.Contains(joined, "order.created") {
		t.Fatalf("staff stream: %s", joined)
	}

	// The anonymous stream has everything but the order event.
	anonGot := anon.next(t, len(got)-1)
	for _, ev := range anonGot {
		if strings.HasPrefix(ev.event, "order.") {
			t.Fatalf("anonymous stream got %+v", ev)
		}
	}
	for _, ev := range stockOnly.next(t, 1) {
		if ev.event != "stock.changed" {
			t.Fatalf("types=stock.changed got %+v", ev)
		}
	}

	// Resuming after the third event: exactly the rest, no repeat.
	resumed := openStream(t, srv, "", admin, "Last-Event-ID", got[2].id)
	if rest := resumed.next(t, len(got)-3); rest[0].id != got[3].id || rest[len(rest)-1].id != got[len(got)-1].id {
		t.Fatalf("resumed after %s: %v, want from %s", got[2].id, rest, got[3].id)
	}
	byQuery := openStream(t, srv, "?last_event_id="+got[0].id, "")
	if ev := byQuery.next(t, 1)[0]; ev.id != got[1].id {
		t.Fatalf("last_event_id=%s resumed at %s", got[0].id, ev.id)
	}

	// An id from before the retention window: reset first. (Retention
	// deletes whole rows, each the events of one write: here the creation's.)
	if _, err := d.DB.Exec("DELETE FROM events WHERE seq > 0 ORDER BY seq LIMIT 1"); err != nil {
		t.Fatal(err)
	}
	if ev := openStream(t, srv, "?last_event_id=1", "").next(t, 1)[0]; ev.event != "reset" {
		t.Fatalf("resume from a pruned id: %+v, want reset", ev)
	}

	// Shutdown ends every stream at once.
	close(shutdown)
	select {
	case _, ok := <-anon.ch:
		for ok {
			_, ok = <-anon.ch
		}
	case <-time.After(10 * time.Second):
		t.Fatal("stream still open after shutdown")
	}
}

// A storefront on a configured origin opens the stream with the browser's
// EventSource: the preflight its reconnection (with Last-Event-ID) needs
// passes, and the stream carries the CORS headers that let the page read
// it. A page on another origin gets no such headers, so the browser keeps
// the stream from it.
func TestEventStreamThroughCORS(t *testing.T) {
	t.Parallel()
	const shop, other = "https://shop.example", "https://evil.example"
	srv, d, _ := feedServer(t, func(c *handlers.Config) { c.CORSOrigins = []string{shop} })
	admin := adminKey(t, d, "ops", auth.ScopeCatalogWrite, auth.ScopeInventoryWrite)

	preflight := func(origin string) http.Header {
		t.Helper()
		req, _ := http.NewRequest("OPTIONS", srv.URL+"/v1/events", nil)
		req.Header.Set("Origin", origin)
		req.Header.Set("Access-Control-Request-Method", "GET")
		req.Header.Set("Access-Control-Request-Headers", "last-event-id")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.Header
	}
	if h := preflight(shop); h.Get("Access-Control-Allow-Origin") != shop ||
		!strings.Contains(strings.ToLower(h.Get("Access-Control-Allow-Headers")), "last-event-id") ||
		!strings.Contains(h.Get("Access-Control-Allow-Methods"), "GET") {
		t.Fatalf("preflight from %s: %v", shop, h)
	}
	if h := preflight(other); h.Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("preflight from %s allowed: %v", other, h)
	}

	ours := openStream(t, srv, "?types=product.updated", "", "Origin", shop, "Last-Event-ID", "0")
	if h := ours.resp.Header; h.Get("Access-Control-Allow-Origin") != shop || !strings.Contains(h.Get("Vary"), "Origin") ||
		!strings.HasPrefix(h.Get("Content-Type"), "text/event-stream") || h.Get("Content-Encoding") != "" {
		t.Fatalf("stream headers for %s: %v", shop, h)
	}
	theirs := openStream(t, srv, "?types=product.updated", "", "Origin", other)
	if h := theirs.resp.Header; h.Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("stream for %s allowed: %v", other, h)
	}
	if c := call(t, srv, admin, "POST", "/v1/admin/products", teeJSON); c != 201 {
		t.Fatalf("create: %d", c)
	}
	if ev := ours.next(t, 1)[0]; ev.event != "product.updated" || !strings.Contains(ev.data, `"slug":"tee"`) {
		t.Fatalf("the storefront's stream got %+v", ev)
	}
}

// An idle stream sends a comment line every heartbeat, so proxies keep it
// open; a stream whose filter passes over events moves its id on with it,
// so a reconnection does not read them again.
func TestEventStreamHeartbeatMovesTheIDOnPastFilteredEvents(t *testing.T) {
	t.Parallel()
	srv, d, _ := feedServer(t, func(c *handlers.Config) { c.Heartbeat = 50 * time.Millisecond })
	admin := adminKey(t, d, "ops", auth.ScopeCatalogWrite, auth.ScopeInventoryWrite)
	req, _ := http.NewRequest("GET", srv.URL+"/v1/events?types=product.deleted", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	lines := make(chan string, 1000)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	// until reads lines until one satisfies ok, failing after a generous wait.
	until := func(what string, ok func(string) bool) {
		t.Helper()
		timeout := time.After(30 * time.Second)
		for {
			select {
			case l, open := <-lines:
				if !open {
					t.Fatalf("stream ended before %s", what)
				}
				if strings.HasPrefix(l, "data: ") {
					t.Fatalf("a filtered stream sent %s", l)
				}
				if ok(l) {
					return
				}
			case <-timeout:
				t.Fatalf("no %s", what)
			}
		}
	}
	until("heartbeat", func(l string) bool { return l == ": heartbeat" })
	if c := call(t, srv, admin, "POST", "/v1/admin/products", teeJSON); c != 201 {
		t.Fatalf("create: %d", c)
	}
	// The creation's events are all written once it answers; numbered from
	// 1 on this fresh database, the last one's id is their count.
	var last string
	if err := d.DB.QueryRow("SELECT COALESCE(SUM(n), 0) FROM events").Scan(&last); err != nil || last == "0" {
		t.Fatalf("%s events (%v)", last, err)
	}
	until("id moved on to "+last, func(l string) bool { return l == "id: "+last })
}

func TestEventStreamRefusesBadRequests(t *testing.T) {
	t.Parallel()
	e, d, _ := newServer(t)
	reader := adminKey(t, d, "catalog", auth.ScopeCatalogWrite)
	for _, tc := range []struct {
		query, key, field string
		status            int
	}{
		{"?types=stock.changd", "", "types", 400},
		{"?last_event_id=abc", "", "last_event_id", 400},
		{"?since=1", "", "since", 400},
		{"?types=stock.changed&types=price.changed", "", "types", 400},
		{"?last_event_id=1&last_event_id=2", "", "last_event_id", 400},
		{"?types=order.created", "", "", 403},
		{"?types=order.created", reader, "", 403},
	} {
		req := httptest.NewRequest("GET", "/v1/events"+tc.query, nil)
		if tc.key != "" {
			req.Header.Set("Authorization", "Bearer "+tc.key)
		}
		rec := do(e, req)
		if rec.Code != tc.status {
			t.Errorf("%s: %d %s", tc.query, rec.Code, rec.Body)
			continue
		}
		if tc.field != "" && !strings.Contains(rec.Body.String(), `"`+tc.field+`"`) {
			t.Errorf("%s: problem does not name %s: %s", tc.query, tc.field, rec.Body)
		}
	}
}

// Opening a stream reads the database (the API key, where the resume id
// lies in the feed) under SHELF_DB_TIMEOUT: past it the answer is a 503
// with Retry-After, not a request that waits as long as the database
// does. The stream itself has no deadline. (Here the deadline is 1 ns, so
// every read that opening needs fails at once.)
func TestOpeningAStreamHasTheDatabaseDeadline(t *testing.T) {
	t.Parallel()
	srv, d, _ := feedServer(t, func(c *handlers.Config) { c.DBTimeout = time.Nanosecond })
	key := adminKey(t, d, "ops", auth.ScopeCatalogRead)
	for _, tc := range []struct{ name, key, id string }{
		{"resume by id", "", "1"},
		{"an API key", key, ""},
	} {
		req, _ := http.NewRequest("GET", srv.URL+"/v1/events", nil)
		if tc.key != "" {
			req.Header.Set("Authorization", "Bearer "+tc.key)
		}
		if tc.id != "" {
			req.Header.Set("Last-Event-ID", tc.id)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		resp, err := http.DefaultClient.Do(req.WithContext(ctx))
		if err != nil {
			cancel()
			t.Fatalf("%s: %v", tc.name, err)
		}
		resp.Body.Close()
		cancel()
		if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
			t.Errorf("%s under a 1 ns database deadline: %d (Retry-After %q), want 503", tc.name, resp.StatusCode, resp.Header.Get("Retry-After"))
		}
	}
	// An anonymous stream from the head reads nothing to open once the
	// instance's tailer has read the head, and runs.
	for start := time.Now(); ; time.Sleep(20 * time.Millisecond) {
		resp, err := http.Get(srv.URL + "/v1/events")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			break
		}
		if time.Since(start) > 10*time.Second {
			t.Fatalf("anonymous stream: %d", resp.StatusCode)
		}
	}
}

// Events a stream filters out do not put its heartbeat off: with such an
// event every 0.9 intervals, heartbeats still come one interval apart (they
// came 1.8 apart when each filtered event started the wait again). The
// median of three gaps is checked, so one stall of a busy machine does
// not count.
func TestFilteredEventsDoNotDelayTheHeartbeat(t *testing.T) {
	t.Parallel()
	const beat = time.Second
	srv, d, _ := feedServer(t, func(c *handlers.Config) { c.Heartbeat = beat })
	admin := adminKey(t, d, "ops", auth.ScopeCatalogWrite, auth.ScopeInventoryWrite)
	if c := call(t, srv, admin, "POST", "/v1/admin/products", teeJSON); c != 201 {
		t.Fatalf("create: %d", c)
	}
	req, _ := http.NewRequest("GET", srv.URL+"/v1/events?types=product.deleted", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	beats := make(chan time.Time, 100)
	go func() {
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			if sc.Text() == ": heartbeat" {
				beats <- time.Now()
			}
		}
		close(beats)
	}()
	prev, ok := <-beats
	if !ok {
		t.Fatal("the stream ended")
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-time.After(beat * 9 / 10):
			}
			call(t, srv, admin, "PUT", "/v1/admin/inventory/TEE-M", fmt.Sprintf(`{"on_hand":%d}`, i))
		}
	})
	var gaps []time.Duration
	for range 3 {
		b, ok := <-beats
		if !ok {
			t.Fatal("the stream ended")
		}
		gaps = append(gaps, b.Sub(prev))
		prev = b
	}
	close(stop)
	wg.Wait()
	slices.Sort(gaps)
	if gaps[1] > beat*14/10 {
		t.Errorf("heartbeats %v apart (median %v), interval %v: filtered events put them off", gaps, gaps[1], beat)
	}
}
