package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/shelfcommerce/shelf/internal/auth"
	"github.com/shelfcommerce/shelf/internal/dbtest"
)

// TestMain lets a test start real `shelf serve` processes: the test binary
// run with SHELF_TEST_SERVE=1 is the program.
func TestMain(m *testing.M) {
	if os.Getenv("SHELF_TEST_SERVE") == "1" {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		err := run(ctx, []string{"serve"}, os.Getenv, os.Stdin, os.Stdout, os.Stderr)
		stop()
		if err != nil {
			os.Stderr.WriteString(err.Error() + "\n")
		}
		os.Exit(exitCode(err))
	}
	dbtest.Main(m)
}

// instance is one `shelf serve` process.
type instance struct {
	cmd  *exec.Cmd
	base string
	done chan error
}

// startInstance starts `shelf serve` on dsn in its own process and returns
// once it serves.
func startInstance(t testing.TB, dsn string, env ...string) *instance {
	t.Helper()
	return startUntil(t, servingLine, dsn, env...)
}

var (
	servingLine = regexp.MustCompile(`serving on (http://\S+)`)
	// waitingLine is printed instead while the database is not usable.
	waitingLine = regexp.MustCompile(`/healthz and /readyz answer on (\S+)`)
)

// startUntil starts `shelf serve` and returns once it prints a line that
// line matches, with the instance's base URL from the line's address.
func startUntil(t testing.TB, line *regexp.Regexp, dsn string, env ...string) *instance {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), append([]string{"SHELF_TEST_SERVE=1", "SHELF_MYSQL_DSN=" + dsn,
		"SHELF_ADDR=127.0.0.1:0", "SHELF_LOG_LEVEL=error"}, env...)...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	in := &instance{cmd: cmd, done: make(chan error, 1)}
	urls := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if m := line.FindStringSubmatch(sc.Text()); m != nil {
				urls <- "http://" + strings.TrimPrefix(m[1], "http://")
			}
		}
		in.done <- cmd.Wait()
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
	})
	select {
	case in.base = <-urls:
	case err := <-in.done:
		t.Fatalf("shelf serve exited: %v", err)
	case <-time.After(60 * time.Second):
		t.Fatal("shelf serve printed no URL")
	}
	return in
}

func (in *instance) do(t testing.TB, key, method, path, body string) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest(method, in.base+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, b
}

// available reads the storefront's "available" of the page's first variant.
func (in *instance) available(t testing.TB, slug string) int64 {
	t.Helper()
	code, body := in.do(t, "", "GET", "/v1/products/"+slug, "")
	if code != 200 {
		t.Fatalf("GET product %s: %d %s", slug, code, body)
	}
	var p struct{ Variants []struct{ Available int64 } }
	if err := json.Unmarshal(body, &p); err != nil || len(p.Variants) == 0 {
		t.Fatalf("product page %s: %v", body, err)
	}
	return p.Variants[0].Available
}

func newKey(t testing.TB, d *dbtest.DB) string {
	t.Helper()
	secret, _, err := auth.NewKeys(d.Store.Q).Create(context.Background(), "ops",
		[]string{auth.ScopeCatalogWrite, auth.ScopeInventoryWrite, auth.ScopeOrdersRead})
	if err != nil {
		t.Fatal(err)
	}
	return secret
}

const oneProduct = `{"slug":"mug","title":"Mug","brand":"Acme","category":"Kitchen",
 "variants":[{"sku":"MUG-1","price":"9.00","on_hand":5}]}`

// Two `shelf serve` processes on one database: a write on one shows on the
// other's cached product page and event stream, and SIGTERM stops both
// cleanly even with a stream open.
func TestTwoInstancesSeeEachOthersWrites(t *testing.T) {
	d := dbtest.New(t)
	key := newKey(t, d)
	// Long TTLs: only the change feed can make B show A's writes.
	a := startInstance(t, d.DSN, "SHELF_DETAIL_CACHE_TTL=1h", "SHELF_SHUTDOWN_TIMEOUT=60s")
	// B's read and write timeouts are short: its stream must outlive them.
	b := startInstance(t, d.DSN, "SHELF_DETAIL_CACHE_TTL=1h", "SHELF_SHUTDOWN_TIMEOUT=60s", "SHELF_READ_TIMEOUT=2s", "SHELF_WRITE_TIMEOUT=2s")
	if code, body := a.do(t, key, "POST", "/v1/admin/products", oneProduct); code != 201 {
		t.Fatalf("create on A: %d %s", code, body)
	}
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		for deadline := time.Now().Add(30 * time.Second); !ok(); time.Sleep(5 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("B never showed %s", what)
			}
		}
	}
	if got := b.available(t, "mug"); got != 5 { // B caches the page
		t.Fatalf("B shows %d available, want 5", got)
	}
	// B's stream, opened now, must carry A's next write.
	req, _ := http.NewRequest("GET", b.base+"/v1/events?types=stock.changed", nil)
	stream, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer stream.Body.Close()
	lines := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(stream.Body)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	time.Sleep(3 * time.Second) // past B's timeouts
	for _, n := range []int64{3, 0, 7} {
		if code, body := a.do(t, key, "PUT", "/v1/admin/inventory/MUG-1", `{"on_hand":`+strconv.FormatInt(n, 10)+`}`); code != 200 {
			t.Fatalf("set stock on A: %d %s", code, body)
		}
		// A shows its own write at once (read-your-writes on the writer) ...
		if got := a.available(t, "mug"); got != n {
			t.Fatalf("A shows %d right after setting %d", got, n)
		}
		// ... and B soon after, though its page is cached for an hour.
		waitFor("stock "+strconv.FormatInt(n, 10), func() bool { return b.available(t, "mug") == n })
	}
	// (The stream starts where B's tail is, so it may also carry the
	// creation's stock, just before it was opened.)
	got := ""
	for !strings.Contains(got, `"available":3`) {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatal("B's stream ended")
			}
			if strings.HasPrefix(l, "data: ") {
				got = l
			}
		case <-time.After(30 * time.Second):
			t.Fatal("B's stream carried nothing of A's writes")
		}
	}
	if !strings.Contains(got, `"sku":"MUG-1"`) || !strings.Contains(got, `"delta":-2`) {
		t.Fatalf("B's stream: %s", got)
	}
	// SIGTERM with a stream still open on B: both exit 0, well before the
	// 60 s drain timeout would have made Shutdown fail.
	for _, in := range []*instance{a, b} {
		_ = in.cmd.Process.Signal(syscall.SIGTERM)
	}
	for name, in := range map[string]*instance{"A": a, "B": b} {
		select {
		case err := <-in.done:
			if err != nil {
				t.Fatalf("%s exited with %v", name, err)
			}
		case <-time.After(45 * time.Second):
			t.Fatalf("%s did not stop on SIGTERM", name)
		}
	}
}
