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
	waitReason("the read database (SHELF_MYSQL_READ_DSN) has the schema at version 0")
	if err := dbtest.Migrate(ctx, readDSN); err != nil {
		t.Fatal(err)
	}
	var code int
	var body string
	for deadline := time.Now().Add(60 * time.Second); code != http.StatusOK; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("/readyz never 200 once both schemas were current: %d %s", code, body)
		}
		code, _, body = get("/readyz")
	}
	if code, _, body := get("/v1/products?limit=2"); code != http.StatusOK || !strings.Contains(body, `"items"`) {
		t.Fatalf("the listing once ready: %d %s", code, body)
	}
	select {
	case err := <-in.done:
		t.Fatalf("shelf serve exited: %v", err)
	default:
	}
}
