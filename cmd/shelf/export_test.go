package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shelfcommerce/shelf/internal/dbtest"
)

// shelf export writes a file that shelf import takes back unchanged; to
// standard output the same bytes.
func TestExportCommandWritesAFileThatImportsBack(t *testing.T) {
	d := dbtest.New(t)
	env := envOf(map[string]string{"SHELF_MYSQL_DSN": d.DSN, "USER": "tester"})
	dir := t.TempDir()
	src := filepath.Join(dir, "in.csv")
	if err := os.WriteFile(src, []byte("handle,title,sku,price,stock,status\ntee,Tee,TEE-S,19.99,3,active\ntee,,TEE-M,19.99,,\nmug,Mug,MUG,5,1,draft\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := run(context.Background(), []string{"import", src, "--format", "csv"}, env, nil, io.Discard, io.Discard); err != nil {
		t.Fatal(err)
	}
	for _, format := range []string{"shopify", "csv", "ndjson"} {
		out := filepath.Join(dir, "catalog."+format)
		var progress bytes.Buffer
		if err := run(context.Background(), []string{"export", "--format", format, out}, env, nil, io.Discard, &progress); err != nil {
			t.Fatalf("export %s: %v", format, err)
		}
		if !strings.Contains(progress.String(), "shelf export: 100.0%  2 products written") {
			t.Errorf("export %s progress: %q", format, progress.String())
		}
		var stdout bytes.Buffer
		if err := run(context.Background(), []string{"export", "--format=" + format}, env, nil, &stdout, io.Discard); err != nil {
			t.Fatal(err)
		}
		file, _ := os.ReadFile(out)
		if !bytes.Equal(file, stdout.Bytes()) || !bytes.Contains(file, []byte("mug")) {
			t.Errorf("%s: FILE and standard output differ, or lack the draft:\n%s\n%s", format, file, stdout.Bytes())
		}
		var rep bytes.Buffer
		if err := run(context.Background(), []string{"import", out, "--format", format}, env, nil, &rep, io.Discard); err != nil {
			t.Fatalf("re-import %s: %v", format, err)
		}
		var r map[string]any
		_ = json.Unmarshal(rep.Bytes(), &r)
		if r["unchanged"] != 2.0 || r["created"] != 0.0 || r["updated"] != 0.0 {
			t.Errorf("re-import of the %s export: %v", format, r)
		}
	}
	if err := run(context.Background(), []string{"export"}, env, nil, io.Discard, io.Discard); exitCode(err) != 2 {
		t.Errorf("no --format: exit %d", exitCode(err))
	}
	bad := envOf(map[string]string{"SHELF_MYSQL_DSN": "root@tcp(127.0.0.1:1)/nowhere?timeout=1s"})
	if err := run(context.Background(), []string{"export", "--format", "csv", filepath.Join(dir, "x.csv")}, bad, nil, io.Discard, io.Discard); exitCode(err) != 3 {
		t.Errorf("unreachable database: exit %d", exitCode(err))
	}
	if _, err := os.Stat(filepath.Join(dir, "x.csv")); !os.IsNotExist(err) {
		t.Errorf("a failed export left its FILE behind")
	}
}

// The import bar counts rows written against a total estimated from the
// rows parsed per byte: the file being read to the end is not 100%, and the
// ETA is not 0 while batches are still being written.
func TestImportProgressIsHonestUntilTheEnd(t *testing.T) {
	cr := &countingReader{r: strings.NewReader("")}
	p := newProgress(io.Discard, "import", "rows", 1000, cr)
	p.begin = time.Now().Add(-10 * time.Second)
	cr.n.Store(500)
	p.parsed(4000) // 4,000 rows in the first 500 bytes: about 8,000 in all
	cr.n.Store(1000)
	p.rows.Store(2000)
	if l := p.line(false); !strings.HasPrefix(l, " 25.0%") || strings.Contains(l, "ETA 0s") || !strings.Contains(l, "100% of the file read") {
		t.Errorf("a quarter written, the whole file read: %q", l)
	}
	p.rows.Store(9000) // the estimate was low
	if l := p.line(false); !strings.HasPrefix(l, " 99.0%") || strings.Contains(l, "ETA 0s") {
		t.Errorf("past the estimate, still running: %q", l)
	}
	if l := p.line(true); !strings.HasPrefix(l, "100.0%") || !strings.Contains(l, "ETA 0s") {
		t.Errorf("finished: %q", l)
	}
}
