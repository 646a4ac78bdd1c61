package catalog_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/shelfcommerce/shelf/internal/catalog"
	"github.com/shelfcommerce/shelf/internal/dbtest"
	"github.com/shelfcommerce/shelf/internal/events"
	"github.com/shelfcommerce/shelf/internal/importer"
	"github.com/shelfcommerce/shelf/internal/store"
)

// awkward is text that the file form of LOAD DATA has to escape (tabs,
// newlines, backslashes), must not read as NULL (\N, NULL), or must carry
// byte for byte (non-ASCII, quotes).
var awkward = []string{"tab\there", `back\slash`, `\N`, "NULL", `ends with \`, "naïve café ☕ 𝄞 日本語", `"quoted" 'single'`, `\t\n literally`}

// awkwardFile is an NDJSON import whose every text column holds awkward
// text, with SKU-less variants (a NULL SKU) and variants without a
// compare-at price (NULL), enough products for every table's rows to be
// sent in bulk.
func awkwardFile(products int) string {
	var b strings.Builder
	for p := range products {
		s := awkward[p%len(awkward)]
		desc := "<p>" + s + "</p>\n<p>second\tline \\ " + s + "</p>"
		vs := []map[string]any{
			{"sku": fmt.Sprintf("AW-%d-%s", p, strings.ReplaceAll(s, "\t", "_")), "price": "12.50", "compare_at_price": "20.00", "stock": p % 3,
				"options": map[string]string{"Size": s}},
			{"price": "9.99", "stock": 4, "options": map[string]string{"Size": "plain " + s}},
		}
		doc := map[string]any{
			"handle": fmt.Sprintf("awkward-%d", p), "title": "Title " + s, "description": desc, "brand": "Brand " + s,
			"type": "Type " + s, "status": "active", "category": "Odd \\ Things > " + awkward[(p/3)%len(awkward)],
			"tags":       []string{"tag " + s, "other"},
			"attributes": map[string]any{"material": "wool " + s, "finish": []string{"matte", "gloss " + s}},
			"images":     []map[string]any{{"src": fmt.Sprintf("https://img.example/ü/%d.jpg", p), "alt": "alt " + s, "position": 1}},
			"variants":   vs,
		}
		js, _ := json.Marshal(doc)
		b.Write(js)
		b.WriteByte('\n')
	}
	return b.String()
}

// exported is the whole catalog exported as NDJSON.
func exported(t *testing.T, st *store.Store) string {
	t.Helper()
	var out bytes.Buffer
	fw, err := importer.NewWriter("ndjson", &out)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := catalog.Export(context.Background(), st, fw, catalog.ExportOptions{}); err != nil {
		t.Fatal(err)
	}
	return out.String()
}

var idsInJSON = regexp.MustCompile(`"(id|product_id|variant_id)":\d+|"(created_at|updated_at)":"[^"]*"`)

// servedPages is every product's page as the storefront serves it, with ids
// left out (they depend on the database's auto-increment counters).
func servedPages(t *testing.T, st *store.Store, products int) string {
	t.Helper()
	sf := catalog.NewStorefront(st, catalog.StorefrontConfig{Currency: "USD"})
	var b strings.Builder
	for p := range products {
		page, err := sf.ProductPage(context.Background(), fmt.Sprintf("awkward-%d", p))
		if err != nil {
			t.Fatalf("page of awkward-%d: %v", p, err)
		}
		b.WriteString(idsInJSON.ReplaceAllString(string(page.Body), `"$1":N`))
		b.WriteByte('\n')
	}
	return b.String()
}

var eventVarying = regexp.MustCompile(`"(\w*id|at|\w+_at)":(\d+|"[^"]*")`)

// eventDocs is every recorded event's document, ids and times left out, sorted.
func eventDocs(t *testing.T, d *dbtest.DB) string {
	t.Helper()
	rows, err := d.DB.Query("SELECT type, n, data, data_z FROM events")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var docs []string
	for rows.Next() {
		var typ string
		var data, z []byte
		var n int
		if err := rows.Scan(&typ, &n, &data, &z); err != nil {
			t.Fatal(err)
		}
		text, err := events.RowText(data, z)
		if err != nil {
			t.Fatal(err)
		}
		parts := strings.Split(string(text), "\n")
		if len(parts) != n {
			t.Errorf("an events row of %d events holds %d documents", n, len(parts))
		}
		for _, p := range parts {
			docs = append(docs, typ+" "+eventVarying.ReplaceAllString(p, `"$1":N`))
		}
	}
	slices.Sort(docs)
	return strings.Join(docs, "\n")
}

// TestLoadDataImportStoresTextAsGiven: a first import sent with LOAD DATA
// LOCAL INFILE stores what the same import sent with INSERTs stores: every
// text column with its tabs, newlines, backslashes, \N, NULL and non-ASCII
// text as given, NULL SKUs and compare-at prices as NULL; the product
// pages, the search and the export agree, and the export imported again
// changes nothing.
func TestLoadDataImportStoresTextAsGiven(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	const products = 40
	file := awkwardFile(products)
	type result struct{ export, pages, data, search, events string }
	run := func(bulk store.BulkTransport) result {
		d := dbtest.New(t)
		d.Store.Bulk = bulk
		tx, err := d.Store.Begin(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		used := store.LoadDataUsed(ctx, tx)
		_ = tx.Rollback()
		if bulk == store.BulkLoad && !used {
			t.Skip("the server refuses LOCAL INFILE: the INSERT path is what runs, and other tests check it")
		}
		if bulk == store.BulkInsert && used {
			t.Fatal("BulkInsert still loads")
		}
		rep, err := importFile(ctx, d.Store, "ndjson", strings.NewReader(file), catalog.ImportOptions{Actor: "test", BatchRows: 30})
		if err != nil || rep.Created != products || rep.Failed != 0 || len(rep.Errors) != 0 {
			t.Fatalf("import: %v %+v", err, rep)
		}
		var r result
		r.export = exported(t, d.Store)
		r.pages = servedPages(t, d.Store, products)
		r.data = snapshot(t, d) + dump(t, d.DB,
			"SELECT p.slug, p.description, p.brand, p.product_type, p.tags, p.option1_name, v.option1, v.sku IS NULL, v.compare_at_price "+
				"FROM products p JOIN variants v ON v.product_id = p.id ORDER BY p.slug, v.position",
			"SELECT p.slug, i.alt FROM product_images i JOIN products p ON p.id = i.product_id ORDER BY 1",
			"SELECT l.category_id = 0, l.slug, l.title, l.brand FROM product_listing l ORDER BY 1, 2, 3",
			"SELECT m.sku IS NULL, m.sku, m.on_hand_after, m.order_id IS NULL FROM stock_movements m ORDER BY 2, 1, 3",
			"SELECT name, value, products FROM listing_attribute_counts WHERE category_id = 0 ORDER BY 1, 2")
		r.events = eventDocs(t, d)
		// Rows that tie on their ORDER BY (NULL SKUs) come in id order,
		// which depends on which batch was inserted first.
		lines := strings.Split(r.data, "\n")
		slices.Sort(lines)
		r.data = strings.Join(lines, "\n")
		sf := catalog.NewStorefront(d.Store, catalog.StorefrontConfig{Currency: "USD"})
		for _, q := range []string{"naïve", "日本語", "slash", "quoted"} {
			lq, err := catalog.ParseListQuery("limit=100&q="+url.QueryEscape(q), "USD")
			if err != nil {
				t.Fatal(err)
			}
			page, err := sf.List(ctx, lq)
			if err != nil {
				t.Fatal(err)
			}
			js, _ := json.Marshal(page)
			r.search += q + ": " + idsInJSON.ReplaceAllString(string(js), `"$1":N`) + "\n"
		}
		// The export read back is the catalog that was stored.
		again, err := importFile(ctx, d.Store, "ndjson", strings.NewReader(r.export), catalog.ImportOptions{Actor: "test"})
		if err != nil || again.Unchanged != products || len(again.Errors) != 0 {
			t.Errorf("re-import of the export: %v %+v", err, again)
		}
		return r
	}
	load, insert := run(store.BulkLoad), run(store.BulkInsert)
	for _, s := range awkward {
		js, _ := json.Marshal("Title " + s)
		if !strings.Contains(load.pages, `"title":`+string(js)) {
			t.Errorf("no page has the title %s:\n%s", js, load.pages)
		}
	}
	if !strings.Contains(load.search, "Title naïve café") || !strings.Contains(load.search, `back\\slash`) {
		t.Errorf("searches found nothing: the test checks nothing\n%s", load.search)
	}
	if !strings.Contains(load.events, `"sku":"AW-1-back\\slash"`) || !strings.Contains(load.events, "price.changed") {
		t.Errorf("no stock or price events recorded: the test checks nothing\n%.2000s", load.events)
	}
	for _, c := range []struct{ what, load, insert string }{
		{"export", load.export, insert.export}, {"product pages", load.pages, insert.pages},
		{"tables", load.data, insert.data}, {"searches", load.search, insert.search}, {"events", load.events, insert.events},
	} {
		if c.load != c.insert {
			t.Errorf("%s after LOAD DATA:\n%s\nafter INSERTs:\n%s", c.what, c.load, c.insert)
		}
	}
}
