//go:build cluster

package clustertest

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/shelfcommerce/shelf/internal/dbtest"
	"github.com/shelfcommerce/shelf/internal/orders/orderstest"
)

// Two CI jobs deploying at once run `shelf migrate up` on two nodes: each
// migration is applied exactly once and both jobs succeed.
func TestConcurrentMigrateUpOnTwoNodesAppliesEachMigrationOnce(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(repoRoot, "migrations", "*.sql"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no migrations found: %v", err)
	}
	ctx := context.Background()
	for trial := range 3 {
		dsn, name, err := dbtest.CreateOn(ctx, galera[0])
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { dbtest.DropOn(context.Background(), galera[0], name) })
		caughtUp(t, withDB(galera[1], name)) // node 2 has the new database too
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for i := range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, errs[i] = shelfCLI(ctx, withDB(galera[i], name), "migrate", "up")
			}()
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Fatalf("trial %d: migrate up on node %d: %v", trial, i+1, err)
			}
		}
		st := openStore(t, dsn)
		var dup, applied int
		if err := st.DB.QueryRowContext(ctx, `SELECT COUNT(*) FROM (SELECT version_id FROM goose_db_version
			WHERE version_id > 0 GROUP BY version_id HAVING COUNT(*) > 1) d`).Scan(&dup); err != nil {
			t.Fatal(err)
		}
		if err := st.DB.QueryRowContext(ctx, `SELECT COUNT(*) FROM goose_db_version WHERE version_id > 0 AND is_applied = 1`).Scan(&applied); err != nil {
			t.Fatal(err)
		}
		if dup != 0 || applied != len(files) {
			t.Fatalf("trial %d: %d migrations recorded more than once, %d recorded, want %d once each", trial, dup, applied, len(files))
		}
		// A third node sees the schema complete.
		if out, err := shelfCLI(ctx, withDB(galera[2], name), "migrate", "status"); err != nil {
			t.Fatalf("trial %d: migrate status on node 3: %v\n%s", trial, err, out)
		}
	}
}

// topology is how the instances reach the cluster.
type topology struct {
	name string
	// dsn and readDSN of instance i, given the database's DSN on each node.
	dsn, readDSN func(dsns []string, i int) string
}

var (
	// singleWriter is the README's advice: every instance writes to node 1
	// and reads the storefront from its own node.
	singleWriter = topology{"single writer",
		func(d []string, _ int) string { return d[0] },
		func(d []string, i int) string { return d[i] }}
	// multiWriter gives each instance its own node for everything.
	multiWriter = topology{"multi-writer",
		func(d []string, i int) string { return d[i] },
		func([]string, int) string { return "" }}
)

// threeInstances starts one instance per node in the topology, behind a
// round-robin proxy.
func threeInstances(t *testing.T, dsns []string, top topology) ([]*instance, string) {
	t.Helper()
	var all []*instance
	for i := range dsns {
		all = append(all, startShelf(t, fmt.Sprintf("shelf-%d", i+1), top.dsn(dsns, i), top.readDSN(dsns, i)))
	}
	return all, newProxy(t, all...).URL
}

// buyers sends n concurrent one-unit orders of sku, each with its own key,
// and returns the statuses and the bodies of the unexpected answers.
func buyers(t *testing.T, base, sku string, n int) (map[int]int, []string) {
	t.Helper()
	var mu sync.Mutex
	statuses := map[int]int{}
	var odd []string
	var wg sync.WaitGroup
	start := make(chan struct{})
	for b := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			r, err := placeOrder(context.Background(), base, fmt.Sprintf("%s-buyer-%d", sku, b), fmt.Sprintf("buyer%d@example.com", b), sku, 1)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				statuses[0]++
				odd = append(odd, err.Error())
				return
			}
			statuses[r.Status]++
			if r.Status != http.StatusCreated && r.Status != http.StatusConflict {
				odd = append(odd, tail(r.String(), 300))
			}
		}()
	}
	close(start)
	wg.Wait()
	return statuses, odd
}

// stockAndOrders reads the SKU's stock and the units in orders from node 1,
// causally (wsrep_sync_wait=1): after every write committed on any node.
// Node 1 may apply the other nodes' orders a moment after they answered; a
// plain read once saw none of ten orders that had been answered 201.
func stockAndOrders(t *testing.T, dsn, sku string) (onHand, sold, orders int64) {
	t.Helper()
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Params == nil {
		cfg.Params = map[string]string{}
	}
	cfg.Params["wsrep_sync_wait"] = "1"
	db, err := sql.Open("mysql", cfg.FormatDSN())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.QueryRowContext(context.Background(), `
		SELECT i.on_hand,
		       COALESCE((SELECT SUM(l.quantity) FROM order_lines l WHERE l.variant_id = v.id), 0),
		       (SELECT COUNT(DISTINCT l.order_id) FROM order_lines l WHERE l.variant_id = v.id)
		FROM variants v JOIN inventory i ON i.variant_id = v.id WHERE v.sku = ?`, sku).Scan(&onHand, &sold, &orders); err != nil {
		t.Fatal(err)
	}
	return onHand, sold, orders
}

// 60 buyers through three instances on the cluster: the stock decides how
// many orders there are, exactly, and nobody sees a 5xx.
func TestBuyersOverThreeInstancesGetExactlyTheStock(t *testing.T) {
	dsns := clusterDB(t)
	seed(t, dsns[0], orderstest.Simple("TEN", 1, 1500, 10)...)
	seed(t, dsns[0], orderstest.Simple("SIXTY", 1, 1500, 60)...)
	_, base := threeInstances(t, dsns, singleWriter)
	for _, c := range []struct {
		sku   string
		units int
	}{{"TEN-0", 10}, {"SIXTY-0", 60}} {
		statuses, odd := buyers(t, base, c.sku, 60)
		onHand, sold, orders := stockAndOrders(t, dsns[0], c.sku)
		t.Logf("%s: statuses %v; on_hand %d, sold %d in %d orders", c.sku, statuses, onHand, sold, orders)
		if len(odd) > 0 {
			t.Errorf("%s: answers other than 201/409: %q", c.sku, odd)
		}
		if statuses[http.StatusCreated] != c.units || orders != int64(c.units) || sold != int64(c.units) || onHand != 0 {
			t.Errorf("%s: %d created, %d orders of %d units, %d left; want exactly %d orders and none left",
				c.sku, statuses[http.StatusCreated], orders, sold, onHand, c.units)
		}
	}
}

// With every instance writing to its own node, conflicts are certification
// failures at COMMIT: they may cost a 503, never a 500, and never oversell.
func TestMultiWriterBuyersNeverOversellNorSee500(t *testing.T) {
	dsns := clusterDB(t)
	seed(t, dsns[0], orderstest.Simple("MW", 1, 1500, 10)...)
	_, base := threeInstances(t, dsns, multiWriter)
	statuses, _ := buyers(t, base, "MW-0", 60)
	onHand, sold, orders := stockAndOrders(t, dsns[0], "MW-0")
	t.Logf("statuses %v; on_hand %d, sold %d in %d orders", statuses, onHand, sold, orders)
	for s, n := range statuses {
		if s != http.StatusCreated && s != http.StatusConflict && s != http.StatusServiceUnavailable {
			t.Errorf("%d answers of status %d", n, s)
		}
	}
	if onHand < 0 || onHand+sold != 10 || orders != int64(statuses[http.StatusCreated]) {
		t.Errorf("on_hand %d + sold %d != 10, or %d orders for %d 201s", onHand, sold, orders, statuses[http.StatusCreated])
	}
}

// 30 retries of one order, sent at once through every instance, in both
// topologies: one order, one answer, no 5xx.
func TestOneIdempotencyKeyOverAllInstancesMakesOneOrder(t *testing.T) {
	for _, top := range []topology{singleWriter, multiWriter} {
		t.Run(top.name, func(t *testing.T) {
			dsns := clusterDB(t)
			seed(t, dsns[0], orderstest.Simple("IDEM", 1, 2500, 100)...)
			_, base := threeInstances(t, dsns, top)
			var mu sync.Mutex
			var replies []reply
			var wg sync.WaitGroup
			start := make(chan struct{})
			for range 30 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					r, err := placeOrder(context.Background(), base, "one-key-for-all", "same@example.com", "IDEM-0", 2)
					mu.Lock()
					defer mu.Unlock()
					if err != nil {
						t.Errorf("no answer: %v", err)
						return
					}
					replies = append(replies, r)
				}()
			}
			close(start)
			wg.Wait()
			ids := map[string]bool{}
			for _, r := range replies {
				switch r.Status {
				case http.StatusCreated:
					ids[orderID(t, r)] = true
				case http.StatusConflict:
					if !strings.Contains(string(r.Body), "idempotency-key-in-use") {
						t.Errorf("409 that is not idempotency-key-in-use: %s", r)
					}
				default:
					t.Errorf("answer %s", tail(r.String(), 300))
				}
			}
			// Once the first request is done, the key answers its first answer.
			var last reply
			eventually(t, 30*time.Second, "a retry of the key is replayed", func() error {
				r, err := placeOrder(context.Background(), base, "one-key-for-all", "same@example.com", "IDEM-0", 2)
				if err != nil {
					return err
				}
				if r.Status != http.StatusCreated || r.Header.Get("Idempotent-Replayed") != "true" {
					return fmt.Errorf("retry answered %s", tail(r.String(), 300))
				}
				last = r
				return nil
			})
			ids[orderID(t, last)] = true
			onHand, sold, orders := stockAndOrders(t, dsns[0], "IDEM-0")
			if len(ids) != 1 || orders != 1 || sold != 2 || onHand != 98 {
				t.Errorf("order ids in answers %v; %d orders in the database, %d units sold, %d left; want one order of 2",
					ids, orders, sold, onHand)
			}
		})
	}
}

func orderID(t *testing.T, r reply) string {
	t.Helper()
	var o struct {
		ID          any    `json:"id"`
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal(r.Body, &o); err != nil || o.ID == nil {
		t.Fatalf("201 without an order id: %s", r)
	}
	return fmt.Sprint(o.ID)
}
