package catalog_test

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"testing"

	dbq "github.com/shelfcommerce/shelf/db"
	"github.com/shelfcommerce/shelf/internal/catalog"
	"github.com/shelfcommerce/shelf/internal/dbtest"
	"github.com/shelfcommerce/shelf/internal/seed"
)

// TestEveryListingShapeUsesAnIndex runs EXPLAIN for each filter and sort
// combination (first page and a seek page) and for each facet, on a seeded
// catalog big enough for the optimizer to care, and fails on a full scan of a
// big table or on a filesort of product_listing. Searches other than one
// word by relevance may sort: they sort at most SearchMaxMatches rows (the
// derived table), by design.
func TestEveryListingShapeUsesAnIndex(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	ctx := context.Background()
	if _, err := seed.Load(ctx, d.Store, seed.Options{Products: 4000, Seed: 3, Chunk: 2000}); err != nil {
		t.Fatal(err)
	}
	for _, tbl := range []string{"product_listing", "products", "variants", "product_attributes", "categories"} {
		if _, err := d.DB.ExecContext(ctx, "ANALYZE TABLE "+tbl); err != nil {
			t.Fatal(err)
		}
	}
	var catID uint64
	if err := d.DB.QueryRow("SELECT id FROM categories WHERE depth = 0 ORDER BY id LIMIT 1").Scan(&catID); err != nil {
		t.Fatal(err)
	}
	filters := map[string]func(q *catalog.ListQuery){
		"none":     func(q *catalog.ListQuery) {},
		"price":    func(q *catalog.ListQuery) { q.HasMin, q.MinPrice, q.HasMax, q.MaxPrice = true, 2000, true, 9000 },
		"brand":    func(q *catalog.ListQuery) { q.Brands = []string{"Acme", "Quill"} },
		"in_stock": func(q *catalog.ListQuery) { q.InStock = true },
		"attr":     func(q *catalog.ListQuery) { q.Attrs = []catalog.AttrFilter{{Name: "color", Values: []string{"red"}}} },
		"q":        func(q *catalog.ListQuery) { q.Terms = []string{"linen"} },
		"q+price":  func(q *catalog.ListQuery) { q.Terms, q.HasMin, q.MinPrice = []string{"linen"}, true, 20000 },
		"q2":       func(q *catalog.ListQuery) { q.Terms = []string{"linen", "durable"} },
		"all": func(q *catalog.ListQuery) {
			q.HasMin, q.MinPrice = true, 1000
			q.Brands = []string{"Acme"}
			q.InStock = true
			q.Attrs = []catalog.AttrFilter{{Name: "material", Values: []string{"wool"}}}
		},
	}
	sorts := []catalog.Sort{catalog.SortNewest, catalog.SortPrice, catalog.SortPriceDesc, catalog.SortTitle, catalog.SortRelevance}
	for fname, f := range filters {
		for _, cat := range []uint64{catalog.RootCategory, catID} {
			for _, s := range sorts {
				q := catalog.ListQuery{Sort: s, Currency: "USD", Facets: []string{"brand", "price", "attr.color", "category"}}
				f(&q)
				if s == catalog.SortRelevance && len(q.Terms) == 0 {
					continue
				}
				for _, seek := range []bool{false, true} {
					var query string
					var args []any
					if seek {
						query, args = catalog.ListSQL(q, cat, 5000, "M", 100, 25)
					} else {
						query, args = catalog.ListSQL(q, cat, 0, "", 0, 25)
					}
					name := fmt.Sprintf("%s/cat=%d/%s/seek=%v", fname, cat, s, seek)
					// A one-word page by relevance walks the word's ranking:
					// it must never sort. Other searches sort the considered
					// products, at most SearchMaxMatches of them.
					checkPlan(t, d.DB, name, query, args, len(q.Terms) > 1 || (len(q.Terms) == 1 && s != catalog.SortRelevance))
				}
			}
			if fname == "q" || fname == "q2" || fname == "all" || fname == "none" {
				q := catalog.ListQuery{Sort: catalog.SortNewest, Currency: "USD", Facets: []string{"brand", "price", "attr.color"}}
				f(&q)
				q.Facets = append(q.Facets, "category")
				children := []uint64{catID + 1, catID + 6}
				for i, fq := range catalog.FacetSQL(q, cat, children) {
					checkFacetPlan(t, d.DB, fmt.Sprintf("facet %s/%d/%s", fname, cat, q.Facets[i]), fq, q, cat, i, children)
				}
			}
		}
	}
}

type planRow struct {
	table, typ, key, extra string
}

func explain(t *testing.T, db *sql.DB, query string, args []any) []planRow {
	t.Helper()
	rows, err := db.Query("EXPLAIN "+query, args...)
	if err != nil {
		t.Fatalf("EXPLAIN %s: %v", query, err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	var out []planRow
	for rows.Next() {
		vals := make([]sql.NullString, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		var r planRow
		for i, c := range cols {
			switch c {
			case "table":
				r.table = vals[i].String
			case "type":
				r.typ = vals[i].String
			case "key":
				r.key = vals[i].String
			case "Extra":
				r.extra = vals[i].String
			}
		}
		out = append(out, r)
	}
	return out
}

var bigTables = map[string]bool{"pl": true, "p": true, "a": true, "fa": true, "fc": true, "product_listing": true, "products": true,
	"w": true, "w0": true, "w1": true, "search_words": true}

func checkPlan(t *testing.T, db *sql.DB, name, query string, args []any, fulltext bool) {
	t.Helper()
	for _, r := range explain(t, db, query, args) {
		t.Logf("%s: %s %s %s %s", name, r.table, r.typ, r.key, r.extra)
		if r.typ == "ALL" && bigTables[r.table] {
			t.Errorf("%s: full scan of %s\n%s", name, r.table, query)
		}
		if strings.Contains(r.extra, "filesort") && !fulltext {
			t.Errorf("%s: filesort on %s (%s)\n%s", name, r.table, r.extra, query)
		}
	}
}

func checkFacetPlan(t *testing.T, db *sql.DB, name, query string, q catalog.ListQuery, cat uint64, i int, children []uint64) {
	t.Helper()
	args := catalog.FacetArgs(q, cat, q.Facets[i], children)
	for _, r := range explain(t, db, query, args) {
		if r.typ == "ALL" && bigTables[r.table] {
			t.Errorf("%s: full scan of %s\n%s", name, r.table, query)
		}
	}
}

// TestCategoryJoinsStartFromTheProducts: the categories of a batch of
// products (for their listing rows, their pages, an export) are found from
// the products' own rows, not by walking every product of every category,
// which the optimizer picks on its own once categories are few and products
// many: an import then read the whole catalog's category rows for each batch.
func TestCategoryJoinsStartFromTheProducts(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	ctx := context.Background()
	if _, err := seed.Load(ctx, d.Store, seed.Options{Products: 4000, Seed: 5, Chunk: 2000}); err != nil {
		t.Fatal(err)
	}
	// An import's batch: more products than the optimizer looks up one by
	// one (eq_range_index_dive_limit, 200), so it goes by the statistics.
	var ids []uint64
	rows, err := d.DB.QueryContext(ctx, "SELECT DISTINCT product_id FROM product_categories ORDER BY product_id LIMIT 500")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id uint64
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil || len(ids) != 500 {
		t.Fatalf("%d products in categories, %v", len(ids), err)
	}
	conn, err := d.DB.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	q := dbq.New(conn)
	for name, run := range map[string]func() (int, error){
		"ListingCategories": func() (int, error) { r, err := q.ListingCategories(ctx, ids); return len(r), err },
		"ExportCategoryPaths": func() (int, error) {
			r, err := q.ExportCategoryPaths(ctx, ids)
			return len(r), err
		},
		"ProductPageSources": func() (int, error) {
			r, err := q.ProductPageSources(ctx, dbq.ProductPageSourcesParams{Products: []uint64{0}, VariantsOf: []uint64{0},
				ImagesOf: []uint64{0}, AttributesOf: []uint64{0}, CategoriesOf: ids})
			return len(r), err
		},
	} {
		if _, err := conn.ExecContext(ctx, "FLUSH STATUS"); err != nil {
			t.Fatal(err)
		}
		found, err := run()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		read := handlerReads(t, conn, "Handler_read_key", "Handler_read_next", "Handler_read_rnd_next")
		t.Logf("%s, %d products: %d index entries read, %d rows", name, len(ids), read, found)
		// Each product is in a category or two, each with its ancestors.
		if read > 20*len(ids) {
			t.Errorf("%s: the categories of %d products read %d index entries", name, len(ids), read)
		}
		if found < len(ids) {
			t.Errorf("%s: %d rows for %d products", name, found, len(ids))
		}
	}
}

// TestWritersLockOnlyTheirRows: the writer's locking reads of a batch of
// products go by their index however stale the table's statistics are. An
// import into an empty catalog runs while the statistics still say the
// tables are empty; a plan that scanned the table then locked (or waited
// for) every row of it, other batches' new rows and orders' stock included.
func TestWritersLockOnlyTheirRows(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	ctx := context.Background()
	for _, tbl := range []string{"products", "variants", "inventory", "product_listing", "product_images", "product_attributes", "product_categories"} {
		// The statistics stay those of the empty tables.
		if _, err := d.DB.ExecContext(ctx, "ALTER TABLE "+tbl+" STATS_AUTO_RECALC=0"); err != nil {
			t.Fatal(err)
		}
		if _, err := d.DB.ExecContext(ctx, "ANALYZE TABLE "+tbl); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := seed.Load(ctx, d.Store, seed.Options{Products: 3000, Seed: 5, Chunk: 3000}); err != nil {
		t.Fatal(err)
	}
	var slugs []string
	var pids, vids []uint64
	rows, err := d.DB.QueryContext(ctx, "SELECT p.id, p.slug, MIN(v.id) FROM products p JOIN variants v ON v.product_id = p.id GROUP BY p.id ORDER BY p.id LIMIT 600")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var slug string
		var pid, vid uint64
		if err := rows.Scan(&pid, &slug, &vid); err != nil {
			t.Fatal(err)
		}
		slugs, pids, vids = append(slugs, slug), append(pids, pid), append(vids, vid)
	}
	if err := rows.Err(); err != nil || len(slugs) != 600 {
		t.Fatalf("%d products, %v", len(slugs), err)
	}
	slices.Sort(slugs)
	conn, err := d.DB.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for name, run := range map[string]func(q *dbq.Queries) error{
		"WriterProductsBySlug":     func(q *dbq.Queries) error { _, err := q.WriterProductsBySlug(ctx, slugs); return err },
		"WriterVariantsOfProducts": func(q *dbq.Queries) error { _, err := q.WriterVariantsOfProducts(ctx, pids); return err },
		"WriterInventoryOf":        func(q *dbq.Queries) error { _, err := q.WriterInventoryOf(ctx, vids); return err },
		"ListingRows":              func(q *dbq.Queries) error { _, err := q.ListingRows(ctx, pids); return err },
		// A re-import's writes of changed products: their images go, and
		// their pages are rendered again.
		"WriterDeleteProductImages": func(q *dbq.Queries) error { return q.WriterDeleteProductImages(ctx, pids) },
		"ProductPageSources": func(q *dbq.Queries) error {
			_, err := q.ProductPageSources(ctx, dbq.ProductPageSourcesParams{Products: pids, VariantsOf: pids, ImagesOf: pids, AttributesOf: pids, CategoriesOf: pids})
			return err
		},
	} {
		if _, err := conn.ExecContext(ctx, "FLUSH STATUS"); err != nil {
			t.Fatal(err)
		}
		tx, err := conn.BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		err = run(dbq.New(tx))
		tx.Rollback()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if scanned := handlerReads(t, conn, "Handler_read_rnd_next"); scanned > 0 {
			t.Errorf("%s for 600 products scanned %d rows of the table", name, scanned)
		}
	}
}

// handlerReads sums the session's counters of those names (reset by FLUSH
// STATUS).
func handlerReads(t *testing.T, conn *sql.Conn, names ...string) int {
	t.Helper()
	sum := 0
	for _, v := range names {
		var status string
		var n int
		if err := conn.QueryRowContext(context.Background(), "SHOW SESSION STATUS LIKE ?", v).Scan(&status, &n); err != nil {
			t.Fatal(err)
		}
		sum += n
	}
	return sum
}
