package catalog_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"testing"

	"github.com/shelfcommerce/shelf/internal/catalog"
	"github.com/shelfcommerce/shelf/internal/dbtest"
	"github.com/shelfcommerce/shelf/internal/importer"
	"github.com/shelfcommerce/shelf/internal/store"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

func sampleCSV(products int) string {
	var b strings.Builder
	b.WriteString("handle,title,sku,price,stock,option1_name,option1_value,category,image_urls\n")
	for p := range products {
		for v, size := range []string{"S", "M", "L"} {
			title, opt, cat, img := "", "", "", ""
			if v == 0 {
				title, opt, cat, img = fmt.Sprintf("Product %d", p), "Size", fmt.Sprintf("Dept %d > Aisle %d", p%3, p%5), fmt.Sprintf("https://img/%d.jpg", p)
			}
			fmt.Fprintf(&b, "p-%d,%s,SKU-%d-%s,%d.99,%d,%s,%s,%s,%s\n", p, title, p, size, 10+p%7, 5+v, opt, size, cat, img)
		}
	}
	return b.String()
}

// importFile imports a file of format whose prices are in USD unless they
// say otherwise, read by the importer's reader for the format.
func importFile(ctx context.Context, st *store.Store, format string, r io.Reader, opts catalog.ImportOptions) (*catalog.ImportReport, error) {
	rd, err := importer.NewReader(format, r, importer.Options{Currency: "USD"})
	if err != nil {
		return nil, err
	}
	return catalog.Import(ctx, st, rd, opts)
}

// parseUSD parses an admin API product as the handlers do, in a shop whose
// currency is USD.
func parseUSD(jp *catalog.ProductJSON) (*catalog.ProductInput, error) {
	return catalog.ParsedProduct(importer.ParseProductJSON(jp, importer.Options{Currency: "USD"}))
}

// cutReader fails after n bytes, the way a request body ends when the
// client or the server process dies midway.
type cutReader struct {
	r io.Reader
	n int
}

func (c *cutReader) Read(p []byte) (int, error) {
	if c.n <= 0 {
		return 0, errors.New("connection reset")
	}
	if len(p) > c.n {
		p = p[:c.n]
	}
	n, err := c.r.Read(p)
	c.n -= n
	return n, err
}

// snapshot is every table an import writes, as comparable text (ids left
// out where they depend on insert order).
func snapshot(t *testing.T, d *dbtest.DB) string {
	t.Helper()
	return dump(t, d.DB,
		"SELECT slug, title, status, skus, version FROM products ORDER BY slug",
		"SELECT p.slug, v.sku, v.position, v.option1, v.price, v.active, i.on_hand FROM variants v JOIN products p ON p.id = v.product_id JOIN inventory i ON i.variant_id = v.id ORDER BY v.sku",
		"SELECT p.slug, c.slug FROM product_categories pc JOIN products p ON p.id = pc.product_id JOIN categories c ON c.id = pc.category_id ORDER BY 1, 2",
		"SELECT slug, name, depth, product_count FROM categories ORDER BY slug",
		"SELECT p.slug, i.src, i.position FROM product_images i JOIN products p ON p.id = i.product_id ORDER BY 1, 2",
		"SELECT p.slug, a.name, a.value FROM product_attributes a JOIN products p ON p.id = a.product_id ORDER BY 1, 2, 3",
		"SELECT l.category_id = 0, p.slug, l.price_min, l.in_stock FROM product_listing l JOIN products p ON p.id = l.product_id ORDER BY 1, 2",
		"SELECT sku, delta, on_hand_after, reason FROM stock_movements ORDER BY sku",
	)
}

// TestImportCutMidwayThenRerunEqualsOneCleanImport: an import that dies
// midway leaves only whole batches, and running the file again ends with
// exactly the data of one uninterrupted import.
func TestImportCutMidwayThenRerunEqualsOneCleanImport(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	file := sampleCSV(40)
	opts := catalog.ImportOptions{Actor: "test", BatchRows: 12}

	clean := dbtest.New(t)
	rep, err := importFile(ctx, clean.Store, "csv", strings.NewReader(file), opts)
	if err != nil || rep.Created != 40 || len(rep.Errors) != 0 {
		t.Fatalf("clean import: %v %+v", err, rep)
	}
	want := snapshot(t, clean)

	for _, cut := range []int{len(file) / 5, len(file) / 2, len(file) - 10} {
		d := dbtest.New(t)
		if _, err := importFile(ctx, d.Store, "csv", &cutReader{r: strings.NewReader(file), n: cut}, opts); err == nil {
			t.Fatalf("cut at %d: no error", cut)
		}
		var partial int
		_ = d.DB.QueryRow("SELECT COUNT(*) FROM products").Scan(&partial)
		var variants int
		_ = d.DB.QueryRow("SELECT COUNT(*) FROM variants").Scan(&variants)
		if variants != 3*partial {
			t.Errorf("cut at %d: %d products but %d variants: a product was split", cut, partial, variants)
		}
		rep, err := importFile(ctx, d.Store, "csv", strings.NewReader(file), opts)
		if err != nil || rep.Created+rep.Unchanged != 40 || rep.Unchanged != partial {
			t.Fatalf("re-run after cut at %d: %v %+v (had %d)", cut, err, rep, partial)
		}
		if got := snapshot(t, d); got != want {
			t.Errorf("cut at %d then re-run differs from one clean import:\n%s\nwant\n%s", cut, got, want)
		}
	}
}

// listingState is product_listing (every column) and categories.product_count,
// as comparable text.
func listingState(t *testing.T, d querier) string {
	t.Helper()
	return dump(t, d,
		"SELECT category_id, product_id, slug, title, brand, price_min, currency, in_stock, created_at FROM product_listing ORDER BY category_id, product_id",
		"SELECT id, slug, product_count FROM categories ORDER BY id",
		"SELECT category_id, name, value, products FROM listing_attribute_counts WHERE products <> 0 ORDER BY category_id, name, value",
		"SELECT category_id, facet, value, products FROM listing_facet_counts WHERE products <> 0 ORDER BY category_id, facet, value",
		"SELECT product_id, version, variant_ids, body FROM product_pages ORDER BY product_id",
	)
}

// dump is the rows of each query as comparable text.
func dump(t *testing.T, d querier, queries ...string) string {
	t.Helper()
	var b strings.Builder
	for _, q := range queries {
		rows, err := d.QueryContext(context.Background(), q)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		cols, _ := rows.Columns()
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		for rows.Next() {
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			for _, v := range vals {
				if bs, ok := v.([]byte); ok {
					v = string(bs)
				}
				fmt.Fprintf(&b, "%v|", v)
			}
			b.WriteByte('\n')
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		rows.Close()
		b.WriteString("--\n")
	}
	return b.String()
}

// TestFirstImportListingEqualsSyncListing: the writer builds the listing rows
// and category counts of products it creates from what it wrote, without
// SyncListing's reads. They must be exactly what SyncListing makes of the
// same products: running it afterwards changes nothing, and rebuilding the
// read model from scratch with it gives the same rows and counts. The file
// mixes what the listing depends on: statuses, currencies, stock none, zero
// and positive, categories at several depths and none, images in and out of
// position order, attributes that the database folds together or not, a SKU
// taken earlier in the file (that variant is left out), and a re-import that
// updates some products while creating others in the same batch. The product
// pages and attribute counts are held to the same standard.
func TestFirstImportListingEqualsSyncListing(t *testing.T) {
	t.Parallel()
	for _, bulk := range []store.BulkTransport{store.BulkLoad, store.BulkInsert} {
		t.Run(bulkName(bulk), func(t *testing.T) {
			t.Parallel()
			firstImportListingEqualsSyncListing(t, bulk)
		})
	}
}

// bulkName names a transport for a subtest.
func bulkName(b store.BulkTransport) string {
	return map[store.BulkTransport]string{store.BulkLoad: "load-data", store.BulkInsert: "insert", store.BulkAuto: "auto"}[b]
}

func firstImportListingEqualsSyncListing(t *testing.T, bulk store.BulkTransport) {
	ctx := context.Background()
	d := dbtest.New(t)
	d.Store.Bulk = bulk
	file := func(products int, bump int) string {
		var b strings.Builder
		b.WriteString("handle,title,brand,status,sku,price,currency,stock,option1_name,option1_value,category,attributes,image_urls,compare_at_price\n")
		attrs := []string{"", "color=Red|color=red|material=cotton", "color=Rosé|color=rose", "fit=slim |fit=slim", "material=wool|color=Blue"}
		images := []string{"", "https://img/a.jpg", "https://img/b.jpg|https://img/c.jpg"}
		statuses := []string{"active", "active", "draft", "archived", ""}
		cats := []string{"", "Toys", "Toys > Cars", "Toys > Cars > Red", "Home > Kitchen", "Toys > Dolls"}
		for p := range products {
			for v := range 1 + p%4 {
				sku := fmt.Sprintf("S-%d-%d", p, v)
				if p%11 == 5 && v == 1 {
					sku = fmt.Sprintf("S-%d-0", p-1) // taken by the previous product
				}
				stock := []string{"", "0", "3", "0"}[(p+v)%4]
				cur := []string{"USD", "EUR", "USD"}[p%3] // one currency per product
				price := 100 + (p*37+v*53)%900
				if p%bump == 0 {
					price += 7
				}
				title, brand, status, optName, cat, attr, img, cmp := "", "", "", "", "", "", "", ""
				if v == 0 {
					title, brand, status, optName, cat = fmt.Sprintf("Product %d", p), fmt.Sprintf("Brand %d", p%5), statuses[p%5], "Size", cats[p%6]
					attr, img = attrs[(p/5)%5], images[p%3]
				}
				if (p+v)%3 == 1 {
					cmp = "20.00"
				}
				fmt.Fprintf(&b, "p-%d,%s,%s,%s,%s,%d.%02d,%s,%s,%s,v%d,%s,%s,%s,%s\n", p, title, brand, status, sku, price/100, price%100, cur, stock, optName, v, cat, attr, img, cmp)
			}
		}
		return b.String()
	}
	check := func(step string) {
		t.Helper()
		got := listingState(t, d.DB)
		if !strings.Contains(got, "|EUR|1|") || !strings.Contains(got, "|USD|0|") || !strings.Contains(got, `"src":"https://img/c.jpg"`) ||
			!strings.Contains(got, "|color|Rosé|") || !strings.Contains(got, `"compare_at_price":{`) {
			t.Fatalf("%s: no listing rows: the test checks nothing\n%s", step, got)
		}
		ids := productIDs(t, d.DB)
		tx, err := d.Store.Begin(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback()
		sqlTx := tx.Tx
		if err := catalog.SyncListing(ctx, tx, ids); err != nil {
			t.Fatal(err)
		}
		var after, rebuilt string
		if after = listingState(t, sqlTx); after != got {
			t.Errorf("%s: SyncListing after the import changed the read model:\n%s\nwas\n%s", step, after, got)
		}
		if _, err := tx.ExecContext(ctx, "DELETE FROM product_listing"); err != nil {
			t.Fatal(err)
		}
		for _, q := range []string{"UPDATE categories SET product_count = 0", "DELETE FROM listing_attribute_counts", "DELETE FROM listing_facet_counts", "DELETE FROM product_pages"} {
			if _, err := tx.ExecContext(ctx, q); err != nil {
				t.Fatal(err)
			}
		}
		if err := catalog.SyncListing(ctx, tx, ids); err != nil {
			t.Fatal(err)
		}
		if rebuilt = listingState(t, sqlTx); rebuilt != got {
			t.Errorf("%s: the import's read model differs from SyncListing's rebuild:\n%s\nwant\n%s", step, got, rebuilt)
		}
	}
	opts := catalog.ImportOptions{Actor: "test", BatchRows: 25}
	rep, err := importFile(ctx, d.Store, "csv", strings.NewReader(file(60, 1000)), opts)
	if err != nil || rep.Created == 0 || rep.Failed != 0 || len(rep.Errors) == 0 {
		t.Fatalf("first import: %v %+v", err, rep)
	}
	check("first import")
	// Every third product changes price and 40 new products come in: batches
	// that update some products and create others.
	rep, err = importFile(ctx, d.Store, "csv", strings.NewReader(file(100, 3)), opts)
	if err != nil || rep.Created != 40 || rep.Updated == 0 || rep.Failed != 0 {
		t.Fatalf("second import: %v %+v", err, rep)
	}
	check("second import")
}

// TestImportWhereIDsCannotBeDerived: on a server whose auto-increment step
// is not 1 the writer reads new ids back instead of deriving them, and the
// import stores exactly what it stores elsewhere.
func TestImportWhereIDsCannotBeDerived(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	file := sampleCSV(30)
	opts := catalog.ImportOptions{Actor: "test", BatchRows: 20}

	clean := dbtest.New(t)
	if rep, err := importFile(ctx, clean.Store, "csv", strings.NewReader(file), opts); err != nil || rep.Created != 30 || len(rep.Errors) != 0 {
		t.Fatalf("clean import: %v %+v", err, rep)
	}

	d := dbtest.New(t)
	sep := "?"
	if strings.Contains(d.DSN, "?") {
		sep = "&"
	}
	st, err := store.Open(ctx, d.DSN+sep+"auto_increment_increment=2", store.PoolConfig{MaxOpen: 2, MaxIdle: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if rep, err := importFile(ctx, st, "csv", strings.NewReader(file), opts); err != nil || rep.Created != 30 || len(rep.Errors) != 0 {
		t.Fatalf("import with step 2: %v %+v", err, rep)
	}
	var odd, even int
	if err := d.DB.QueryRow("SELECT SUM(id % 2 = 1), SUM(id % 2 = 0) FROM variants").Scan(&odd, &even); err != nil || even != 0 || odd != 90 {
		t.Fatalf("variant ids did not step by 2 (odd %d, even %d, %v): the test checks nothing", odd, even, err)
	}
	if got, want := snapshot(t, d), snapshot(t, clean); got != want {
		t.Errorf("import with step 2 differs:\n%s\nwant\n%s", got, want)
	}
}

// The report's rows count each variant row once, however many errors it has
// and whether its product was rejected or written without it.
func TestImportReportCountsEachRowOnce(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	ctx := context.Background()
	csvFile := "handle,title,sku,price,stock\n" +
		"ok,Ok,OK-1,1.00,1\n" +
		"ok,,OK-2,bad,x\n" + // a bad row of a product that is written
		"bad,Bad,BAD-1,1.005,-1\n" + // a product with no valid row
		"two,Two,TWO-1,2.00,1\n" +
		"two,,TWO-2,2.00,1\n"
	rep, err := importFile(ctx, d.Store, "csv", strings.NewReader(csvFile), catalog.ImportOptions{DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Rows != 5 {
		t.Errorf("csv: rows = %d, want 5 (errors %+v)", rep.Rows, rep.Errors)
	}
	nd := `{"handle":"a","title":"A","variants":[{"sku":"A-1","price":"1.00"},{"sku":"A-2","price":"1.00"}]}
{"handle":"b","title":"B","variants":[{"sku":"B-1","price":"1.00"},{"sku":"B-2","price":1.5,"stock":-1}]}
{"handle":"c","title":"C","variants":[{"sku":"C-1","price":1.5}]}
not json
`
	rep, err = importFile(ctx, d.Store, "ndjson", strings.NewReader(nd), catalog.ImportOptions{DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Rows != 6 {
		t.Errorf("ndjson: rows = %d, want 6 (errors %+v)", rep.Rows, rep.Errors)
	}
}

// A dry run keeps one transaction open for the whole file. It must not hold
// the stock rows of the products it would update, or every order for those
// SKUs would wait for the dry run to finish (and time out on a large file).
func TestDryRunDoesNotHoldStockAgainstOrders(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	ctx := context.Background()
	file := sampleCSV(6)
	if _, err := importFile(ctx, d.Store, "csv", strings.NewReader(file), catalog.ImportOptions{Actor: "test"}); err != nil {
		t.Fatal(err)
	}
	var variantID uint64
	if err := d.DB.QueryRow("SELECT id FROM variants WHERE sku = 'SKU-0-S'").Scan(&variantID); err != nil {
		t.Fatal(err)
	}
	changed := strings.Replace(file, "SKU-0-S,10.99,5,", "SKU-0-S,10.99,7,", 1)
	if changed == file {
		t.Fatal("the sample file no longer has the row this test changes")
	}

	// While the dry run waits after its first batch (which updates p-0's
	// stock), another session takes a unit of SKU-0-S, as an order would.
	// With a 1 s lock wait, a held row lock makes it fail with 1205.
	var competing error
	opts := catalog.ImportOptions{Actor: "test", DryRun: true, BatchRows: 3}
	first := true
	opts.Progress = func(int) {
		if !first {
			return
		}
		first = false
		conn, err := d.DB.Conn(ctx)
		if err != nil {
			competing = err
			return
		}
		defer conn.Close()
		if _, err := conn.ExecContext(ctx, "SET SESSION innodb_lock_wait_timeout = 1"); err != nil {
			competing = err
			return
		}
		_, competing = conn.ExecContext(ctx, "UPDATE inventory SET on_hand = on_hand - 1 WHERE variant_id = ?", variantID)
	}
	rep, err := importFile(ctx, d.Store, "csv", strings.NewReader(changed), opts)
	if err != nil {
		t.Fatal(err)
	}
	if competing != nil {
		t.Fatalf("a stock change during a dry run failed: %v", competing)
	}
	if rep.Updated != 1 || rep.Unchanged != 5 || !rep.DryRun {
		t.Errorf("dry run report %+v, want 1 updated and 5 unchanged", rep)
	}
	var onHand int64
	if err := d.DB.QueryRow("SELECT on_hand FROM inventory WHERE variant_id = ?", variantID).Scan(&onHand); err != nil || onHand != 4 {
		t.Errorf("on hand %d (%v), want 4: the competing change kept, nothing of the dry run written", onHand, err)
	}
}

// TestParallelWritersDecideLikeOne: with two batches in flight the import
// ends exactly as with one writer: the same report (ids aside, which depend
// on which batch inserts first) and the same data. The file has SKUs that an
// earlier product of the file (in the same, the previous or an older batch)
// owns, categories that first appear midway, and a second run that updates
// some products and creates others.
func TestParallelWritersDecideLikeOne(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	file := func(products, bump int) string {
		var b strings.Builder
		b.WriteString("handle,title,sku,price,stock,option1_name,option1_value,category\n")
		for p := range products {
			for v := range 2 {
				sku := fmt.Sprintf("S-%d-%d", p, v)
				switch {
				case p%7 == 3 && v == 1:
					sku = fmt.Sprintf("S-%d-0", p-4) // the previous batch's
				case p%11 == 6 && v == 1:
					sku = fmt.Sprintf("S-%d-0", p-1) // this batch's, or the previous one's
				case p%9 == 8 && v == 0:
					sku = fmt.Sprintf("S-%d-1", p-8) // an older batch's
				}
				price := 100 + (p*31+v*7)%500
				if p%bump == 0 {
					price += 3
				}
				title, opt, cat := "", "", ""
				if v == 0 {
					title, opt, cat = fmt.Sprintf("Product %d", p), "Size", fmt.Sprintf("Dept %d > Aisle %d", p/30, p%3)
				}
				fmt.Fprintf(&b, "p-%d,%s,%s,%d.%02d,%d,%s,v%d,%s\n", p, title, sku, price/100, price%100, p%4, opt, v, cat)
			}
		}
		return b.String()
	}
	ids := regexp.MustCompile(`id \d+`)
	run := func(writers int, bulk store.BulkTransport) (reports []string, data string) {
		d := dbtest.New(t)
		d.Store.Bulk = bulk
		for _, f := range []string{file(60, 1000), file(80, 4)} {
			rep, err := importFile(ctx, d.Store, "csv", strings.NewReader(f), catalog.ImportOptions{Actor: "test", BatchRows: 8, Writers: writers})
			if err != nil || !rep.Complete {
				t.Fatalf("%d writers: %v %+v", writers, err, rep)
			}
			js, _ := json.Marshal(rep)
			reports = append(reports, ids.ReplaceAllString(string(js), "id N"))
		}
		return reports, snapshot(t, d)
	}
	oneReports, oneData := run(1, store.BulkInsert)
	if !strings.Contains(oneReports[0], "imported earlier in this file") {
		t.Fatalf("no SKU of an earlier product refused: the test checks nothing\n%s", oneReports[0])
	}
	// Two writers with either transport decide as one writer does.
	for _, bulk := range []store.BulkTransport{store.BulkInsert, store.BulkLoad} {
		twoReports, twoData := run(2, bulk)
		for i := range oneReports {
			if twoReports[i] != oneReports[i] {
				t.Errorf("import %d: two writers (%s) reported\n%s\none writer\n%s", i+1, bulkName(bulk), twoReports[i], oneReports[i])
			}
		}
		if twoData != oneData {
			t.Errorf("two writers (%s) stored\n%s\none writer\n%s", bulkName(bulk), twoData, oneData)
		}
	}
}

// A category name is measured in characters, as its column is: 130 "é"
// (260 bytes) is a name. One over the limit is refused naming the category,
// not as "the database refused a value".
func TestCategoryNamesAreMeasuredInCharacters(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	ctx := context.Background()
	file := func(handle, category string) string {
		return `{"handle":"` + handle + `","title":"A","category":"Top > ` + category + `","variants":[{"sku":"` + handle + `","price":"1.00"}]}` + "\n"
	}
	rep, err := importFile(ctx, d.Store, "ndjson", strings.NewReader(file("fits", strings.Repeat("é", 130))+file("too-long", strings.Repeat("é", 256))), catalog.ImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Created != 1 || rep.Failed != 1 || len(rep.Errors) != 1 || rep.Errors[0].Field != "category" || rep.Errors[0].Line != 2 {
		t.Errorf("report %+v, want fits created and too-long refused on its category", rep)
	}
	if _, err := catalog.AddCategory(ctx, d.Store, catalog.CategoryInput{Name: strings.Repeat("ü", 200)}); err != nil {
		t.Errorf("a 200-character category name: %v", err)
	}
}

// A re-import reads no SKU owners for products stored as given, yet a
// product of the same file that names one of their SKUs is still refused
// naming the owner.
func TestAnUnchangedProductsSKUIsStillItsOwn(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	ctx := context.Background()
	first := "handle,title,sku,price\nmug,Mug,MUG-1,9.00\n"
	if rep, err := importFile(ctx, d.Store, "csv", strings.NewReader(first), catalog.ImportOptions{}); err != nil || rep.Created != 1 {
		t.Fatalf("first: %+v %v", rep, err)
	}
	for _, file := range []string{
		first + "cup,Cup,MUG-1,3.00\n", // the unchanged owner first, in one batch
		"handle,title,sku,price\ncup,Cup,MUG-1,3.00\n" + first[len("handle,title,sku,price\n"):], // the claimant first
		"handle,title,sku,price\ncup,Cup,MUG-1,3.00\n",                                           // the claimant alone
	} {
		rep, err := importFile(ctx, d.Store, "csv", strings.NewReader(file), catalog.ImportOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if rep.Failed != 1 || len(rep.Errors) != 1 || rep.Errors[0].Field != "sku" || !strings.Contains(rep.Errors[0].Message, `"mug"`) {
			t.Errorf("%q: %+v, want cup refused: MUG-1 is mug's", file, rep)
		}
	}
	var n int
	if err := d.DB.QueryRow("SELECT COUNT(*) FROM products WHERE slug = 'cup'").Scan(&n); err != nil || n != 0 {
		t.Errorf("cup was written (%d, %v)", n, err)
	}
}
