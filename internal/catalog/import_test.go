package catalog_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/shelfcommerce/shelf/internal/catalog"
	"github.com/shelfcommerce/shelf/internal/dbtest"
)

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
	var b strings.Builder
	for _, q := range []string{
		"SELECT slug, title, status, skus, version FROM products ORDER BY slug",
		"SELECT p.slug, v.sku, v.position, v.option1, v.price, v.active, i.on_hand FROM variants v JOIN products p ON p.id = v.product_id JOIN inventory i ON i.variant_id = v.id ORDER BY v.sku",
		"SELECT p.slug, c.slug FROM product_categories pc JOIN products p ON p.id = pc.product_id JOIN categories c ON c.id = pc.category_id ORDER BY 1, 2",
		"SELECT slug, name, depth, product_count FROM categories ORDER BY slug",
		"SELECT p.slug, i.src, i.position FROM product_images i JOIN products p ON p.id = i.product_id ORDER BY 1, 2",
		"SELECT p.slug, a.name, a.value FROM product_attributes a JOIN products p ON p.id = a.product_id ORDER BY 1, 2, 3",
		"SELECT l.category_id = 0, p.slug, l.price_min, l.in_stock FROM product_listing l JOIN products p ON p.id = l.product_id ORDER BY 1, 2",
		"SELECT sku, delta, on_hand_after, reason FROM stock_movements ORDER BY sku",
	} {
		rows, err := d.DB.Query(q)
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
				fmt.Fprintf(&b, "%s|", v)
			}
			b.WriteByte('\n')
		}
		rows.Close()
		b.WriteString("--\n")
	}
	return b.String()
}

// TestImportCutMidwayThenRerunEqualsOneCleanImport: an import that dies
// midway leaves only whole batches, and running the file again ends with
// exactly the data of one uninterrupted import.
func TestImportCutMidwayThenRerunEqualsOneCleanImport(t *testing.T) {
	ctx := context.Background()
	file := sampleCSV(40)
	opts := catalog.ImportOptions{Format: "csv", Currency: "USD", Actor: "test", BatchRows: 12}

	clean := dbtest.New(t)
	rep, err := catalog.Import(ctx, clean.Store, strings.NewReader(file), opts)
	if err != nil || rep.Created != 40 || len(rep.Errors) != 0 {
		t.Fatalf("clean import: %v %+v", err, rep)
	}
	want := snapshot(t, clean)

	for _, cut := range []int{len(file) / 5, len(file) / 2, len(file) - 10} {
		d := dbtest.New(t)
		if _, err := catalog.Import(ctx, d.Store, &cutReader{r: strings.NewReader(file), n: cut}, opts); err == nil {
			t.Fatalf("cut at %d: no error", cut)
		}
		var partial int
		_ = d.DB.QueryRow("SELECT COUNT(*) FROM products").Scan(&partial)
		var variants int
		_ = d.DB.QueryRow("SELECT COUNT(*) FROM variants").Scan(&variants)
		if variants != 3*partial {
			t.Errorf("cut at %d: %d products but %d variants: a product was split", cut, partial, variants)
		}
		rep, err := catalog.Import(ctx, d.Store, strings.NewReader(file), opts)
		if err != nil || rep.Created+rep.Unchanged != 40 || rep.Unchanged != partial {
			t.Fatalf("re-run after cut at %d: %v %+v (had %d)", cut, err, rep, partial)
		}
		if got := snapshot(t, d); got != want {
			t.Errorf("cut at %d then re-run differs from one clean import:\n%s\nwant\n%s", cut, got, want)
		}
	}
}
