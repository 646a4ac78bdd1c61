//go:build cluster

package clustertest

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/shelfcommerce/shelf/internal/orders/orderstest"
)

// mariadb is a private mariadbd with its own data directory and port, for
// tests that kill or freeze the database (never the shared server).
type mariadb struct {
	t      testing.TB
	bin    string
	dir    string
	port   int
	cmd    *exec.Cmd
	Server string // DSN without a database
}

func startMariaDB(t testing.TB) *mariadb {
	t.Helper()
	bin, err := exec.LookPath("mariadbd")
	if err != nil {
		bin = "/usr/sbin/mariadbd"
	}
	installDB, err := exec.LookPath("mariadb-install-db")
	if err != nil {
		t.Fatalf("mariadb-install-db not found (apt-get install mariadb-server): %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	m := &mariadb{t: t, bin: bin, dir: t.TempDir(), port: port, Server: fmt.Sprintf("root@tcp(127.0.0.1:%d)/", port)}
	out, err := exec.Command(installDB, "--no-defaults", "--datadir="+filepath.Join(m.dir, "data"), "--tmpdir="+m.dir, "--user="+currentUser(),
		"--auth-root-authentication-method=normal", "--skip-test-db").CombinedOutput()
	if err != nil {
		t.Fatalf("mariadb-install-db: %v\n%s", err, out)
	}
	m.start()
	t.Cleanup(func() {
		if m.cmd != nil {
			_ = m.cmd.Process.Signal(syscall.SIGCONT)
			_ = m.cmd.Process.Kill()
			_ = m.cmd.Wait()
		}
	})
	return m
}

func currentUser() string {
	if u := os.Getenv("USER"); u != "" {
		return u
	}
	if os.Getuid() == 0 {
		return "root"
	}
	return strconv.Itoa(os.Getuid())
}

// start runs mariadbd on the data directory and waits until it answers.
func (m *mariadb) start() {
	m.t.Helper()
	m.cmd = exec.Command(m.bin, "--no-defaults", "--datadir="+filepath.Join(m.dir, "data"), "--tmpdir="+m.dir,
		"--socket="+filepath.Join(m.dir, "mariadbd.sock"), "--pid-file="+filepath.Join(m.dir, "mariadbd.pid"),
		"--port="+strconv.Itoa(m.port), "--bind-address=127.0.0.1", "--skip-name-resolve", "--user="+currentUser(),
		"--log-error="+filepath.Join(m.dir, "error.log"), "--character-set-server=utf8mb4",
		"--collation-server=utf8mb4_unicode_520_ci", "--innodb-buffer-pool-size=192M", "--innodb-log-file-size=64M",
		"--innodb-flush-log-at-trx-commit=2", "--max-connections=400")
	if err := m.cmd.Start(); err != nil {
		m.t.Fatal(err)
	}
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", m.port)); err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(m.dir, "error.log"))
			m.t.Fatalf("private mariadbd did not answer within 60 s:\n%s", tail(string(log), 2000))
		}
	}
}

// kill is kill -9; restart starts it again on the same data.
func (m *mariadb) kill() {
	_ = m.cmd.Process.Kill()
	_ = m.cmd.Wait()
	m.cmd = nil
}

func (m *mariadb) restart() { m.start() }

func (m *mariadb) signal(s syscall.Signal) {
	if err := m.cmd.Process.Signal(s); err != nil {
		m.t.Fatal(err)
	}
}

// retryingBuyers are storefront clients that place orders one after another,
// each retrying its Idempotency-Key until it gets a final answer, the way a
// careful client treats a 503. They record every status they were given.
type retryingBuyers struct {
	mu       sync.Mutex
	statuses map[int]int
	created  map[string]bool // keys that got a 201
	noAnswer []error
	stop     chan struct{}
	wg       sync.WaitGroup
}

func startBuyers(base, sku string, n int) *retryingBuyers {
	b := &retryingBuyers{statuses: map[int]int{}, created: map[string]bool{}, stop: make(chan struct{})}
	for w := range n {
		b.wg.Add(1)
		go func() {
			defer b.wg.Done()
			for seq := 0; ; seq++ {
				select {
				case <-b.stop:
					return
				default:
				}
				key := fmt.Sprintf("buyer-%d-%d", w, seq)
				// A key is retried for up to two minutes, even after stop.
				for deadline := time.Now().Add(2 * time.Minute); time.Now().Before(deadline); {
					r, err := placeOrder(context.Background(), base, key, fmt.Sprintf("b%d@example.com", w), sku, 1)
					b.mu.Lock()
					if err != nil {
						b.noAnswer = append(b.noAnswer, err)
					} else {
						b.statuses[r.Status]++
						if r.Status == http.StatusCreated {
							b.created[key] = true
						}
					}
					b.mu.Unlock()
					inUse := err == nil && r.Status == http.StatusConflict && strings.Contains(string(r.Body), "idempotency-key-in-use")
					if err == nil && r.Status != http.StatusServiceUnavailable && !inUse {
						break
					}
					time.Sleep(200 * time.Millisecond)
				}
			}
		}()
	}
	return b
}

// finish stops the buyers and checks what they saw: no 5xx but 503, no
// request left without an answer, and one order per key that got a 201.
func (b *retryingBuyers) finish(t *testing.T, dsn, sku string, initial int64) {
	t.Helper()
	close(b.stop)
	b.wg.Wait()
	t.Logf("buyers saw %v; %d keys got an order; %d requests without an answer", b.statuses, len(b.created), len(b.noAnswer))
	for s, n := range b.statuses {
		if s >= 500 && s != http.StatusServiceUnavailable {
			t.Errorf("%d answers of status %d", n, s)
		}
	}
	if len(b.noAnswer) > 0 {
		t.Errorf("%d requests got no answer within the client's 20 s, e.g. %v", len(b.noAnswer), b.noAnswer[0])
	}
	onHand, sold, orders := stockAndOrders(t, dsn, sku)
	if orders != int64(len(b.created)) || onHand+sold != initial {
		t.Errorf("%d orders in the database for %d keys answered 201; on_hand %d + sold %d != %d",
			orders, len(b.created), onHand, sold, initial)
	}
}

// twoInstancesOnPrivateServer starts a private server with a migrated,
// seeded database and two instances on it behind the proxy.
func twoInstancesOnPrivateServer(t *testing.T) (m *mariadb, dsn string, insts []*instance, base string) {
	t.Helper()
	m = startMariaDB(t)
	dsn = withDB(m.Server, migratedDB(t, m.Server))
	seed(t, dsn, orderstest.Simple("out", 1, 1000, 100000)...)
	for i := range 2 {
		insts = append(insts, startShelf(t, fmt.Sprintf("shelf-%d", i+1), dsn, ""))
	}
	return m, dsn, insts, newProxy(t, insts...).URL
}

// The single server is killed (kill -9) under retrying buyers: both
// instances answer 503 with Retry-After and leave the balancer, then serve
// again once it is back, and no order is lost or made twice.
func TestKilledServerTurnsBothInstancesInto503AndBack(t *testing.T) {
	m, dsn, insts, base := twoInstancesOnPrivateServer(t)
	buyers := startBuyers(base, "out-0", 8)
	time.Sleep(time.Second)
	m.kill()
	for _, in := range insts {
		eventually(t, 10*time.Second, in.Name+" is not ready", statusIs(in.URL+"/readyz", http.StatusServiceUnavailable))
		assertOutage(t, in, "killed")
		if r := mustCall(t, http.MethodGet, in.URL+"/healthz", ""); r.Status != http.StatusOK {
			t.Errorf("%s /healthz while the database is away: %s", in.Name, r)
		}
	}
	time.Sleep(2 * time.Second)
	m.restart()
	for _, in := range insts {
		eventually(t, 20*time.Second, in.Name+" is ready again", statusIs(in.URL+"/readyz", http.StatusOK))
		eventually(t, 10*time.Second, in.Name+" lists again", statusIs(in.URL+"/v1/products?limit=5", http.StatusOK))
	}
	time.Sleep(time.Second)
	buyers.finish(t, dsn, "out-0", 100000)
}

// The single server freezes (SIGSTOP, as in a network partition): requests
// are answered 503 within the client's patience instead of hanging, /readyz
// says so, and after SIGCONT the same processes serve again.
func TestFrozenServerAnswers503InsteadOfHanging(t *testing.T) {
	m, dsn, insts, base := twoInstancesOnPrivateServer(t)
	buyers := startBuyers(base, "out-0", 8)
	time.Sleep(time.Second)
	m.signal(syscall.SIGSTOP)
	thawed := false
	t.Cleanup(func() {
		if !thawed {
			m.signal(syscall.SIGCONT)
		}
	})
	for _, in := range insts {
		eventually(t, 10*time.Second, in.Name+" is not ready", statusIs(in.URL+"/readyz", http.StatusServiceUnavailable))
		assertOutage(t, in, "frozen")
		if r := mustCall(t, http.MethodGet, in.URL+"/healthz", ""); r.Status != http.StatusOK {
			t.Errorf("%s /healthz while the database is frozen: %s", in.Name, r)
		}
	}
	m.signal(syscall.SIGCONT)
	thawed = true
	for _, in := range insts {
		eventually(t, 20*time.Second, in.Name+" is ready again", statusIs(in.URL+"/readyz", http.StatusOK))
		eventually(t, 10*time.Second, in.Name+" lists again", statusIs(in.URL+"/v1/products?limit=5", http.StatusOK))
	}
	time.Sleep(time.Second)
	buyers.finish(t, dsn, "out-0", 100000)
}
