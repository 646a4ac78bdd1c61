package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/shelfcommerce/shelf/internal/auth"
	"github.com/shelfcommerce/shelf/internal/dbtest"
)

// startServe runs `shelf serve` with env until stop, and returns its base
// URL and stop, which cancels it (as SIGTERM does) and returns what serve
// returned.
func startServe(t *testing.T, env map[string]string) (base string, stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	stdout := &syncBuffer{}
	done := make(chan error, 1)
	for k, v := range map[string]string{"SHELF_ADDR": "127.0.0.1:0", "SHELF_LOG_LEVEL": "error"} {
		if _, ok := env[k]; !ok {
			env[k] = v
		}
	}
	go func() { done <- run(ctx, []string{"serve"}, envOf(env), nil, stdout, io.Discard) }()
	urlRe := regexp.MustCompile(`http://\S+`)
	// serve prints its URL once it serves (database reached, schema
	// current): on a loaded machine that can take a while.
	for deadline := time.Now().Add(60 * time.Second); base == "" && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		select {
		case err := <-done:
			cancel()
			t.Fatalf("serve returned %v before serving: %q", err, stdout.String())
		default:
		}
		base = urlRe.FindString(stdout.String())
	}
	if base == "" {
		cancel()
		t.Fatalf("serve printed no URL within 60 s: %q", stdout.String())
	}
	var once sync.Once
	var err error
	stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case err = <-done:
			case <-time.After(25 * time.Second):
				err = fmt.Errorf("serve did not stop")
			}
		})
		return err
	}
	t.Cleanup(func() { _ = stop() })
	return base, stop
}

// Two `shelf serve` processes on one database deliver each event to a
// webhook once between them, retry across them, and stop cleanly.
func TestServeDeliversWebhooksOnceAcrossInstances(t *testing.T) {
	d := dbtest.New(t)
	var mu sync.Mutex
	got := map[string]int{}
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		id := r.Header.Get("webhook-id")
		got[id]++
		if got[id] == 1 { // every event fails once, then is delivered
			w.WriteHeader(http.StatusBadGateway)
		}
	}))
	defer rcv.Close()
	env := map[string]string{
		"SHELF_MYSQL_DSN": d.DSN, "SHELF_ADDR": "127.0.0.1:0", "SHELF_LOG_LEVEL": "error",
		"SHELF_WEBHOOK_ALLOW_PRIVATE": "true", "SHELF_WEBHOOK_RETRY_SCHEDULE": "10ms",
	}
	a, stopA := startServe(t, env)
	_, stopB := startServe(t, env)
	key, _, err := auth.NewKeys(d.Q).Create(context.Background(), "hooks", []string{auth.ScopeWebhooksWrite})
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("POST", a+"/v1/admin/webhooks", strings.NewReader(`{"url":"`+rcv.URL+`"}`))
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var wh struct{ ID uint64 }
	_ = json.NewDecoder(res.Body).Decode(&wh)
	res.Body.Close()
	if res.StatusCode != http.StatusCreated {
		t.Fatalf("register = %d", res.StatusCode)
	}
	const events = 40
	for i := 1; i <= events; i++ {
		// Unsequenced, as a write leaves it: the instances' sequencer numbers it.
		if _, err := d.DB.Exec("INSERT INTO events (type, data, created_at) VALUES ('stock.changed', ?, ?)",
			fmt.Sprintf(`{"type":"stock.changed","sku":"S%d"}`, i), time.Now().UTC()); err != nil {
			t.Fatal(err)
		}
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		var queued, logged int
		_ = d.DB.QueryRow("SELECT COUNT(*) FROM webhook_queue").Scan(&queued)
		_ = d.DB.QueryRow("SELECT COUNT(*) FROM webhook_deliveries").Scan(&logged)
		if queued == 0 && logged == 2*events {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 30s: %d queued, %d attempts logged, want 0 and %d", queued, logged, 2*events)
		}
	}
	for _, stop := range []func() error{stopA, stopB} {
		if err := stop(); err != nil {
			t.Fatalf("serve returned %v on shutdown", err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	for i := 1; i <= events; i++ {
		if n := got[fmt.Sprint(i)]; n != 2 {
			t.Errorf("event %d reached the receiver %d times, want 2 (a failure and its retry)", i, n)
		}
	}
}

// callWithKey sends one JSON request with a bearer key and decodes the answer into v.
func callWithKey(t *testing.T, method, url, key, body string, v any) int {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if v != nil {
		_ = json.NewDecoder(res.Body).Decode(v)
	}
	return res.StatusCode
}

// The whole path, as an integration sees it: an admin sets stock through
// the API, the write's stock.changed event is sequenced, fanned out and
// POSTed, signed, to the webhook subscribed to it, and the Standard Webhooks
// reference library verifies it with the secret registration showed.
func TestServeSignsAndDeliversAStockChange(t *testing.T) {
	d := dbtest.New(t)
	type delivery struct {
		header http.Header
		body   []byte
	}
	got := make(chan delivery, 100)
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		got <- delivery{r.Header.Clone(), body}
	}))
	defer rcv.Close()
	base, _ := startServe(t, map[string]string{
		"SHELF_MYSQL_DSN": d.DSN, "SHELF_ADDR": "127.0.0.1:0", "SHELF_LOG_LEVEL": "error", "SHELF_WEBHOOK_ALLOW_PRIVATE": "true",
	})
	key, _, err := auth.NewKeys(d.Q).Create(context.Background(), "ops",
		[]string{auth.ScopeWebhooksWrite, auth.ScopeCatalogWrite, auth.ScopeInventoryWrite})
	if err != nil {
		t.Fatal(err)
	}
	var wh struct{ Secret string }
	if code := callWithKey(t, "POST", base+"/v1/admin/webhooks", key, `{"url":"`+rcv.URL+`","events":["stock.changed"]}`, &wh); code != 201 {
		t.Fatalf("register = %d", code)
	}
	if code := callWithKey(t, "POST", base+"/v1/admin/products", key,
		`{"slug":"hook-tee","title":"Hook Tee","variants":[{"sku":"HOOK-1","price":"10.00","on_hand":1}]}`, nil); code != 201 {
		t.Fatalf("create product = %d", code)
	}
	if code := callWithKey(t, "PUT", base+"/v1/admin/inventory/HOOK-1", key, `{"on_hand":7}`, nil); code != 200 {
		t.Fatalf("set stock = %d", code)
	}
	verifier, err := standardwebhooks.NewWebhook(wh.Secret)
	if err != nil {
		t.Fatal(err)
	}
	timeout := time.After(30 * time.Second)
	for {
		select {
		case dl := <-got:
			if err := verifier.Verify(dl.body, dl.header); err != nil {
				t.Fatalf("delivery %s does not verify: %v", dl.body, err)
			}
			var ev struct {
				Type      string
				SKU       string
				Available *int64
			}
			if err := json.Unmarshal(dl.body, &ev); err != nil || ev.Type != "stock.changed" {
				t.Fatalf("delivered %s, want only stock.changed events", dl.body)
			}
			if ev.SKU == "HOOK-1" && ev.Available != nil && *ev.Available == 7 {
				return
			}
		case <-timeout:
			t.Fatal("no stock.changed delivery with available 7 within 30s")
		}
	}
}
