package catalog_test

import (
	"context"
	"encoding/json"
	"maps"
	"strings"
	"testing"

	"github.com/shelfcommerce/shelf/internal/catalog"
	"github.com/shelfcommerce/shelf/internal/dbtest"
	"github.com/shelfcommerce/shelf/internal/events"
)

// recorded is one row of the outbox, decoded.
type recorded struct {
	Type string
	Data map[string]any
}

// outbox returns the events recorded after id, in id order, and the last id.
func outbox(t *testing.T, d *dbtest.DB, after uint64) ([]recorded, uint64) {
	t.Helper()
	evs, last, err := events.Recorded(context.Background(), d.DB, after)
	if err != nil {
		t.Fatal(err)
	}
	var out []recorded
	for _, e := range evs {
		r := recorded{Type: e.Type}
		if err := json.Unmarshal(e.Data, &r.Data); err != nil {
			t.Fatalf("an event is not JSON: %v: %s", err, e.Data)
		}
		if r.Data["type"] != r.Type || r.Data["occurred_at"] == nil {
			t.Fatalf("an event lacks its type or occurred_at: %s", e.Data)
		}
		out = append(out, r)
	}
	return out, last
}

func countTypes(evs []recorded) map[string]int {
	m := map[string]int{}
	for _, e := range evs {
		m[e.Type]++
	}
	return m
}

func importCSV(t *testing.T, d *dbtest.DB, body string) *catalog.ImportReport {
	t.Helper()
	rep, err := importFile(context.Background(), d.Store, "csv", strings.NewReader(body), catalog.ImportOptions{Actor: "test"})
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func TestImportRecordsOneEventPerChange(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	importCSV(t, d, sampleCSV(4)) // 4 products of 3 variants, all with stock
	evs, last := outbox(t, d, 0)
	if got, want := countTypes(evs), map[string]int{"product.updated": 4, "price.changed": 12, "stock.changed": 12}; !maps.Equal(got, want) {
		t.Fatalf("first import recorded %v, want %v", got, want)
	}

	// The same file again: nothing changed, nothing recorded.
	importCSV(t, d, sampleCSV(4))
	if evs, _ := outbox(t, d, last); len(evs) != 0 {
		t.Fatalf("re-import of an unchanged file recorded %d events: %v", len(evs), evs)
	}

	// One product's one variant gets a new price, another variant new stock.
	body := strings.Replace(sampleCSV(4), "SKU-2-M,12.99", "SKU-2-M,13.49", 1)
	body = strings.Replace(body, "SKU-2-L,12.99,7", "SKU-2-L,12.99,70", 1)
	if body == sampleCSV(4) {
		t.Fatal("test file did not change")
	}
	importCSV(t, d, body)
	evs, _ = outbox(t, d, last)
	if got, want := countTypes(evs), map[string]int{"product.updated": 1, "price.changed": 1, "stock.changed": 1}; !maps.Equal(got, want) {
		t.Fatalf("changed import recorded %v, want %v", got, want)
	}
	for _, e := range evs {
		switch e.Type {
		case "product.updated":
			if e.Data["slug"] != "p-2" || e.Data["product_id"] == nil {
				t.Errorf("product.updated: %v", e.Data)
			}
		case "price.changed":
			p, _ := e.Data["price"].(map[string]any)
			if e.Data["sku"] != "SKU-2-M" || p["amount"] != "13.49" || p["currency"] != "USD" {
				t.Errorf("price.changed: %v", e.Data)
			}
		case "stock.changed":
			if e.Data["sku"] != "SKU-2-L" || e.Data["available"] != 70.0 || e.Data["delta"] != 63.0 {
				t.Errorf("stock.changed: %v", e.Data)
			}
		}
	}
}

func TestDryRunImportRecordsNothing(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	if _, err := importFile(context.Background(), d.Store, "csv", strings.NewReader(sampleCSV(2)),
		catalog.ImportOptions{DryRun: true}); err != nil {
		t.Fatal(err)
	}
	if evs, _ := outbox(t, d, 0); len(evs) != 0 {
		t.Fatalf("a dry run recorded %d events", len(evs))
	}
}

func TestStockAndArchiveRecordTheirEvents(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	importCSV(t, d, sampleCSV(1))
	_, last := outbox(t, d, 0)
	ctx := context.Background()
	three := int64(3)
	if _, err := catalog.SetStock(ctx, d.Store, catalog.StockChange{SKU: "SKU-0-S", OnHand: &three, Reason: "set"}); err != nil {
		t.Fatal(err)
	}
	// Refused (stock cannot go negative): rolled back, nothing recorded.
	if _, err := catalog.SetStock(ctx, d.Store, catalog.StockChange{SKU: "SKU-0-S", Delta: -10, Reason: "damaged"}); err == nil {
		t.Fatal("an adjustment below zero was accepted")
	}
	evs, l := outbox(t, d, last)
	if len(evs) != 1 || evs[0].Type != "stock.changed" || evs[0].Data["available"] != 3.0 || evs[0].Data["delta"] != -2.0 || evs[0].Data["sku"] != "SKU-0-S" {
		t.Fatalf("set stock recorded %v", evs)
	}
	var id uint64
	if err := d.DB.QueryRow("SELECT id FROM products WHERE slug = 'p-0'").Scan(&id); err != nil {
		t.Fatal(err)
	}
	if err := catalog.ArchiveProduct(ctx, d.Store, id); err != nil {
		t.Fatal(err)
	}
	if err := catalog.ArchiveProduct(ctx, d.Store, id); err != nil { // already archived: no second event
		t.Fatal(err)
	}
	evs, _ = outbox(t, d, l)
	if len(evs) != 1 || evs[0].Type != "product.deleted" || evs[0].Data["slug"] != "p-0" || evs[0].Data["product_id"] != float64(id) {
		t.Fatalf("archive recorded %v", evs)
	}
}

// A product archived by a write says product.deleted once: a later write to
// the archived product is an update, not a second removal.
func TestArchivedByAWriteIsDeletedOnce(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	file := func(status, price string) string {
		return "handle,title,sku,price,status\np-0,Product,SKU-0," + price + "," + status + "\n"
	}
	importCSV(t, d, file("active", "5.00"))
	_, last := outbox(t, d, 0)
	importCSV(t, d, file("archived", "5.00"))
	evs, l := outbox(t, d, last)
	if got, want := countTypes(evs), map[string]int{"product.updated": 1, "product.deleted": 1}; !maps.Equal(got, want) {
		t.Fatalf("archiving import recorded %v, want %v", got, want)
	}
	importCSV(t, d, file("archived", "6.00"))
	evs, _ = outbox(t, d, l)
	if got, want := countTypes(evs), map[string]int{"product.updated": 1, "price.changed": 1}; !maps.Equal(got, want) {
		t.Errorf("a write to the archived product recorded %v, want %v", got, want)
	}
}
