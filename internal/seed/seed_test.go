package seed_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/shelfcommerce/shelf/internal/catalog"
	"github.com/shelfcommerce/shelf/internal/dbtest"
	"github.com/shelfcommerce/shelf/internal/events"
	"github.com/shelfcommerce/shelf/internal/seed"
	"github.com/shelfcommerce/shelf/internal/store"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

// outbox is every event recorded, in order.
func outbox(t *testing.T, db *sql.DB) []events.Event {
	t.Helper()
	evs, _, err := events.Recorded(context.Background(), db, 0)
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

func count(t *testing.T, db *sql.DB, query string) int64 {
	t.Helper()
	var n int64
	if err := db.QueryRow(query).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

// snapshot is the read model: every listing row, every category count and
// every attribute count.
func snapshot(t *testing.T, db *sql.DB) string {
	t.Helper()
	var b strings.Builder
	rows, err := db.Query(`SELECT category_id, product_id, slug, title, brand, price_min, currency, in_stock, created_at
		FROM product_listing ORDER BY category_id, product_id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var c, p, price int64
		var slug, title, brand, cur string
		var in bool
		var at sql.NullTime
		if err := rows.Scan(&c, &p, &slug, &title, &brand, &price, &cur, &in, &at); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintln(&b, c, p, slug, title, brand, price, cur, in, at.Time.UnixMicro())
	}
	crow, err := db.Query("SELECT id, product_count FROM categories ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	defer crow.Close()
	for crow.Next() {
		var id, n int64
		_ = crow.Scan(&id, &n)
		fmt.Fprintln(&b, "cat", id, n)
	}
	arow, err := db.Query("SELECT category_id, name, value, products FROM listing_attribute_counts WHERE products <> 0 ORDER BY category_id, name, value")
	if err != nil {
		t.Fatal(err)
	}
	defer arow.Close()
	for arow.Next() {
		var id, n int64
		var name, value string
		_ = arow.Scan(&id, &name, &value, &n)
		fmt.Fprintln(&b, "attr", id, name, value, n)
	}
	frow, err := db.Query("SELECT category_id, facet, value, products FROM listing_facet_counts WHERE products <> 0 ORDER BY category_id, facet, value")
	if err != nil {
		t.Fatal(err)
	}
	defer frow.Close()
	for frow.Next() {
		var id, n int64
		var facet, value string
		_ = frow.Scan(&id, &facet, &value, &n)
		fmt.Fprintln(&b, "facet", id, facet, value, n)
	}
	return b.String()
}

// The demo catalog loads once; a second run finds it and writes nothing.
// The bulk-built read model is exactly what SyncListing (the row-by-row
// maintenance every write uses) would make of the same tables.
func TestDemoIsIdempotentAndAgreesWithSyncListing(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	ctx := context.Background()
	res, err := seed.Demo(ctx, d.Store)
	if err != nil {
		t.Fatal(err)
	}
	if res.Skipped || res.Products != seed.DemoProducts || res.Categories != 126 {
		t.Fatalf("first load: %+v", res)
	}
	before := snapshot(t, d.DB)
	products := count(t, d.DB, "SELECT COUNT(*) FROM products")
	variants := count(t, d.DB, "SELECT COUNT(*) FROM variants")
	if variants < products*2 || variants > products*3 {
		t.Errorf("%d variants for %d products, want about 2.5 each", variants, products)
	}
	if n := count(t, d.DB, "SELECT MAX(depth) FROM categories"); n != 2 {
		t.Errorf("tree depth %d, want three levels", n+1)
	}
	// Like an import of new products, the load wrote its events and its
	// stock ledger: a stream or webhook hears of every product, price and
	// stock level, and the stock.changed events say the levels stored.
	for q, want := range map[string]int64{
		"SELECT COUNT(*) FROM stock_movements WHERE reason = 'seed'": variants,
	} {
		if got := count(t, d.DB, q); got != want {
			t.Errorf("%s: %d, want %d", q, got, want)
		}
	}
	evs := outbox(t, d.DB)
	byType := map[string]int64{}
	levels := map[uint64]int64{}
	rows, err := d.DB.Query("SELECT variant_id, on_hand FROM inventory")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id uint64
		var onHand int64
		if err := rows.Scan(&id, &onHand); err != nil {
			t.Fatal(err)
		}
		levels[id] = onHand
	}
	rows.Close()
	for _, e := range evs {
		byType[e.Type]++
		if e.Type != "stock.changed" {
			continue
		}
		var f struct {
			VariantID uint64 `json:"variant_id"`
			Available int64  `json:"available"`
		}
		if err := json.Unmarshal(e.Data, &f); err != nil {
			t.Fatal(err)
		}
		if on, ok := levels[f.VariantID]; !ok || on != f.Available {
			t.Errorf("stock.changed of variant %d says %d available, inventory has %d (%v)", f.VariantID, f.Available, on, ok)
		}
	}
	for typ, want := range map[string]int64{"product.updated": products, "price.changed": variants, "stock.changed": variants} {
		if byType[typ] != want {
			t.Errorf("%d %s events, want %d", byType[typ], typ, want)
		}
	}
	again, err := seed.Demo(ctx, d.Store)
	if err != nil || !again.Skipped {
		t.Fatalf("second load: %+v %v", again, err)
	}
	if count(t, d.DB, "SELECT COUNT(*) FROM products") != products || snapshot(t, d.DB) != before ||
		len(outbox(t, d.DB)) != len(evs) {
		t.Fatal("a second seed changed the catalog or recorded events")
	}

	var ids []uint64
	rows, err = d.DB.Query("SELECT id FROM products")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id uint64
		_ = rows.Scan(&id)
		ids = append(ids, id)
	}
	rows.Close()
	if err := d.InTx(ctx, func(tx *store.Tx) error { return catalog.SyncListing(ctx, tx, ids) }); err != nil {
		t.Fatal(err)
	}
	if after := snapshot(t, d.DB); after != before {
		t.Error("SyncListing changed the bulk-built read model")
	}
}

// A load that rebuilds the indexes leaves the schema exactly as the
// migrations made it, and the same seed gives the same catalog.
func TestRebuildIndexesMatchMigrations(t *testing.T) {
	t.Parallel()
	fresh := dbtest.New(t)
	loaded := dbtest.New(t)
	ctx := context.Background()
	if _, err := seed.Load(ctx, loaded.Store, seed.Options{Products: 500, Seed: 9, Chunk: 200, Workers: 2, RebuildIndexes: true}); err != nil {
		t.Fatal(err)
	}
	for _, table := range []string{"product_listing", "products"} {
		var n1, n2, c1, c2 string
		if err := fresh.DB.QueryRow("SHOW CREATE TABLE "+table).Scan(&n1, &c1); err != nil {
			t.Fatal(err)
		}
		if err := loaded.DB.QueryRow("SHOW CREATE TABLE "+table).Scan(&n2, &c2); err != nil {
			t.Fatal(err)
		}
		strip := func(s string) string { // AUTO_INCREMENT=n differs, nothing else may
			var out []string
			for _, f := range strings.Fields(s) {
				if !strings.HasPrefix(f, "AUTO_INCREMENT=") {
					out = append(out, f)
				}
			}
			return strings.Join(out, " ")
		}
		if strip(c1) != strip(c2) {
			t.Errorf("%s after a rebuilding load:\n%s\nmigrated:\n%s", table, c2, c1)
		}
	}
	other := dbtest.New(t)
	if _, err := seed.Load(ctx, other.Store, seed.Options{Products: 500, Seed: 9, Chunk: 500}); err != nil {
		t.Fatal(err)
	}
	if snapshot(t, other.DB) != snapshot(t, loaded.DB) {
		t.Error("the same seed and size gave different catalogs")
	}
}
