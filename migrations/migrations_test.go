package migrations_test

import (
	"io/fs"
	"regexp"
	"strings"
	"testing"

	"github.com/shelfcommerce/shelf/migrations"
)

var ddl = regexp.MustCompile(`(?i)^(CREATE|ALTER|DROP|RENAME|TRUNCATE)\s`)

// MySQL and MariaDB commit each DDL statement on its own, outside goose's
// transaction: a file whose DDL shares it with another statement can fail
// after the DDL, unrecorded, and then fail for good when run again ("duplicate
// column"). Every Up section with a DDL statement holds that one statement.
func TestEveryDDLHasAFileToItself(t *testing.T) {
	files, err := fs.Glob(migrations.FS, "*.sql")
	if err != nil || len(files) == 0 {
		t.Fatalf("no migrations: %v", err)
	}
	for _, name := range files {
		b, err := fs.ReadFile(migrations.FS, name)
		if err != nil {
			t.Fatal(err)
		}
		_, up, ok := strings.Cut(string(b), "-- +goose Up")
		if !ok {
			t.Errorf("%s: no Up section", name)
			continue
		}
		up, _, _ = strings.Cut(up, "-- +goose Down")
		var stmts, ddls []string
		for _, s := range statements(up) {
			stmts = append(stmts, s)
			if ddl.MatchString(s) {
				ddls = append(ddls, s)
			}
		}
		if len(ddls) > 0 && len(stmts) > 1 {
			t.Errorf("%s: %d statements, %d of them DDL; a DDL statement needs a file of its own", name, len(stmts), len(ddls))
		}
	}
}

// statements splits an Up section at its semicolons, comment lines left
// out (Shelf's migrations hold no semicolon inside a string).
func statements(sql string) []string {
	var kept []string
	for _, line := range strings.Split(sql, "\n") {
		if l := strings.TrimSpace(line); l != "" && !strings.HasPrefix(l, "--") {
			kept = append(kept, l)
		}
	}
	var out []string
	for _, s := range strings.Split(strings.Join(kept, "\n"), ";") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}
