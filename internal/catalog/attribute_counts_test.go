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

// TestUnfilteredFacetsStayExactThroughWrites: after writes of every kind that
// changes which products a category lists, their prices, brands or the
// attributes they carry (a bulk load, imports of new and then changed
// products, an attribute patch, an archive, a category moved and one
// deleted, stock going to zero), the attribute, brand and price facets of
// unfiltered listings, served from listing_attribute_counts and
// listing_facet_counts, are exactly what counting the listing rows gives, in
// the whole catalog and in every category.
func TestUnfilteredFacetsStayExactThroughWrites(t *testing.T) {
	d := dbtest.New(t)
	ctx := context.Background()
	if _, err := seed.Load(ctx, d.Store, seed.Options{Products: 300, Seed: 7, Chunk: 100}); err != nil {
		t.Fatal(err)
	}
	opts := catalog.ImportOptions{Actor: "test"}
	if _, err := importFile(ctx, d.Store, "csv", strings.NewReader(sampleCSV(12)), opts); err != nil {
		t.Fatal(err)
	}
	// The same handles again, now without sizes M and L, in other aisles,
	// some cheaper and some dearer (other price bands), some of another brand.
	changed := strings.NewReplacer("Aisle 1", "Aisle 4", ",M,", ",XM,", ",10.99,", ",0.49,", ",11.99,", ",2600.00,").Replace(sampleCSV(12))
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
	facets := []string{"brand", "price"}
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
		var want, got strings.Builder
		rows, err := d.DB.Query(`SELECT brand, COUNT(*) AS n FROM product_listing WHERE category_id = ?
			GROUP BY brand ORDER BY n DESC, brand LIMIT 50`, c.id)
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
		for _, vc := range page.Facets["brand"].([]catalog.ValueCount) {
			fmt.Fprintf(&got, "%s=%d ", strings.ToLower(vc.Value), vc.Count)
		}
		if got.String() != want.String() {
			t.Errorf("category %d (%q), brand:\nfacet    %s\ncounting %s", c.id, c.slug, got.String(), want.String())
		}
		// The price facet as the counting query of a filtered listing makes
		// it (a price floor of 0 filters nothing but takes that path).
		all, err := sf.List(ctx, catalog.ListQuery{Category: c.slug, Facets: []string{"price"}, Sort: catalog.SortNewest, Limit: 1, Currency: "USD", HasMin: true})
		if err != nil {
			t.Fatal(err)
		}
		gotPrice, _ := json.Marshal(page.Facets["price"])
		wantPrice, _ := json.Marshal(all.Facets["price"])
		if string(gotPrice) != string(wantPrice) {
			t.Errorf("category %d (%q), price:\nfacet    %s\ncounting %s", c.id, c.slug, gotPrice, wantPrice)
		}
	}
}

type catSlug struct {
	id   uint64
	slug string
}
