package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shelfcommerce/shelf/internal/dbtest"
)

func TestImportCommandPrintsTheReportAndProgressLines(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	file := filepath.Join(t.TempDir(), "products.csv")
	data := "handle,title,sku,price,stock\ntee,Tee,TEE-S,19.99,3\ntee,,TEE-M,19.99,\nmug,Mug,MUG,bad,1\n"
	if err := os.WriteFile(file, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	env := envOf(map[string]string{"SHELF_MYSQL_DSN": d.DSN, "USER": "tester"})
	run1 := func(args ...string) (map[string]any, string, error) {
		var out, errOut bytes.Buffer
		err := run(context.Background(), append([]string{"import"}, args...), env, strings.NewReader(""), &out, &errOut)
		var rep map[string]any
		if out.Len() > 0 {
			if jerr := json.Unmarshal(out.Bytes(), &rep); jerr != nil {
				t.Fatalf("stdout is not the JSON report: %v: %s", jerr, out.String())
			}
		}
		return rep, errOut.String(), err
	}

	rep, progress, err := run1(file, "--format", "csv", "--dry-run")
	if exitCode(err) != 1 || rep["created"] != 1.0 || rep["failed"] != 1.0 || rep["dry_run"] != true {
		t.Fatalf("dry run: exit %d, %v", exitCode(err), rep)
	}
	if !strings.Contains(progress, "shelf import: ") || !strings.Contains(progress, "rows/s") {
		t.Errorf("no plain progress line when not on a terminal: %q", progress)
	}
	// Flags after FILE and before it are the same command.
	if rep, _, err := run1("--format", "csv", file, "--dry-run"); exitCode(err) != 1 || rep["dry_run"] != true || rep["created"] != 1.0 {
		t.Fatalf("dry run, --dry-run after FILE: exit %d, %v", exitCode(err), rep)
	}
	var n int
	_ = d.DB.QueryRow("SELECT COUNT(*) FROM products").Scan(&n)
	if n != 0 {
		t.Fatalf("dry run wrote %d products", n)
	}
	rep, _, err = run1("--format=csv", file)
	if exitCode(err) != 1 || rep["created"] != 1.0 {
		t.Fatalf("import: exit %d, %v", exitCode(err), rep)
	}
	_ = d.DB.QueryRow("SELECT COUNT(*) FROM stock_movements WHERE actor = 'cli tester'").Scan(&n)
	if n != 1 {
		t.Errorf("ledger rows by the CLI: %d, want 1", n)
	}
	rep, _, _ = run1(file, "--format", "csv")
	if rep["unchanged"] != 1.0 || rep["created"] != 0.0 {
		t.Errorf("re-run: %v", rep)
	}
	if _, _, err := run1(file); exitCode(err) != 2 {
		t.Errorf("no --format: exit %d", exitCode(err))
	}
	bad := filepath.Join(t.TempDir(), "bad.csv")
	_ = os.WriteFile(bad, []byte("handle,title\nx,X\n"), 0o644)
	if _, _, err := run1(bad, "--format", "csv"); exitCode(err) != 2 || !strings.Contains(err.Error(), "sku") {
		t.Errorf("missing columns: %v", err)
	}
}

// A database that cannot be reached is not "some rows failed" (exit 1, with
// a report on stdout): a script must be able to tell the two apart.
func TestImportCommandExitsThreeWhenTheImportCannotRun(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "products.csv")
	if err := os.WriteFile(file, []byte("handle,title,sku,price\ntee,Tee,TEE,1.00\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	env := envOf(map[string]string{"SHELF_MYSQL_DSN": "root@tcp(127.0.0.1:1)/nowhere?timeout=1s"})
	var out, errOut bytes.Buffer
	err := run(context.Background(), []string{"import", file, "--format", "csv"}, env, strings.NewReader(""), &out, &errOut)
	if exitCode(err) != 3 || out.Len() != 0 {
		t.Errorf("unreachable database: exit %d (%v), stdout %q", exitCode(err), err, out.String())
	}
}
