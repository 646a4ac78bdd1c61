package importbench_test

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/shelfcommerce/shelf/internal/auth"
	"github.com/shelfcommerce/shelf/internal/benchload"
	"github.com/shelfcommerce/shelf/internal/dbtest"
	"github.com/shelfcommerce/shelf/internal/store"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

// BenchmarkImport measures POST /v1/admin/imports on a generated Shopify CSV
// of SHELF_BENCH_IMPORT_ROWS variant rows (default 1,000,000: about 300,000
// products of 1 to 5 variants, 40 category paths, one image each) against a
// `shelf serve` child process on an empty database: the first import, a
// re-import of the same file (all unchanged), and an import with every tenth
// row's price changed. Next to them, in the same run, the bound: the same
// file sent with LOAD DATA LOCAL INFILE into one staging table; and the same
// rows loaded with multi-row INSERTs straight into products, variants,
// inventory and product_images of another empty database. It prints rows/s, the
// ratios and the server's peak RSS (VmHWM). Run it with
//
//	go test -run '^$' -bench Import -benchtime 1x ./internal/catalog/importbench
func BenchmarkImport(b *testing.B) {
	rows := benchload.EnvInt("SHELF_BENCH_IMPORT_ROWS", 1_000_000)
	ctx := context.Background()
	// SHELF_BENCH_IMPORT_DIR keeps the generated files between runs (a
	// million rows take a while to write); by default they are temporary.
	dir := os.Getenv("SHELF_BENCH_IMPORT_DIR")
	if dir == "" {
		dir = b.TempDir()
	}
	first := filepath.Join(dir, fmt.Sprintf("first-%d.csv", rows))
	changed := filepath.Join(dir, fmt.Sprintf("changed-%d.csv", rows))
	products := productsIn(rows)
	for _, f := range []struct {
		path   string
		change bool
	}{{first, false}, {changed, true}} {
		if _, err := os.Stat(f.path); err != nil {
			writeFile(b, f.path, rows, f.change)
			b.Logf("generated %s: %d rows, %d products", f.path, rows, products)
		}
	}

	bin := filepath.Join(b.TempDir(), "shelf")
	build := exec.Command("go", "build", "-o", bin, "github.com/shelfcommerce/shelf/cmd/shelf")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		b.Fatalf("build shelf: %v", err)
	}

	d := dbtest.New(b)
	secret, _, err := auth.NewKeys(d.Store.Q).Create(ctx, "bench", []string{auth.ScopeImportsWrite, auth.ScopeInventoryWrite})
	if err != nil {
		b.Fatal(err)
	}
	srv, base := startServer(b, bin, d.DSN)

	b.ResetTimer()
	type phase struct {
		name string
		file string
		want func(r report) bool
	}
	phases := []phase{
		{"first import (empty database)", first, func(r report) bool { return r.Created == products && r.Failed == 0 }},
		{"re-import, unchanged", first, func(r report) bool { return r.Unchanged == products && r.Failed == 0 }},
		{"re-import, 10% of prices changed", changed, func(r report) bool { return r.Updated > 0 && r.Failed == 0 }},
	}
	rates := make([]float64, len(phases))
	for i, p := range phases {
		start := time.Now()
		r := postFile(b, base, secret, p.file)
		el := time.Since(start)
		rates[i] = float64(rows) / el.Seconds()
		b.Logf("%s: %s, %+v", p.name, el.Round(time.Millisecond), r.counts())
		if !p.want(r) {
			b.Errorf("%s: unexpected report %+v", p.name, r.counts())
		}
	}
	hwm := vmHWM(b, srv.Process.Pid)
	b.StopTimer()

	raw := rawLoad(b, rows)
	load := loadData(b, first, rows)

	var t strings.Builder
	fmt.Fprintf(&t, "| %d rows (%d products) | rows/s | vs LOAD DATA | vs raw INSERT | seconds |\n|---|---:|---:|---:|---:|\n", rows, products)
	if load > 0 {
		fmt.Fprintf(&t, "| LOAD DATA LOCAL INFILE into one staging table (the bound) | %.0f | 100%% | | %.1f |\n", load, float64(rows)/load)
	}
	fmt.Fprintf(&t, "| raw multi-row INSERT into 4 tables | %.0f | %s | 100%% | %.1f |\n", raw, pct(raw, load), float64(rows)/raw)
	for i, p := range phases {
		fmt.Fprintf(&t, "| %s | %.0f | %s | %.0f%% | %.1f |\n", p.name, rates[i], pct(rates[i], load), 100*rates[i]/raw, float64(rows)/rates[i])
	}
	fmt.Fprintf(&t, "\nunchanged re-import is %.1fx the first import; server peak RSS (VmHWM) %d MB\n", rates[1]/rates[0], hwm>>10)
	fmt.Println(t.String())
	b.ReportMetric(rates[0], "rows/s-first")
	b.ReportMetric(rates[1], "rows/s-unchanged")
	b.ReportMetric(rates[2], "rows/s-changed")
	b.ReportMetric(raw, "rows/s-raw")
	b.ReportMetric(load, "rows/s-loaddata")
	b.ReportMetric(float64(hwm>>10), "MB-peak-rss")
	buf, ds := benchload.BufferPool(ctx, d.DB), fmt.Sprintf("%s Shopify rows, %s products", benchload.Count(rows), benchload.Count(products))
	var sum []benchload.SummaryRow
	bound, boundRate := "LOAD DATA LOCAL INFILE of the same file into a staging table", load
	if load == 0 {
		bound, boundRate = "raw multi-row INSERT of the same rows", raw
	}
	for i, p := range phases {
		sum = append(sum, benchload.SummaryRow{Path: "shelf import: " + p.name, Rate: rates[i], Bound: bound,
			BoundRate: boundRate, Unit: "rows/s", Dataset: ds, Pool: benchload.EnvInt("SHELF_DB_MAX_OPEN", 8), BufPool: buf})
	}
	if err := benchload.Record(sum...); err != nil {
		b.Fatal(err)
	}
}

type report struct {
	Created, Updated, Unchanged, Failed, Rows int
	Errors                                    []json.RawMessage
}

func (r report) counts() string {
	return fmt.Sprintf("created=%d updated=%d unchanged=%d failed=%d rows=%d errors=%d", r.Created, r.Updated, r.Unchanged, r.Failed, r.Rows, len(r.Errors))
}

// variantsOf, sizes, categoryOf and priceOf generate the catalog:
// deterministic, so the changed file differs from the first one only in the
// prices it means to change.
func variantsOf(p int) int { return [...]int{1, 2, 3, 4, 5, 5}[p%6] }

var sizes = []string{"S", "M", "L", "XL", "XXL"}

func categoryOf(p int) string {
	top := []string{"Apparel", "Home & Garden", "Toys & Games", "Sporting Goods"}
	mid := []string{"Basics", "Premium", "Outlet", "New In", "Classics", "Seasonal", "Gifts", "Bundles", "Kids", "Limited"}
	return top[p%4] + " > " + mid[(p/4)%10]
}

func priceOf(p, v int) int64 { return 1000 + int64((p*37+v*11)%9000) }

// productsIn is how many products writeFile makes of rows variant rows.
func productsIn(rows int) int {
	p := 0
	for row := 0; row < rows; p++ {
		row += variantsOf(p)
	}
	return p
}

func writeFile(b *testing.B, path string, rows int, change bool) {
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{"Handle", "Title", "Body (HTML)", "Vendor", "Product Category", "Type", "Tags", "Published",
		"Option1 Name", "Option1 Value", "Variant SKU", "Variant Inventory Qty", "Variant Price", "Variant Compare At Price",
		"Image Src", "Image Position", "Status"})
	row, p := 0, 0
	for ; row < rows; p++ {
		n := min(variantsOf(p), rows-row)
		handle := "bench-product-" + strconv.Itoa(p)
		for v := 0; v < n; v++ {
			price := priceOf(p, v)
			if change && row%10 == 0 {
				price += 100
			}
			rec := make([]string, 17)
			rec[0] = handle
			if v == 0 {
				rec[1] = "Bench Product " + strconv.Itoa(p)
				rec[2] = "<p>Description of bench product " + strconv.Itoa(p) + ", soft and durable.</p>"
				rec[3] = "Brand " + strconv.Itoa(p%50)
				rec[4] = categoryOf(p)
				rec[5] = "Thing"
				rec[6] = "bench, tag" + strconv.Itoa(p%20)
				rec[7] = "true"
				rec[14] = "https://img.example.com/p/" + strconv.Itoa(p) + ".jpg"
				rec[15] = "1"
				rec[16] = "active"
				if n > 1 {
					rec[8] = "Size"
				} else {
					rec[8] = "Title"
				}
			}
			if n > 1 {
				rec[9] = sizes[v]
			} else {
				rec[9] = "Default Title"
			}
			rec[10] = fmt.Sprintf("B%07d-%d", p, v)
			rec[11] = "10"
			rec[12] = strconv.FormatInt(price/100, 10) + "." + fmt.Sprintf("%02d", price%100)
			_ = cw.Write(rec)
			row++
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		b.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
	if p != productsIn(rows) {
		b.Fatalf("wrote %d products, productsIn says %d", p, productsIn(rows))
	}
}

func startServer(b *testing.B, bin, dsn string) (*exec.Cmd, string) {
	cmd := exec.Command(bin, "serve")
	cmd.Env = append(os.Environ(), "SHELF_MYSQL_DSN="+dsn, "SHELF_ADDR=127.0.0.1:0", "SHELF_LOG_LEVEL=warn")
	out, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
		}
	})
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		b.Fatalf("shelf serve: %v", err)
	}
	i := strings.Index(line, "http://")
	if i < 0 {
		b.Fatalf("shelf serve said %q", line)
	}
	go io.Copy(io.Discard, out)
	return cmd, strings.TrimSpace(line[i:])
}

func postFile(b *testing.B, base, key, path string) report {
	f, err := os.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	fi, _ := f.Stat()
	req, err := http.NewRequest(http.MethodPost, base+"/v1/admin/imports?format=shopify", f)
	if err != nil {
		b.Fatal(err)
	}
	req.ContentLength = fi.Size()
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "text/csv")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		b.Fatalf("import: %d %s", resp.StatusCode, body)
	}
	var r report
	if err := json.Unmarshal(body, &r); err != nil {
		b.Fatal(err)
	}
	return r
}

func vmHWM(b *testing.B, pid int) int64 {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		b.Logf("read VmHWM: %v", err)
		return 0
	}
	for _, l := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(l, "VmHWM:") {
			f := strings.Fields(l)
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb
		}
	}
	return 0
}

// pct is a as a percentage of bound, or "n/a" when there is no bound.
func pct(a, bound float64) string {
	if bound <= 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.0f%%", 100*a/bound)
}

// loadData is the bound the import is measured against: the same file sent
// with LOAD DATA LOCAL INFILE (the driver streams it from a reader) into one
// staging table of text columns on another empty database, with nothing
// parsed into types, checked or indexed but the row's own primary key. It
// returns 0 when the server refuses LOCAL INFILE (MySQL 8's default).
func loadData(b *testing.B, path string, rows int) float64 {
	d := dbtest.New(b)
	ctx := context.Background()
	if _, err := d.DB.ExecContext(ctx, `CREATE TABLE import_staging (
		id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
		handle VARCHAR(255), title VARCHAR(500), body TEXT, vendor VARCHAR(255), category VARCHAR(500),
		type VARCHAR(255), tags VARCHAR(1000), published VARCHAR(10), option1_name VARCHAR(255),
		option1_value VARCHAR(255), sku VARCHAR(255), qty VARCHAR(20), price VARCHAR(20),
		compare_at VARCHAR(20), image_src VARCHAR(1000), image_position VARCHAR(10), status VARCHAR(20))`); err != nil {
		b.Fatal(err)
	}
	cfg, err := mysql.ParseDSN(d.DSN)
	if err != nil {
		b.Fatal(err)
	}
	cfg.AllowAllFiles = false
	conn, err := sql.Open("mysql", cfg.FormatDSN())
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	f, err := os.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	const name = "import-bench"
	mysql.RegisterReaderHandler(name, func() io.Reader { return f })
	defer mysql.DeregisterReaderHandler(name)
	start := time.Now()
	res, err := conn.ExecContext(ctx, "LOAD DATA LOCAL INFILE 'Reader::"+name+"' INTO TABLE import_staging "+
		"CHARACTER SET utf8mb4 FIELDS TERMINATED BY ',' OPTIONALLY ENCLOSED BY '\"' LINES TERMINATED BY '\\n' IGNORE 1 LINES "+
		"(handle, title, body, vendor, category, type, tags, published, option1_name, option1_value, sku, qty, price, "+
		"compare_at, image_src, image_position, status)")
	if err != nil {
		b.Logf("LOAD DATA LOCAL INFILE refused (%v): no bound measured", err)
		return 0
	}
	el := time.Since(start)
	if n, _ := res.RowsAffected(); n != int64(rows) {
		b.Fatalf("LOAD DATA loaded %d rows, want %d", n, rows)
	}
	return float64(rows) / el.Seconds()
}

// rawLoad inserts the same rows with multi-row INSERTs (store.InsertRows,
// 500 rows a statement, a commit every ~2,000 variant rows, as the import
// batches) into another empty database, with ids assigned in Go: the cost of
// getting the bytes into InnoDB, without any reading, matching or checking.
func rawLoad(b *testing.B, rows int) float64 {
	d := dbtest.New(b)
	ctx := context.Background()
	now := time.Now().UTC()
	start := time.Now()
	row, p := 0, 0
	for row < rows {
		var prods, vars, inv, imgs []any
		for batchRows := 0; batchRows < 2000 && row < rows; p++ {
			n := min(variantsOf(p), rows-row)
			var skus bytes.Buffer
			for v := 0; v < n; v++ {
				vid := row + 1
				sku := fmt.Sprintf("B%07d-%d", p, v)
				skus.WriteString(sku + " ")
				size := "Default Title"
				if n > 1 {
					size = sizes[v]
				}
				vars = append(vars, vid, p+1, sku, v, size, priceOf(p, v), "USD", true, now, now)
				inv = append(inv, vid, p+1, 10, now)
				row++
				batchRows++
			}
			prods = append(prods, p+1, "bench-product-"+strconv.Itoa(p), "Bench Product "+strconv.Itoa(p),
				"<p>Description of bench product "+strconv.Itoa(p)+", soft and durable.</p>", "Brand "+strconv.Itoa(p%50),
				"Thing", "bench, tag"+strconv.Itoa(p%20), "active", skus.String(), now, now)
			imgs = append(imgs, p+1, 1, "https://img.example.com/p/"+strconv.Itoa(p)+".jpg")
		}
		err := d.Store.InTx(ctx, func(tx *store.Tx) error {
			if _, err := store.InsertRows(ctx, tx, "INSERT INTO products (id, slug, title, description, brand, product_type, tags, status, skus, created_at, updated_at)", 11, prods, ""); err != nil {
				return err
			}
			if _, err := store.InsertRows(ctx, tx, "INSERT INTO variants (id, product_id, sku, position, option1, price, currency, active, created_at, updated_at)", 10, vars, ""); err != nil {
				return err
			}
			if _, err := store.InsertRows(ctx, tx, "INSERT INTO inventory (variant_id, product_id, on_hand, updated_at)", 4, inv, ""); err != nil {
				return err
			}
			_, err := store.InsertRows(ctx, tx, "INSERT INTO product_images (product_id, position, src)", 3, imgs, "")
			return err
		})
		if err != nil {
			b.Fatalf("raw load: %v", err)
		}
	}
	return float64(rows) / time.Since(start).Seconds()
}
