//go:build cluster

package clustertest

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/shelfcommerce/shelf/internal/dbtest"
	"github.com/shelfcommerce/shelf/internal/orders/orderstest"
	"github.com/shelfcommerce/shelf/internal/store"
)

var (
	repoRoot string   // the module's root directory
	shelfBin string   // the shelf binary built for this run
	galera   []string // the cluster's nodes as DSNs without a database, node 1 first
)

func TestMain(m *testing.M) { os.Exit(setup(m)) }

// setup builds the binary once and makes sure the Galera cluster runs; a
// tier that cannot get its cluster fails, it does not skip.
func setup(m *testing.M) int {
	root, err := os.Getwd()
	for err == nil {
		if _, serr := os.Stat(filepath.Join(root, "go.mod")); serr == nil {
			break
		}
		if root == filepath.Dir(root) {
			err = fmt.Errorf("no go.mod above the test's directory")
		}
		root = filepath.Dir(root)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "clustertest:", err)
		return 1
	}
	repoRoot = root
	dir, err := os.MkdirTemp("", "shelf-clustertest-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "clustertest:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	shelfBin = filepath.Join(dir, "shelf")
	build := exec.Command("go", "build", "-o", shelfBin, "./cmd/shelf")
	build.Dir, build.Stdout, build.Stderr = repoRoot, os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "clustertest: build shelf:", err)
		return 1
	}
	if v := os.Getenv("SHELF_TEST_GALERA_DSNS"); v != "" {
		galera = strings.Split(v, ",")
	} else if galera, err = ensureGalera(); err != nil {
		fmt.Fprintln(os.Stderr, "clustertest:", err)
		return 1
	}
	if len(galera) != 3 {
		fmt.Fprintf(os.Stderr, "clustertest: want 3 Galera nodes, have %q\n", galera)
		return 1
	}
	return m.Run()
}

// ensureGalera runs scripts/ensure-galera.sh, which starts whichever nodes
// are not running and waits until all three are Synced.
func ensureGalera() ([]string, error) {
	cmd := exec.Command(filepath.Join(repoRoot, "scripts", "ensure-galera.sh"))
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("scripts/ensure-galera.sh: %w", err)
	}
	return strings.Fields(string(out)), nil
}

// withDB is the server DSN with a database name.
func withDB(server, name string) string {
	cfg, err := mysql.ParseDSN(server)
	if err != nil {
		panic(err)
	}
	cfg.DBName = name
	return cfg.FormatDSN()
}

// migratedDB creates a migrated throwaway database on server and returns its
// name; it is dropped when the test ends.
func migratedDB(t testing.TB, server string) string {
	t.Helper()
	ctx := context.Background()
	dsn, name, err := dbtest.CreateOn(ctx, server)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dbtest.DropOn(context.Background(), server, name) })
	if err := dbtest.Migrate(ctx, dsn); err != nil {
		t.Fatalf("migrate %s: %v", name, err)
	}
	return name
}

// clusterDB is a migrated database on the Galera cluster: its DSN on each
// node, node 1 first.
func clusterDB(t *testing.T) []string {
	t.Helper()
	name := migratedDB(t, galera[0])
	dsns := make([]string, len(galera))
	for i, s := range galera {
		dsns[i] = withDB(s, name)
		caughtUp(t, dsns[i])
	}
	return dsns
}

// caughtUp waits until the node at dsn has applied everything the cluster
// committed so far (a causal read, wsrep_sync_wait=1): a node may apply the
// migrations' DDL, or the CREATE DATABASE itself, a moment after node 1
// returned. It connects without the database, which may not be there yet.
func caughtUp(t testing.TB, dsn string) {
	t.Helper()
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		t.Fatal(err)
	}
	cfg.DBName = ""
	cfg.Params = map[string]string{"wsrep_sync_wait": "1"}
	node, err := sql.Open("mysql", cfg.FormatDSN())
	if err != nil {
		t.Fatal(err)
	}
	defer node.Close()
	var n int
	if err := node.QueryRow("SELECT COUNT(*) FROM information_schema.schemata").Scan(&n); err != nil {
		t.Fatalf("causal read on %s: %v", cfg.Addr, err)
	}
}

// openStore opens a small pool on dsn for seeding and checking.
func openStore(t testing.TB, dsn string) *store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), dsn, store.PoolConfig{MaxOpen: 4, MaxIdle: 4, MaxLifetime: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// seed inserts products through orderstest and returns the seeded ids.
func seed(t testing.TB, dsn string, products ...orderstest.Product) *orderstest.Seeded {
	t.Helper()
	s, err := orderstest.Seed(context.Background(), openStore(t, dsn), products...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// syncBuffer collects a child's output for the test log.
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

// instance is one `shelf serve` child process.
type instance struct {
	Name string
	URL  string
	cmd  *exec.Cmd
	logs *syncBuffer
}

var servingRe = regexp.MustCompile(`serving on (http://\S+)`)

// startShelf starts `shelf serve` on a free loopback port with the DSN (and
// the read DSN, when not empty); it is stopped with SIGTERM when the test
// ends, and its log is shown when the test failed.
func startShelf(t testing.TB, name, dsn, readDSN string, env ...string) *instance {
	t.Helper()
	cmd := exec.Command(shelfBin, "serve")
	cmd.Env = append(os.Environ(), "SHELF_MYSQL_DSN="+dsn, "SHELF_ADDR=127.0.0.1:0", "SHELF_LOG_LEVEL=warn",
		// One client address sends every order here: no anonymous rate limit.
		"SHELF_ORDER_RATE_LIMIT=0")
	if readDSN != "" {
		cmd.Env = append(cmd.Env, "SHELF_MYSQL_READ_DSN="+readDSN)
	}
	cmd.Env = append(cmd.Env, env...)
	in := &instance{Name: name, cmd: cmd, logs: &syncBuffer{}}
	cmd.Stderr = in.logs
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(25 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("%s's log (last 4 KB):\n%s", name, tail(in.logs.String(), 4096))
		}
	})
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if m := servingRe.FindStringSubmatch(sc.Text()); m != nil {
				found <- m[1]
			}
		}
		close(found)
	}()
	select {
	case u, ok := <-found:
		if !ok {
			t.Fatalf("%s exited before serving:\n%s", name, in.logs.String())
		}
		in.URL = u
	case <-time.After(60 * time.Second):
		t.Fatalf("%s did not start serving within 60 s:\n%s", name, in.logs.String())
	}
	return in
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// shelfCLI runs one shelf command with the DSN and returns its standard
// output; the error carries its standard error.
func shelfCLI(ctx context.Context, dsn string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, shelfBin, args...)
	cmd.Env = append(os.Environ(), "SHELF_MYSQL_DSN="+dsn)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		err = fmt.Errorf("shelf %s: %w: %s", strings.Join(args, " "), err, stderr.String())
	}
	return string(out), err
}

// apiKey creates an admin key with every scope through `shelf apikey create`.
func apiKey(t *testing.T, dsn string) string {
	t.Helper()
	out, err := shelfCLI(context.Background(), dsn, "apikey", "create", "--name", "clustertest",
		"--scopes", "catalog:write,inventory:write,orders:read,orders:write,imports:write")
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(out)
}

// newProxy is the load balancer: round robin over the instances, each
// request to the next one, like nginx's default upstream.
func newProxy(t testing.TB, insts ...*instance) *httptest.Server {
	t.Helper()
	targets := make([]*url.URL, len(insts))
	for i, in := range insts {
		u, err := url.Parse(in.URL)
		if err != nil {
			t.Fatal(err)
		}
		targets[i] = u
	}
	var next atomic.Uint64
	rp := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(targets[(next.Add(1)-1)%uint64(len(targets))])
			r.SetXForwarded()
		},
		Transport: &http.Transport{MaxIdleConns: 256, MaxIdleConnsPerHost: 128},
		// Report which instance answered, so a test can name it.
		ModifyResponse: func(res *http.Response) error {
			res.Header.Set("X-Test-Backend", res.Request.URL.Host)
			return nil
		},
	}
	srv := httptest.NewServer(rp)
	t.Cleanup(srv.Close)
	return srv
}

// client gives up after 20 s: the contract answers within 10 s, even when
// the database is frozen, so a request past this is a hang.
var client = &http.Client{
	Timeout:   20 * time.Second,
	Transport: &http.Transport{MaxIdleConns: 256, MaxIdleConnsPerHost: 128},
}

// reply is one HTTP answer.
type reply struct {
	Status int
	Header http.Header
	Body   []byte
}

func (r reply) String() string { return fmt.Sprintf("%d %s", r.Status, bytes.TrimSpace(r.Body)) }

// call sends one request; hdr is name, value pairs. An error means no answer.
func call(ctx context.Context, method, u, body string, hdr ...string) (reply, error) {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return reply{}, err
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := client.Do(req)
	if err != nil {
		return reply{}, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	return reply{Status: res.StatusCode, Header: res.Header, Body: b}, err
}

// mustCall is call for the test goroutine.
func mustCall(t *testing.T, method, u, body string, hdr ...string) reply {
	t.Helper()
	r, err := call(context.Background(), method, u, body, hdr...)
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	return r
}

// orderBody is a one-line order.
func orderBody(email, sku string, qty int) string {
	return fmt.Sprintf(`{"email":%q,"lines":[{"sku":%q,"quantity":%d}],`+
		`"shipping_address":{"name":"Test Buyer","line1":"1 Main St","city":"Springfield","postal_code":"12345","country":"US"}}`,
		email, sku, qty)
}

// placeOrder posts one order with an Idempotency-Key.
func placeOrder(ctx context.Context, base, key, email, sku string, qty int) (reply, error) {
	return call(ctx, http.MethodPost, base+"/v1/orders", orderBody(email, sku, qty), "Idempotency-Key", key)
}

// eventually polls f every 200 ms until it returns nil or within passes; the
// bound is generous (the machine is shared): it catches a service that never
// recovers, not a slow one.
func eventually(t *testing.T, within time.Duration, what string, f func() error) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: still not true after %s: %v", what, within, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// statusIs is a check for eventually: u answers want.
func statusIs(u string, want int) func() error {
	return func() error {
		r, err := call(context.Background(), http.MethodGet, u, "")
		if err != nil {
			return err
		}
		if r.Status != want {
			return fmt.Errorf("GET %s = %s", u, tail(r.String(), 300))
		}
		return nil
	}
}

// isOutage checks that an answer given while the database is away is the
// contract's 503: problem+json with Retry-After, never a 500.
func isOutage(r reply) error {
	if r.Status != http.StatusServiceUnavailable {
		return fmt.Errorf("want 503, got %s", tail(r.String(), 300))
	}
	if r.Header.Get("Retry-After") == "" {
		return fmt.Errorf("503 without Retry-After: %s", r)
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/problem+json") {
		return fmt.Errorf("503 as %q, not problem+json: %s", ct, r)
	}
	return nil
}

// isRetryLater accepts the answers that tell a client to retry its
// Idempotency-Key: the outage 503, or the 409 of a key whose first attempt
// still holds it, both with Retry-After.
func isRetryLater(r reply) error {
	if r.Status == http.StatusConflict && strings.Contains(string(r.Body), "idempotency-key-in-use") {
		if r.Header.Get("Retry-After") == "" {
			return fmt.Errorf("idempotency-key-in-use without Retry-After: %s", r)
		}
		return nil
	}
	return isOutage(r)
}
