//go:build cluster

package clustertest

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/shelfcommerce/shelf/internal/orders/orderstest"
	"github.com/shelfcommerce/shelf/internal/store"
)

// A storefront pages a listing while the balancer sends each page to another
// instance: no page is refused, none is skipped or repeated, and no instance
// was given a shared secret.
func TestListingPagedAcrossInstances(t *testing.T) {
	dsns := clusterDB(t)
	seed(t, dsns[0], orderstest.Simple("page", 30, 1000, 5)...)
	_, base := threeInstances(t, dsns, singleWriter)
	seen := map[string]int{}
	backends := map[string]bool{}
	next := ""
	for page := 0; page == 0 || next != ""; page++ {
		if page > 10 {
			t.Fatal("more than 10 pages of 7 for 30 products")
		}
		u := base + "/v1/products?sort=title&limit=7"
		if next != "" {
			u += "&cursor=" + next
		}
		r := mustCall(t, http.MethodGet, u, "")
		if r.Status != http.StatusOK {
			t.Fatalf("page %d from %s: %s", page+1, r.Header.Get("X-Test-Backend"), r)
		}
		backends[r.Header.Get("X-Test-Backend")] = true
		var body struct {
			Items []struct {
				Slug string `json:"slug"`
			} `json:"items"`
			NextCursor *string `json:"next_cursor"`
		}
		if err := json.Unmarshal(r.Body, &body); err != nil {
			t.Fatal(err)
		}
		for _, it := range body.Items {
			seen[it.Slug]++
		}
		next = ""
		if body.NextCursor != nil {
			next = *body.NextCursor
		}
	}
	if len(backends) < 2 {
		t.Fatalf("every page came from one instance %v: the test proves nothing", backends)
	}
	for i := range 30 {
		if slug := fmt.Sprintf("page-%d", i); seen[slug] != 1 {
			t.Errorf("%s listed %d times", slug, seen[slug])
		}
	}
	if len(seen) != 30 {
		t.Errorf("%d products listed, want 30", len(seen))
	}
}

// readers starts three single-writer instances that read the storefront
// from node 2 or 3: never from the node they write to.
func readers(t *testing.T, dsns []string) []*instance {
	t.Helper()
	var insts []*instance
	for i := range 3 {
		insts = append(insts, startShelf(t, fmt.Sprintf("shelf-%d", i+1), dsns[0], dsns[1+i%2]))
	}
	return insts
}

// Reads that must not lag, with storefront reads going to other nodes: an
// admin sees the stock just set, from any instance, and a buyer reads the
// order just placed, from the instance that placed it and from another.
func TestReadYourWritesThroughTheReadDSN(t *testing.T) {
	dsns := clusterDB(t)
	seeded := seed(t, dsns[0], orderstest.Simple("ryw", 1, 1000, 5)...)
	key := apiKey(t, dsns[0])
	insts := readers(t, dsns)
	adminURL := fmt.Sprintf("/v1/admin/products/%d", seeded.ProductID["ryw-0"])
	for i := range 30 {
		in, other := insts[i%3], insts[(i+1)%3]
		want := 100 + i
		setStock(t, in, key, "ryw-0", want)
		for _, reader := range []*instance{in, other} {
			r := mustCall(t, http.MethodGet, reader.URL+adminURL, "", "Authorization", "Bearer "+key)
			var p struct {
				Variants []struct {
					OnHand int `json:"on_hand"`
				} `json:"variants"`
			}
			if err := json.Unmarshal(r.Body, &p); err != nil || r.Status != http.StatusOK || len(p.Variants) != 1 {
				t.Fatalf("admin GET product on %s: %s", reader.Name, r)
			}
			if p.Variants[0].OnHand != want {
				t.Errorf("round %d: %s set the stock to %d, the admin API on %s showed %d", i, in.Name, want, reader.Name, p.Variants[0].OnHand)
			}
		}

		r := mustCall(t, http.MethodPost, in.URL+"/v1/orders", orderBody("ryw@example.com", "ryw-0", 1),
			"Idempotency-Key", "ryw-"+strconv.Itoa(i))
		if r.Status != http.StatusCreated {
			t.Fatalf("order on %s: %s", in.Name, r)
		}
		var o struct {
			ID          any    `json:"id"`
			AccessToken string `json:"access_token"`
		}
		if err := json.Unmarshal(r.Body, &o); err != nil {
			t.Fatal(err)
		}
		for _, reader := range []*instance{in, other} {
			g := mustCall(t, http.MethodGet, fmt.Sprintf("%s/v1/orders/%v", reader.URL, o.ID), "", "Authorization", "Bearer "+o.AccessToken)
			if g.Status != http.StatusOK {
				t.Errorf("round %d: order placed on %s, read on %s: %s", i, in.Name, reader.Name, g)
			}
		}
	}
}

// The contract's "after a write returns, every read on the instance that
// made it shows the write" holds for the storefront's product page too, with
// its cache on and its reads on another node.
func TestProductPageShowsTheInstancesOwnWrite(t *testing.T) {
	dsns := clusterDB(t)
	seed(t, dsns[0], orderstest.Simple("own", 1, 1000, 5)...)
	key := apiKey(t, dsns[0])
	insts := readers(t, dsns)
	for i := range 30 {
		in := insts[i%3]
		want := 100 + i
		setStock(t, in, key, "own-0", want)
		r := mustCall(t, http.MethodGet, in.URL+"/v1/products/own-0", "")
		var p struct {
			Variants []struct {
				Available int `json:"available"`
			} `json:"variants"`
		}
		if err := json.Unmarshal(r.Body, &p); err != nil || r.Status != http.StatusOK || len(p.Variants) != 1 {
			t.Fatalf("GET product on %s: %s", in.Name, r)
		}
		if p.Variants[0].Available != want {
			t.Errorf("round %d: %s set the stock to %d and then showed %d", i, in.Name, want, p.Variants[0].Available)
		}
	}
}

func setStock(t *testing.T, in *instance, key, sku string, onHand int) {
	t.Helper()
	r := mustCall(t, http.MethodPut, in.URL+"/v1/admin/inventory/"+sku, fmt.Sprintf(`{"on_hand": %d}`, onHand),
		"Authorization", "Bearer "+key)
	if r.Status != http.StatusOK {
		t.Fatalf("PUT inventory on %s: %s", in.Name, r)
	}
}

// nodePID is the process id of the Galera node server (a DSN without a
// database), from its pid file.
func nodePID(t *testing.T, server string) int {
	t.Helper()
	sqlDB, err := store.OpenDB(context.Background(), server, store.PoolConfig{MaxOpen: 1, MaxIdle: 1, MaxLifetime: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	defer sqlDB.Close()
	var file string
	if err := sqlDB.QueryRowContext(context.Background(), "SELECT @@pid_file").Scan(&file); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatalf("pid file %s: %v", file, err)
	}
	return pid
}

// A Galera node dies (kill -9): the instance on it answers 503 with
// Retry-After, not 500, and leaves the balancer through /readyz, while the
// instance on a live node goes on selling; after the node rejoins, the same
// process serves again.
func TestKilledGaleraNodeTurnsItsInstanceInto503UntilItRejoins(t *testing.T) {
	dsns := clusterDB(t)
	seed(t, dsns[0], orderstest.Simple("kill", 1, 1000, 1000)...)
	onDying := startShelf(t, "shelf-on-node-3", dsns[2], "")
	onLive := startShelf(t, "shelf-on-node-1", dsns[0], "")
	for _, in := range []*instance{onDying, onLive} {
		if r := mustCall(t, http.MethodPost, in.URL+"/v1/orders", orderBody("k@example.com", "kill-0", 1), "Idempotency-Key", "before-"+in.Name); r.Status != http.StatusCreated {
			t.Fatalf("order on %s before the kill: %s", in.Name, r)
		}
	}
	pid := nodePID(t, galera[2])
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	// Whatever happens below, the cluster is whole again for the next test.
	t.Cleanup(func() {
		if _, err := ensureGalera(); err != nil {
			t.Errorf("restart the killed node: %v", err)
		}
	})

	eventually(t, 10*time.Second, "the dead node's instance is not ready", statusIs(onDying.URL+"/readyz", http.StatusServiceUnavailable))
	assertOutage(t, onDying, "during")
	if r := mustCall(t, http.MethodGet, onDying.URL+"/healthz", ""); r.Status != http.StatusOK {
		t.Errorf("/healthz while the database is away: %s", r)
	}
	// The live nodes hold their commits until Galera has evicted the dead
	// one (evs.suspect_timeout, 5 s by default), so the first orders on the
	// live instance may be 503s; then it sells while node 3 is still dead.
	for i := range 3 {
		eventually(t, 30*time.Second, "an order on the live node's instance", func() error {
			r, err := placeOrder(context.Background(), onLive.URL, fmt.Sprintf("live-%d", i), "k@example.com", "kill-0", 1)
			if err != nil {
				return err
			}
			if r.Status != http.StatusCreated {
				if later := isRetryLater(r); later != nil {
					t.Errorf("order on the live node's instance while node 3 is dead: %v", later)
				}
				return fmt.Errorf("answered %s", tail(r.String(), 200))
			}
			return nil
		})
	}

	if _, err := ensureGalera(); err != nil {
		t.Fatalf("restart node 3: %v", err)
	}
	eventually(t, 30*time.Second, "the instance is ready again", statusIs(onDying.URL+"/readyz", http.StatusOK))
	eventually(t, 10*time.Second, "the instance lists again", statusIs(onDying.URL+"/v1/products?limit=5", http.StatusOK))
	// The order tried during the outage, retried with its key, goes through.
	r := mustCall(t, http.MethodPost, onDying.URL+"/v1/orders", orderBody("k@example.com", "kill-0", 1), "Idempotency-Key", "during-"+onDying.Name)
	if r.Status != http.StatusCreated {
		t.Fatalf("the outage's order retried after the rejoin: %s", r)
	}
}

// assertOutage checks the storefront's answers of an instance whose database
// is gone: a listing, a product page that was never cached and an order
// are each a 503 problem with Retry-After, and the order's key stays usable.
func assertOutage(t *testing.T, in *instance, when string) {
	t.Helper()
	checks := []struct {
		what string
		do   func() (reply, error)
	}{
		{"listing", func() (reply, error) {
			return call(context.Background(), http.MethodGet, in.URL+"/v1/products?limit=3", "")
		}},
		{"product page", func() (reply, error) {
			return call(context.Background(), http.MethodGet, in.URL+"/v1/products/no-such-product-"+when, "")
		}},
		{"order", func() (reply, error) {
			return placeOrder(context.Background(), in.URL, when+"-"+in.Name, "k@example.com", "kill-0", 1)
		}},
	}
	for _, c := range checks {
		r, err := c.do()
		if err != nil {
			t.Errorf("%s on %s with the database away: no answer: %v", c.what, in.Name, err)
			continue
		}
		if err := isOutage(r); err != nil {
			t.Errorf("%s on %s with the database away: %v", c.what, in.Name, err)
		}
	}
}

// A node that is up but not Synced (here: desynced by hand, as a donor is
// during a state transfer) takes its instance out of the balancer, and
// back in once it is Synced again.
func TestNotSyncedNodeIsNotReady(t *testing.T) {
	dsns := clusterDB(t)
	in := startShelf(t, "shelf-on-node-3", dsns[2], "")
	eventually(t, 10*time.Second, "the instance is ready", statusIs(in.URL+"/readyz", http.StatusOK))
	node, err := store.OpenDB(context.Background(), galera[2], store.PoolConfig{MaxOpen: 1, MaxIdle: 1, MaxLifetime: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	defer node.Close()
	if _, err := node.Exec("SET GLOBAL wsrep_desync = ON"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = node.Exec("SET GLOBAL wsrep_desync = OFF") })
	eventually(t, 10*time.Second, "a desynced node's instance is not ready", statusIs(in.URL+"/readyz", http.StatusServiceUnavailable))
	if _, err := node.Exec("SET GLOBAL wsrep_desync = OFF"); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "the instance is ready again", statusIs(in.URL+"/readyz", http.StatusOK))
}
