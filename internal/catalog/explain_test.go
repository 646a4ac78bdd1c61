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
