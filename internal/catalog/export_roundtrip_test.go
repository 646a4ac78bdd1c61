package catalog_test

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/shelfcommerce/shelf/internal/catalog"
	"github.com/shelfcommerce/shelf/internal/dbtest"
	"github.com/shelfcommerce/shelf/internal/importer"
)

// An export imported back into its source reports every product
// unchanged (the API contract), in each format that carries everything,
// whatever happened to the catalog between the import and the export.
func TestExportReimportsUnchanged(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, file string
		after      func(ctx context.Context, d *dbtest.DB) error
	}{
		{"option values whose byte order is not the collation's, no stock column",
			"handle,title,sku,price,option1_name,option1_value\n" +
				"fruit,Fruit,F-1,1.00,Flavor,apple\n" +
				"fruit,,F-2,1.00,,Banana\n" +
				"fruit,,F-3,1.00,,Émincé\n", nil},
		{"a category spelled with another case than the stored one",
			"handle,title,sku,price,category,stock\n" +
				"a,A,A-1,1.00,Apparel > Shirts,1\n" +
				"b,B,B-1,1.00,apparel > shirts,1\n", nil},
		{"an option value too long to be a facet value",
			"handle,title,sku,price,option1_name,option1_value\nlong,Long,L-1,1.00,Size," + strings.Repeat("x", 200) + "\n", nil},
		{"stock moved since the import (an adjustment, a set)",
			"handle,title,sku,price,stock\nmug,Mug,MUG-1,9.00,10\nmug,,MUG-2,9.00,4\nplate,Plate,PL-1,3.00,7\n",
			func(ctx context.Context, d *dbtest.DB) error {
				if _, err := catalog.SetStock(ctx, d.Store, catalog.StockChange{SKU: "MUG-1", Delta: -2, Reason: "damaged", Actor: "t"}); err != nil {
					return err
				}
				one := int64(1)
				_, err := catalog.SetStock(ctx, d.Store, catalog.StockChange{SKU: "PL-1", OnHand: &one, Reason: "count", Actor: "t"})
				return err
			}},
		{"a category renamed, and another moved, since the import",
			"handle,title,sku,price,category,stock\nmug,Mug,MUG-1,9.00,Kitchen > Cups,5\nfork,Fork,FO-1,2.00,Kitchen > Cutlery > Forks,5\nsofa,Sofa,SO-1,90.00,Living,1\n",
			func(ctx context.Context, d *dbtest.DB) error {
				var cups, cutlery, living uint64
				for name, id := range map[string]*uint64{"Cups": &cups, "Cutlery": &cutlery, "Living": &living} {
					if err := d.DB.QueryRowContext(ctx, "SELECT id FROM categories WHERE name = ?", name).Scan(id); err != nil {
						return err
					}
				}
				mugs := "Mugs"
				if _, err := catalog.UpdateCategory(ctx, d.Store, cups, catalog.CategoryPatch{Name: &mugs}); err != nil {
					return err
				}
				_, err := catalog.UpdateCategory(ctx, d.Store, cutlery, catalog.CategoryPatch{MoveTo: true, ParentID: living})
				return err
			}},
		{"a category deleted since the import",
			"handle,title,sku,price,category,stock\nmug,Mug,MUG-1,9.00,Kitchen > Cups,5\nbowl,Bowl,BO-1,4.00,Kitchen,5\n",
			func(ctx context.Context, d *dbtest.DB) error {
				var cups uint64
				if err := d.DB.QueryRowContext(ctx, "SELECT id FROM categories WHERE name = 'Cups'").Scan(&cups); err != nil {
					return err
				}
				return catalog.DeleteCategory(ctx, d.Store, cups)
			}},
	}
	for _, c := range cases {
		for _, format := range []string{"csv", "ndjson"} {
			t.Run(c.name+"/"+format, func(t *testing.T) {
				t.Parallel()
				d := dbtest.New(t)
				ctx := context.Background()
				if rep, err := importFile(ctx, d.Store, "csv", strings.NewReader(c.file), catalog.ImportOptions{}); err != nil || rep.Failed != 0 {
					t.Fatalf("import: %+v, %v", rep, err)
				}
				if c.after != nil {
					if err := c.after(ctx, d); err != nil {
						t.Fatal(err)
					}
				}
				exp := exportAs(t, d, format)
				rep, err := importFile(ctx, d.Store, format, strings.NewReader(exp), catalog.ImportOptions{})
				if err != nil {
					t.Fatal(err)
				}
				if rep.Created+rep.Updated+rep.Failed != 0 || rep.Unchanged == 0 {
					t.Errorf("re-import of its own export: %+v, want every product unchanged\nexport:\n%s", rep, exp)
				}
				// And the file first imported, run again, is unchanged too
				// where nothing moved since (where stock moved, the export is
				// now the last file to have stated it: see
				// TestReimportAfterStockMovedKeepsTheStock).
				if c.after == nil {
					rep, err = importFile(ctx, d.Store, "csv", strings.NewReader(c.file), catalog.ImportOptions{})
					if err != nil || rep.Created+rep.Updated+rep.Failed != 0 {
						t.Errorf("the first file again: %+v, %v; want every product unchanged", rep, err)
					}
				}
			})
		}
	}
}

// A file re-run after its stock moved (sales, adjustments) is unchanged and
// leaves the stock as it is; the same file with a stock changed from what
// it stated sets it.
func TestReimportAfterStockMovedKeepsTheStock(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	ctx := context.Background()
	file := "handle,title,sku,price,stock\nmug,Mug,MUG-1,9.00,10\n"
	imp := func(f string) *catalog.ImportReport {
		t.Helper()
		rep, err := importFile(ctx, d.Store, "csv", strings.NewReader(f), catalog.ImportOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return rep
	}
	imp(file)
	if _, err := catalog.SetStock(ctx, d.Store, catalog.StockChange{SKU: "MUG-1", Delta: -3, Reason: "sold", Actor: "t"}); err != nil {
		t.Fatal(err)
	}
	onHand := func() (n int64) {
		t.Helper()
		if err := d.DB.QueryRow("SELECT i.on_hand FROM inventory i JOIN variants v ON v.id = i.variant_id WHERE v.sku = 'MUG-1'").Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if rep := imp(file); rep.Unchanged != 1 || onHand() != 7 {
		t.Fatalf("the same file again: %+v, stock %d; want unchanged and 7", rep, onHand())
	}
	if rep := imp(strings.Replace(file, ",10", ",7", 1)); rep.Unchanged != 1 || onHand() != 7 {
		t.Fatalf("the file stating the stock as it is: %+v, stock %d; want unchanged and 7", rep, onHand())
	}
	// That file is now the last to have stated the stock: run again after
	// more sales, it is unchanged too, and takes nothing back.
	if _, err := catalog.SetStock(ctx, d.Store, catalog.StockChange{SKU: "MUG-1", Delta: -2, Reason: "sold", Actor: "t"}); err != nil {
		t.Fatal(err)
	}
	if rep := imp(strings.Replace(file, ",10", ",7", 1)); rep.Unchanged != 1 || onHand() != 5 {
		t.Fatalf("the file stating the stock as it was, after more sales: %+v, stock %d; want unchanged and 5", rep, onHand())
	}
	if rep := imp(strings.Replace(file, ",10", ",12", 1)); rep.Updated != 1 || onHand() != 12 {
		t.Fatalf("the file stating another stock: %+v, stock %d; want updated and 12", rep, onHand())
	}
}

// In a rolling upgrade an instance of the release before stock_free_hash
// archives a product (clearing content_hash only) or rewrites its
// content_hash: a new instance importing the file that says otherwise
// applies it, never taking the stale stock-free digest for the content.
func TestAContentHashWrittenByAnOlderReleaseIsNotVouchedFor(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	ctx := context.Background()
	file := "handle,title,sku,price,stock\nmug,Mug,MUG-1,9.00,10\n"
	imp := func() *catalog.ImportReport {
		t.Helper()
		rep, err := importFile(ctx, d.Store, "csv", strings.NewReader(file), catalog.ImportOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return rep
	}
	imp()
	for _, old := range []string{
		// The previous release's archive, verbatim.
		"UPDATE products SET status = 'archived', version = version + 1, content_hash = NULL, updated_at = NOW(6) WHERE slug = 'mug'",
		// Its writer storing another content's hash (a retitled product).
		"UPDATE products SET title = 'Cup', content_hash = UNHEX(SHA2('another content', 256)) WHERE slug = 'mug'",
	} {
		if _, err := d.DB.Exec(old); err != nil {
			t.Fatal(err)
		}
		rep := imp()
		var status, title string
		if err := d.DB.QueryRow("SELECT status, title FROM products WHERE slug = 'mug'").Scan(&status, &title); err != nil {
			t.Fatal(err)
		}
		if rep.Updated != 1 || status != "active" || title != "Mug" {
			t.Fatalf("after %q: %+v, product %s %q; want updated, active, Mug", old, rep, status, title)
		}
	}
}

// Each format carries the whole product: its export re-imports into the
// source unchanged, and into an empty database as the same catalog (the
// ndjson export, which states every field, compared). Before, the Shopify
// export left out attributes that options do not give ("material"), so
// its re-import deleted them.
func TestEveryFormatCarriesTheWholeProduct(t *testing.T) {
	t.Parallel()
	const file = `{"handle":"tee","title":"Tee","status":"draft","tags":["cotton","summer"],"category":"Apparel > Shirts",` +
		`"attributes":{"material":["cotton","linen"],"color":["multi"]},"images":[{"src":"https://x/a.jpg","alt":"front"}],` +
		`"variants":[{"sku":"TEE-M","price":"19.99","compare_at_price":"25.00","stock":10,"options":{"Size":"M","Color":"Red"}},` +
		`{"sku":"TEE-S","price":"18.99","stock":0,"options":{"Size":"S","Color":"Blue"}}]}` + "\n"
	ctx := context.Background()
	load := func(d *dbtest.DB, format, body string) *catalog.ImportReport {
		t.Helper()
		rep, err := importFile(ctx, d.Store, format, strings.NewReader(body), catalog.ImportOptions{})
		if err != nil || rep.Failed != 0 || len(rep.Errors) != 0 {
			t.Fatalf("import %s: %+v, %v\n%s", format, rep, err, body)
		}
		return rep
	}
	src := dbtest.New(t)
	load(src, "ndjson", file)
	want := exportAs(t, src, "ndjson")
	for _, format := range []string{"shopify", "csv", "ndjson"} {
		exp := exportAs(t, src, format)
		if rep := load(src, format, exp); rep.Unchanged != 1 {
			t.Errorf("%s: re-import into the source: %+v, want unchanged\n%s", format, rep, exp)
		}
		dst := dbtest.New(t)
		load(dst, format, exp)
		if got := exportAs(t, dst, "ndjson"); got != want {
			t.Errorf("%s: into an empty database gives\n%s\nwant\n%s", format, got, want)
		}
	}
}

// exportAs is d's catalog exported in format.
func exportAs(t *testing.T, d *dbtest.DB, format string) string {
	t.Helper()
	var buf bytes.Buffer
	fw, err := importer.NewWriter(format, &buf)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := catalog.Export(context.Background(), d.Store, fw, catalog.ExportOptions{}); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

// A product written while a category above it is renamed keeps the hash of
// what was written: the rename locks its products before it reads them.
// Before, it read them from a snapshot taken earlier and stored the hash of
// their old content, so a file stating that old content again re-imported
// as unchanged and left the newer price in place.
func TestARenameDoesNotRestateAProductWrittenMeanwhile(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	ctx := context.Background()
	imp := func(body string) *catalog.ImportReport {
		t.Helper()
		rep, err := importFile(ctx, d.Store, "csv", strings.NewReader(body), catalog.ImportOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return rep
	}
	imp("handle,title,sku,price,category\na,A,A-1,1.00,C > D\nb,B,B-1,2.00,C > D\n")
	var c uint64
	if err := d.DB.QueryRowContext(ctx, "SELECT id FROM categories WHERE name = 'C'").Scan(&c); err != nil {
		t.Fatal(err)
	}
	// Product a held, so that the rename waits in the middle of its work.
	tx, err := d.DB.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.ExecContext(ctx, "SELECT id FROM products WHERE slug = 'a' FOR UPDATE"); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		n := "C2"
		_, err := catalog.UpdateCategory(ctx, d.Store, c, catalog.CategoryPatch{Name: &n})
		done <- err
	}()
	time.Sleep(300 * time.Millisecond) // the rename is waiting for a
	wrote := make(chan *catalog.ImportReport, 1)
	go func() {
		rep, err := importFile(ctx, d.Store, "csv", strings.NewReader("handle,title,sku,price,category\nb,B,B-1,3.00,C > D\n"), catalog.ImportOptions{})
		if err != nil {
			t.Error(err)
		}
		wrote <- rep
	}()
	time.Sleep(300 * time.Millisecond) // b's write has run, or waits for the rename
	_ = tx.Rollback()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if rep := <-wrote; rep == nil || rep.Updated != 1 {
		t.Fatalf("b's new price: %+v", rep)
	}
	if rep := imp("handle,title,sku,price,category\nb,B,B-1,2.00,C2 > D\n"); rep.Updated != 1 {
		t.Errorf("2.00 over the stored 3.00: %+v, want updated", rep)
	}
}
