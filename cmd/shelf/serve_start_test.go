package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/shelfcommerce/shelf/internal/dbtest"
	"github.com/shelfcommerce/shelf/internal/orders/orderstest"
)

// gate is a TCP proxy to the test server that refuses every connection
// while it is shut: a database that is down.
type gate struct {
	ln   net.Listener
	open atomic.Bool
	wg   sync.WaitGroup
}

func newGate(t *testing.T, server string) *gate {
	t.Helper()
	cfg, err := mysql.ParseDSN(server)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g := &gate{ln: ln}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			if !g.open.Load() {
				c.Close()
				continue
			}
			up, err := net.Dial("tcp", cfg.Addr)
			if err != nil {
				c.Close()
				continue
			}
			g.wg.Add(2)
			go func() { defer g.wg.Done(); _, _ = io.Copy(up, c); up.Close() }()
			go func() { defer g.wg.Done(); _, _ = io.Copy(c, up); c.Close() }()
		}
	}()
	t.Cleanup(func() { ln.Close() })
	return g
}

// through is dsn with its address replaced by the gate's.
func (g *gate) through(t *testing.T, dsn string) string {
	t.Helper()
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Addr = g.ln.Addr().String()
	return cfg.FormatDSN()
}

// `shelf serve` started before its database is there, then before its
// schema (and its read node's) is migrated: it does not exit, /healthz is
// 200 throughout, /readyz and the API answer 503 with Retry-After and the
// reason, and the same process serves once the schema is current.
func TestServeWaitsForTheDatabaseAndItsSchema(t *testing.T) {
	ctx := context.Background()
	dsn, name, err := dbtest.Create(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dbtest.Drop(context.Background(), name) })
	readDSN, readName, err := dbtest.Create(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dbtest.Drop(context.Background(), readName) })
	g := newGate(t, dsn)
	in := startUntil(t, waitingLine, g.through(t, dsn), "SHELF_MYSQL_READ_DSN="+readDSN)

	get := func(path string) (int, string, string) {
		t.Helper()
		res, err := http.Get(in.base + path)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, res.Header.Get("Retry-After"), string(b)
	}
	// waitReason waits until /readyz gives the reason, then checks what
	// the process answers meanwhile.
	waitReason := func(reason string) {
		t.Helper()
		var body string
		for deadline := time.Now().Add(60 * time.Second); !strings.Contains(body, reason); time.Sleep(50 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("/readyz never said %q; last: %s", reason, body)
			}
			_, _, body = get("/readyz")
		}
		if code, _, body := get("/healthz"); code != http.StatusOK {
			t.Errorf("/healthz while %q: %d %s", reason, code, body)
		}
		for _, path := range []string{"/readyz", "/v1/products?limit=2"} {
			code, retry, body := get(path)
			if code != http.StatusServiceUnavailable || retry == "" || !strings.Contains(body, "service-unavailable") {
				t.Errorf("%s while %q: %d, Retry-After %q, %s; want a 503 problem with Retry-After", path, reason, code, retry, body)
			}
		}
	}
	waitReason("the database does not answer")
	g.open.Store(true)
	waitReason("run `shelf migrate up`")
	if err := dbtest.Migrate(ctx, dsn); err != nil {
		t.Fatal(err)
	}
	// The read node is still behind on migrations: that stops nothing, and
	// the storefront reads from the primary meanwhile.
	readyWith := func(readNode string) {
		t.Helper()
		var code int
		var body string
		for deadline := time.Now().Add(60 * time.Second); code != http.StatusOK || !strings.Contains(body, readNode); time.Sleep(50 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("/readyz never 200 with %s: %d %s", readNode, code, body)
			}
			code, _, body = get("/readyz")
		}
		if code, _, body := get("/v1/products?limit=2"); code != http.StatusOK || !strings.Contains(body, `"items"`) {
			t.Fatalf("the listing once ready, %s: %d %s", readNode, code, body)
		}
	}
	readyWith(`"read_node":"down"`)
	if err := dbtest.Migrate(ctx, readDSN); err != nil {
		t.Fatal(err)
	}
	readyWith(`"read_node":"ready"`)
	select {
	case err := <-in.done:
		t.Fatalf("shelf serve exited: %v", err)
	default:
	}
}

// A read node (SHELF_MYSQL_READ_DSN) that is down stops nothing: the
// process starts, is ready, takes orders and serves the storefront from the
// primary; it reads from the node once it answers, and leaves it again
// when it goes away. Before, the process never started, and /readyz sent
// every instance out of the balancer.
func TestAReadNodeThatIsDownStopsNothing(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	if _, err := orderstest.Seed(context.Background(), d.Store, orderstest.Simple("RN", 1, 500, 10)...); err != nil {
		t.Fatal(err)
	}
	g := newGate(t, d.DSN) // the read node: the same data, behind a gate, shut
	base, stop := startServe(t, map[string]string{"SHELF_MYSQL_DSN": d.DSN, "SHELF_MYSQL_READ_DSN": g.through(t, d.DSN)})
	defer stop()
	get := func(path string) (int, string) {
		t.Helper()
		res, err := http.Get(base + path)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	readyWith := func(state string) {
		t.Helper()
		var code int
		var body string
		for deadline := time.Now().Add(30 * time.Second); code != http.StatusOK || !strings.Contains(body, `"read_node":"`+state+`"`); time.Sleep(50 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("/readyz never 200 with the read node %s: %d %s", state, code, body)
			}
			code, body = get("/readyz")
		}
		if code, body := get("/v1/products?limit=2"); code != http.StatusOK || !strings.Contains(body, `"RN-0"`) {
			t.Errorf("the listing with the read node %s: %d %s", state, code, body)
		}
	}
	readyWith("down")
	order := `{"email":"b@example.com","lines":[{"sku":"RN-0","quantity":1}],"shipping_address":{"name":"B","line1":"1 Main St","city":"X","country":"US"}}`
	req, _ := http.NewRequest("POST", base+"/v1/orders", strings.NewReader(order))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", "rn-1")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusCreated {
		t.Errorf("POST /v1/orders with the read node down: %d %s", res.StatusCode, b)
	}
	g.open.Store(true)
	readyWith("ready")
	g.open.Store(false)
	readyWith("down")
}
