package catalog_test

import (
	"context"
	"testing"

	"github.com/shelfcommerce/shelf/internal/catalog"
	"github.com/shelfcommerce/shelf/internal/dbtest"
	"github.com/shelfcommerce/shelf/internal/seed"
)

// TestCategoryFacetCountsTheListing: the category facet of an unfiltered
// listing, at the top and in each top-level category, counts exactly the
// listing rows of each child, after writes that add, remove and move
// listing rows (an archived product, a deleted category, a moved one).
func TestCategoryFacetCountsTheListing(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	ctx := context.Background()
	if _, err := seed.Load(ctx, d.Store, seed.Options{Products: 400, Seed: 11, Chunk: 200}); err != nil {
		t.Fatal(err)
	}
	cats := seed.Categories(0)
	var leaf, top1, top2 seed.Category
	for _, c := range cats {
		switch {
		case c.Depth == 0 && top1.ID == 0:
			top1 = c
		case c.Depth == 0 && top2.ID == 0:
			top2 = c
		}
	}
	for _, c := range cats {
		if c.Leaf && c.ParentID != top1.ID && leaf.ID == 0 {
			leaf = c
		}
	}
	var archived uint64
	if err := d.DB.QueryRow("SELECT product_id FROM product_listing WHERE category_id = ? LIMIT 1", top1.ID).Scan(&archived); err != nil {
		t.Fatal(err)
	}
	if err := catalog.ArchiveProduct(ctx, d.Store, archived); err != nil {
		t.Fatal(err)
	}
	if err := catalog.DeleteCategory(ctx, d.Store, leaf.ID); err != nil {
		t.Fatal(err)
	}
	var moved uint64
	if err := d.DB.QueryRow("SELECT id FROM categories WHERE parent_id = ? ORDER BY id LIMIT 1", top2.ID).Scan(&moved); err != nil {
		t.Fatal(err)
	}
	if _, err := catalog.UpdateCategory(ctx, d.Store, moved, catalog.CategoryPatch{MoveTo: true, ParentID: top1.ID}); err != nil {
		t.Fatal(err)
	}

	sf := catalog.NewStorefront(d.Store, catalog.StorefrontConfig{Currency: "USD"})
	for _, slug := range []string{"", top1.Slug, top2.Slug} {
		page, err := sf.List(ctx, catalog.ListQuery{Category: slug, Facets: []string{"category"}, Sort: catalog.SortNewest, Limit: 1, Currency: "USD"})
		if err != nil {
			t.Fatal(err)
		}
		got := map[uint64]int64{}
		for _, c := range page.Facets["category"].([]catalog.CategoryCount) {
			got[c.ID] = c.Count
		}
		parent := "parent_id IS NULL"
		args := []any{}
		if slug != "" {
			parent = "parent_id = (SELECT id FROM categories WHERE slug = ?)"
			args = append(args, slug)
		}
		rows, err := d.DB.Query(`SELECT pl.category_id, COUNT(*) FROM product_listing pl
			WHERE pl.category_id IN (SELECT id FROM categories WHERE `+parent+`) GROUP BY pl.category_id`, args...)
		if err != nil {
			t.Fatal(err)
		}
		want := map[uint64]int64{}
		for rows.Next() {
			var id uint64
			var n int64
			if err := rows.Scan(&id, &n); err != nil {
				t.Fatal(err)
			}
			want[id] = n
		}
		rows.Close()
		if len(want) == 0 || len(got) != len(want) {
			t.Fatalf("category %q: facet %v, listing %v", slug, got, want)
		}
		for id, n := range want {
			if got[id] != n {
				t.Errorf("category %q, child %d: facet %d, listing rows %d", slug, id, got[id], n)
			}
		}
	}
}
