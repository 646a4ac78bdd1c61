package catalog_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/shelfcommerce/shelf/internal/catalog"
	"github.com/shelfcommerce/shelf/internal/dbtest"
	"github.com/shelfcommerce/shelf/internal/seed"
)

// TestAttributeFacetsStayExactThroughWrites: after writes of every kind that
// changes which products a category lists or what attributes they carry (a
// bulk load, imports of new and then changed products, an attribute patch,
// an archive, a category moved and one deleted, stock going to zero), the
// attribute facets of unfiltered listings, served from
// listing_attribute_counts, are exactly what counting the listing rows
// joined to the attributes gives, in the whole catalog and in every
// category.
func TestAttributeFacetsStayExactThroughWrites(t *testing.T) {
	d := dbtest.New(t)
	ctx := context.Background()
	if _, err := seed.Load(ctx, d.Store, seed.Options{Products: 300, Seed: 7, Chunk: 100}); err != nil {
		t.Fatal(err)
	}
	opts := catalog.ImportOptions{Actor: "test"}
	if _, err := importFile(ctx, d.Store, "csv", strings.NewReader(sampleCSV(12)), opts); err != nil {
		t.Fatal(err)
	}
	// The same handles again, now without sizes M and L, in other aisles.
	changed := strings.NewReplacer("Aisle 1", "Aisle 4", ",M,", ",XM,").Replace(sampleCSV(12))
	if _, err := importFile(ctx, d.Store, "csv", strings.NewReader(changed), opts); err != nil {
		t.Fatal(err)
	}

	var patched, archived, moved, top, deleted uint64
	var sku string
	mustScan(t, d.DB, "SELECT product_id FROM product_listing WHERE category_id = 0 ORDER BY product_id LIMIT 1", &patched)
	mustScan(t, d.DB, "SELECT product_id FROM product_listing WHERE category_id = 0 ORDER BY product_id LIMIT 1 OFFSET 1", &archived)
	mustScan(t, d.DB, "SELECT id FROM categories WHERE parent_id IS NULL ORDER BY id LIMIT 1", &top)
	mustScan(t, d.DB, "SELECT id FROM categories WHERE parent_id IS NOT NULL AND parent_id <> ? ORDER BY id LIMIT 1", &moved, top)
	mustScan(t, d.DB, `SELECT c.id FROM categories c WHERE NOT EXISTS (SELECT 1 FROM categories k WHERE k.parent_id = c.id)
		AND c.id <> ? AND EXISTS (SELECT 1 FROM product_categories pc WHERE pc.category_id = c.id) ORDER BY c.id LIMIT 1`, &deleted, moved)
	mustScan(t, d.DB, `SELECT v.sku FROM variants v JOIN product_listing pl ON pl.product_id = v.product_id AND pl.category_id = 0
		WHERE v.sku IS NOT NULL AND pl.in_stock AND v.product_id NOT IN (?, ?)
		AND (SELECT COUNT(*) FROM variants w WHERE w.product_id = v.product_id) = 1 ORDER BY v.id LIMIT 1`, &sku, patched, archived)

	attrs := map[string]json.RawMessage{"color": json.RawMessage(`["Teal","navy"]`), "fabric": json.RawMessage(`"silk"`)}
	if _, err := catalog.PatchProduct(ctx, d.Store, patched, catalog.ProductPatch{Attributes: &attrs}, catalog.PatchOptions{Parse: parseUSD, Actor: "test"}); err != nil {
		t.Fatal(err)
	}
	if err := catalog.ArchiveProduct(ctx, d.Store, archived); err != nil {
		t.Fatal(err)
	}
	if _, err := catalog.UpdateCategory(ctx, d.Store, moved, catalog.CategoryPatch{MoveTo: true, ParentID: top}); err != nil {
		t.Fatal(err)
	}
	if err := catalog.DeleteCategory(ctx, d.Store, deleted); err != nil {
		t.Fatal(err)
	}
	zero := int64(0)
	if _, err := catalog.SetStock(ctx, d.Store, catalog.StockChange{SKU: sku, OnHand: &zero, Reason: "recount"}); err != nil {
		t.Fatal(err)
	}

	// Every category that lists something, and every attribute name.
	var cats []catSlug
	rows, err := d.DB.Query("SELECT 0, '' UNION ALL SELECT id, slug FROM categories WHERE product_count > 0")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var c catSlug
		if err := rows.Scan(&c.id, &c.slug); err != nil {
			t.Fatal(err)
		}
		cats = append(cats, c)
	}
	rows.Close()
	var names []string
	rows, err = d.DB.Query("SELECT DISTINCT name FROM product_attributes ORDER BY name")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var n string
		_ = rows.Scan(&n)
		names = append(names, n)
	}
	rows.Close()
	if !slices.Contains(names, "fabric") || !slices.Contains(names, "size") || len(cats) < 10 {
		t.Fatalf("the writes did not make the catalog this test needs: names %v, %d categories", names, len(cats))
	}
	facets := make([]string, 0, len(names))
	for _, n := range names {
		facets = append(facets, "attr."+n)
	}

	sf := catalog.NewStorefront(d.Store, catalog.StorefrontConfig{Currency: "USD"})
	for _, c := range cats {
		page, err := sf.List(ctx, catalog.ListQuery{Category: c.slug, Facets: facets, Sort: catalog.SortNewest, Limit: 1, Currency: "USD"})
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range names {
			var want strings.Builder
			rows, err := d.DB.Query(`SELECT fa.value, COUNT(*) AS n FROM product_listing pl
				JOIN product_attributes fa ON fa.product_id = pl.product_id AND fa.name = ?
				WHERE pl.category_id = ? GROUP BY fa.value ORDER BY n DESC, fa.value LIMIT 50`, n, c.id)
			if err != nil {
				t.Fatal(err)
			}
			for rows.Next() {
				var v string
				var k int64
				_ = rows.Scan(&v, &k)
				fmt.Fprintf(&want, "%s=%d ", strings.ToLower(v), k)
			}
			rows.Close()
			var got strings.Builder
			for _, vc := range page.Facets["attr."+n].([]catalog.ValueCount) {
				fmt.Fprintf(&got, "%s=%d ", strings.ToLower(vc.Value), vc.Count)
			}
			if got.String() != want.String() {
				t.Errorf("category %d (%q), attr.%s:\nfacet    %s\ncounting %s", c.id, c.slug, n, got.String(), want.String())
			}
		}
	}
}

type catSlug struct {
	id   uint64
	slug string
}
