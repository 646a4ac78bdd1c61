package catalog_test

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"testing"

	"github.com/shelfcommerce/shelf/internal/catalog"
	"github.com/shelfcommerce/shelf/internal/dbtest"
	"github.com/shelfcommerce/shelf/internal/seed"
)

// TestProductPagesStayInStepWithWrites: after writes of every kind that
// changes a page (stock set, a category renamed, moved and deleted, a
// product archived), product_pages holds exactly what rendering every
// product afresh gives: one document per active product, none for others,
// at the product's current version.
func TestProductPagesStayInStepWithWrites(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	ctx := context.Background()
	if _, err := seed.Load(ctx, d.Store, seed.Options{Products: 300, Seed: 5, Chunk: 100}); err != nil {
		t.Fatal(err)
	}
	var sku string
	var archived, renamed, moved, deleted, top uint64
	mustScan(t, d.DB, "SELECT sku FROM variants WHERE sku IS NOT NULL ORDER BY id LIMIT 1", &sku)
	mustScan(t, d.DB, "SELECT product_id FROM product_pages ORDER BY product_id DESC LIMIT 1", &archived)
	mustScan(t, d.DB, "SELECT category_id FROM product_categories GROUP BY category_id ORDER BY COUNT(*) DESC LIMIT 1", &renamed)
	mustScan(t, d.DB, "SELECT id FROM categories WHERE parent_id IS NULL ORDER BY id LIMIT 1", &top)
	mustScan(t, d.DB, "SELECT id FROM categories WHERE parent_id IS NOT NULL AND parent_id <> ? AND id <> ? ORDER BY id LIMIT 1", &moved, top, renamed)
	mustScan(t, d.DB, `SELECT c.id FROM categories c WHERE NOT EXISTS (SELECT 1 FROM categories k WHERE k.parent_id = c.id)
		AND c.id NOT IN (?, ?) AND EXISTS (SELECT 1 FROM product_categories pc WHERE pc.category_id = c.id) ORDER BY c.id LIMIT 1`, &deleted, renamed, moved)

	n := int64(7)
	if _, err := catalog.SetStock(ctx, d.Store, catalog.StockChange{SKU: sku, OnHand: &n, Reason: "recount"}); err != nil {
		t.Fatal(err)
	}
	name := "Renamed & \"quoted\""
	if _, err := catalog.UpdateCategory(ctx, d.Store, renamed, catalog.CategoryPatch{Name: &name}); err != nil {
		t.Fatal(err)
	}
	if _, err := catalog.UpdateCategory(ctx, d.Store, moved, catalog.CategoryPatch{MoveTo: true, ParentID: top}); err != nil {
		t.Fatal(err)
	}
	if err := catalog.DeleteCategory(ctx, d.Store, deleted); err != nil {
		t.Fatal(err)
	}
	if err := catalog.ArchiveProduct(ctx, d.Store, archived); err != nil {
		t.Fatal(err)
	}

	stored := pagesOf(t, d.DB)
	if !strings.Contains(stored, name[:7]) {
		t.Fatalf("no page shows the renamed category")
	}
	tx, err := d.DB.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	ids := productIDs(t, tx)
	if _, err := tx.ExecContext(ctx, "DELETE FROM product_pages"); err != nil {
		t.Fatal(err)
	}
	if err := catalog.SyncPages(ctx, tx, ids); err != nil {
		t.Fatal(err)
	}
	if fresh := pagesOf(t, tx); fresh != stored {
		t.Fatalf("stored pages differ from pages rendered afresh:\nstored %.2000s\nfresh  %.2000s", stored, fresh)
	}
}

// querier is a pool or a transaction.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// productIDs is the id of every product.
func productIDs(t *testing.T, q querier) []uint64 {
	t.Helper()
	rows, err := q.QueryContext(context.Background(), "SELECT id FROM products")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var ids []uint64
	for rows.Next() {
		var id uint64
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return ids
}

// pagesOf is every stored page with the product's status and version.
func pagesOf(t *testing.T, q querier) string {
	t.Helper()
	rows, err := q.QueryContext(context.Background(), `SELECT p.id, p.status, p.version, pp.version, pp.variant_ids, pp.body
		FROM products p LEFT JOIN product_pages pp ON pp.product_id = p.id ORDER BY p.id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var b strings.Builder
	for rows.Next() {
		var id, version uint64
		var status string
		var pageVersion sql.NullInt64
		var ids, body sql.NullString
		if err := rows.Scan(&id, &status, &version, &pageVersion, &ids, &body); err != nil {
			t.Fatal(err)
		}
		if (status == "active") != body.Valid || (body.Valid && uint64(pageVersion.Int64) != version) {
			t.Errorf("product %d (%s, version %d): page version %v", id, status, version, pageVersion)
		}
		fmt.Fprintf(&b, "%d %v %s %s\n", id, pageVersion, ids.String, body.String)
	}
	return b.String()
}

func mustScan(t *testing.T, db *sql.DB, query string, dest any, args ...any) {
	t.Helper()
	if err := db.QueryRow(query, args...).Scan(dest); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
}
