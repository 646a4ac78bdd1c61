package orders

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/shelfcommerce/shelf/internal/dbtest"
	"github.com/shelfcommerce/shelf/internal/orders/orderstest"
	"github.com/shelfcommerce/shelf/internal/problem"
	"github.com/shelfcommerce/shelf/internal/store"
)

// TestHotSKUNeverOversells: 200 buyers race for 10 units, several times;
// exactly 10 orders win and the stock ends at 0.
func TestHotSKUNeverOversells(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	s := NewService(d.Store, Config{})
	ctx := context.Background()
	for run := range 3 {
		sku := fmt.Sprintf("HOT%d-0", run)
		seed(t, d, orderstest.Simple(fmt.Sprintf("HOT%d", run), 1, 2500, 10)...)
		var wg sync.WaitGroup
		var mu sync.Mutex
		won, short := 0, 0
		var other []error
		for i := range 200 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := s.Place(ctx, PlaceParams{Scope: "hot", Key: fmt.Sprintf("%d-%d", run, i),
					Input: input(fmt.Sprintf("b%d@example.com", i), line(sku, 1))})
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					won++
				case problem.Is(err, problem.InsufficientStock):
					short++
				default:
					other = append(other, err)
				}
			}()
		}
		wg.Wait()
		if len(other) > 0 {
			t.Fatalf("run %d: unexpected errors: %v", run, other[:min(3, len(other))])
		}
		if won != 10 || short != 190 || onHand(t, d, sku) != 0 || ledgerSum(t, d, sku) != -10 {
			t.Fatalf("run %d: %d orders, %d refused, %d left, ledger %d; want 10, 190, 0, -10",
				run, won, short, onHand(t, d, sku), ledgerSum(t, d, sku))
		}
		// Each winner's ledger row has the level its own UPDATE left: the
		// ten rows hold 9 down to 0, once each, in the order they were written.
		var levels string
		if err := d.DB.QueryRow(`SELECT GROUP_CONCAT(m.on_hand_after ORDER BY m.id SEPARATOR ',')
			FROM stock_movements m JOIN variants v ON v.id = m.variant_id
			WHERE v.sku = ? AND m.reason = 'order'`, sku).Scan(&levels); err != nil || levels != "9,8,7,6,5,4,3,2,1,0" {
			t.Fatalf("run %d: ledger levels %q (%v), want 9 down to 0", run, levels, err)
		}
	}
}

// TestRandomMultiLineOrdersConserveStock: 100 buyers place random 2- and
// 3-line orders over a few SKUs (in random line order, so lock ordering is
// what keeps them from deadlocking), and a quarter cancel again. Stock never
// goes negative, stock + sold = initial for every SKU, and the ledger agrees.
func TestRandomMultiLineOrdersConserveStock(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	s := NewService(d.Store, Config{})
	ctx := context.Background()
	const skus, initial = 5, 40
	seed(t, d, orderstest.Simple("R", skus, 700, initial)...)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var other []error
	placed, cancelled, short := 0, 0, 0
	for i := range 100 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(i), 7))
			perm := r.Perm(skus)[:2+r.IntN(2)]
			var lines []LineInput
			for _, k := range perm {
				lines = append(lines, line(fmt.Sprintf("R-%d", k), 1+r.IntN(4)))
			}
			res, err := s.Place(ctx, PlaceParams{Scope: "r", Key: fmt.Sprint(i), Input: input("r@example.com", lines...)})
			cancel := err == nil && r.IntN(4) == 0
			if cancel {
				_, err = s.Transition(ctx, res.OrderID, Cancel, Access{Admin: true}, "test")
			}
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil && cancel:
				cancelled++
			case err == nil:
				placed++
			case problem.Is(err, problem.InsufficientStock):
				short++
			default:
				other = append(other, err)
			}
		}()
	}
	wg.Wait()
	if len(other) > 0 {
		t.Fatalf("unexpected errors (a deadlock that outlived the retry budget of %v is %v): %v", store.DefaultRetry.Budget,
			errors.Is(other[0], store.ErrBusy), other[:min(3, len(other))])
	}
	t.Logf("%d orders kept, %d cancelled, %d refused for stock", placed, cancelled, short)
	if placed+cancelled == 0 {
		t.Fatal("no order went through")
	}
	rows, err := d.DB.Query(`
		SELECT v.sku, i.on_hand,
		       CAST(COALESCE((SELECT SUM(l.quantity) FROM order_lines l JOIN orders o ON o.id = l.order_id
		                      WHERE l.variant_id = v.id AND o.status <> 'cancelled'), 0) AS SIGNED),
		       CAST(COALESCE((SELECT SUM(m.delta) FROM stock_movements m WHERE m.variant_id = v.id), 0) AS SIGNED)
		FROM variants v JOIN inventory i ON i.variant_id = v.id ORDER BY v.sku`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var sku string
		var stock, sold, ledger int64
		if err := rows.Scan(&sku, &stock, &sold, &ledger); err != nil {
			t.Fatal(err)
		}
		if stock < 0 || stock+sold != initial || ledger != -sold {
			t.Errorf("%s: stock %d + sold %d != %d, or ledger %d != -sold", sku, stock, sold, initial, ledger)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	var bad int
	if err := d.DB.QueryRow(`SELECT COUNT(*) FROM stock_movements m
		WHERE m.on_hand_after < 0`).Scan(&bad); err != nil || bad != 0 {
		t.Fatalf("%d ledger rows below zero (%v)", bad, err)
	}
}
