package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/shelfcommerce/shelf/internal/config"
	"github.com/shelfcommerce/shelf/internal/dbtest"
)

// syncBuffer is a bytes.Buffer safe for a writer goroutine and a reader.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func envOf(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func exitCode(err error) int {
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	if err != nil {
		return 1
	}
	return 0
}

func emptyDatabase(t *testing.T) string {
	t.Helper()
	dsn, name, err := dbtest.Create(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dbtest.Drop(context.Background(), name) })
	return dsn
}

func TestMigrateStatusGatesCIUntilUpRuns(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	env := envOf(map[string]string{"SHELF_MYSQL_DSN": emptyDatabase(t)})
	var out bytes.Buffer
	err := run(ctx, []string{"migrate", "status"}, env, nil, &out, io.Discard)
	if exitCode(err) != exitPending || !strings.Contains(out.String(), "pending") {
		t.Fatalf("status before up: exit %d, output:\n%s", exitCode(err), out.String())
	}
	out.Reset()
	if err := run(ctx, []string{"migrate", "up"}, env, nil, &out, io.Discard); err != nil {
		t.Fatalf("up: %v\n%s", err, out.String())
	}
	out.Reset()
	if err := run(ctx, []string{"migrate", "status"}, env, nil, &out, io.Discard); err != nil {
		t.Fatalf("status after up: exit %d: %v\n%s", exitCode(err), err, out.String())
	}
	out.Reset()
	if err := run(ctx, []string{"migrate", "version"}, env, nil, &out, io.Discard); err != nil || strings.TrimSpace(out.String()) == "0" {
		t.Fatalf("version = %q, %v", out.String(), err)
	}
}

func TestServeHelpListsEveryVariable(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	if err := run(context.Background(), []string{"serve", "--help"}, envOf(nil), nil, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	for _, v := range config.Vars {
		if !strings.Contains(out.String(), v.Name) {
			t.Errorf("serve --help does not list %s", v.Name)
		}
	}
}

func TestBadConfigurationIsRefusedWithTheVariableNamed(t *testing.T) {
	t.Parallel()
	err := run(context.Background(), []string{"serve"}, envOf(map[string]string{
		"SHELF_DB_MAX_OPEN": "lots", "SHELF_ADDR": "8080",
	}), nil, io.Discard, io.Discard)
	if exitCode(err) != 2 || !strings.Contains(err.Error(), "SHELF_DB_MAX_OPEN") || !strings.Contains(err.Error(), "SHELF_ADDR") {
		t.Fatalf("err = %v", err)
	}
}

// SIGTERM (here: the context) stops the server cleanly: serve returns nil
// after http.Server.Shutdown has drained, and the port stops answering.
func TestServeStopsCleanlyOnSignal(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	base, stop := startServe(t, map[string]string{
		"SHELF_MYSQL_DSN": d.DSN, "SHELF_ADDR": "127.0.0.1:0", "SHELF_LOG_LEVEL": "error",
	})
	res, err := http.Get(base + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("readyz = %d", res.StatusCode)
	}
	if err := stop(); err != nil {
		t.Fatalf("serve returned %v on shutdown", err)
	}
	if _, err := http.Get(base + "/healthz"); err == nil {
		t.Fatal("the server still answers after shutdown")
	}
}

// `make run` calls `shelf seed` on every start: the first loads the demo
// catalog, every later one says so and changes nothing.
func TestSeedLoadsTheDemoCatalogOnce(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	ctx := context.Background()
	env := envOf(map[string]string{"SHELF_MYSQL_DSN": d.DSN})
	var out bytes.Buffer
	if err := run(ctx, []string{"seed"}, env, nil, &out, io.Discard); err != nil {
		t.Fatalf("seed: %v", err)
	}
	if !strings.Contains(out.String(), "loaded 126 categories, 300 products") {
		t.Errorf("first seed said %q", out.String())
	}
	out.Reset()
	if err := run(ctx, []string{"seed"}, env, nil, &out, io.Discard); err != nil {
		t.Fatalf("second seed: %v", err)
	}
	if !strings.Contains(out.String(), "already loaded") {
		t.Errorf("second seed said %q", out.String())
	}
	var n int
	if err := d.DB.QueryRow("SELECT COUNT(*) FROM products").Scan(&n); err != nil || n != 300 {
		t.Errorf("%d products after two seeds (%v)", n, err)
	}
	out.Reset()
	_ = run(ctx, []string{"help"}, env, nil, &out, io.Discard)
	if !strings.Contains(out.String(), "\n  seed ") {
		t.Errorf("help does not list seed (make run looks for it):\n%s", out.String())
	}
}

func TestVersionSaysWhichBuild(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), []string{"--version"}, envOf(nil), nil, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^shelf \S+ \(commit \S+, go1\.\S+\)\n$`).MatchString(out.String()) {
		t.Fatalf("--version printed %q", out.String())
	}
}

// CI tells "migrations pending" from "the database is down": every command
// exits 3 when it cannot reach the database, and migrate status exits 4
// (above) when it can and migrations are pending.
func TestEveryCommandExitsThreeWhenTheDatabaseIsDown(t *testing.T) {
	t.Parallel()
	down := envOf(map[string]string{"SHELF_MYSQL_DSN": "root@tcp(127.0.0.1:1)/nowhere?timeout=1s"})
	for _, args := range [][]string{
		{"migrate", "status"}, {"migrate", "up"}, {"seed"}, {"apikey", "list"}, {"export", "--format", "csv"}, {"reindex"},
	} {
		err := run(context.Background(), args, down, nil, io.Discard, io.Discard)
		if exitCode(err) != exitUnavailable {
			t.Errorf("shelf %s with the database down: exit %d (%v), want %d", strings.Join(args, " "), exitCode(err), err, exitUnavailable)
		}
	}
}
