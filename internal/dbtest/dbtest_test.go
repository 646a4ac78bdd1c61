package dbtest_test

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"testing"

	"github.com/shelfcommerce/shelf/internal/dbtest"
	"github.com/shelfcommerce/shelf/internal/store"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

// describe is a database's schema and goose's bookkeeping as text: every
// table's definition, and the applied versions.
func describe(t *testing.T, sqlDB *sql.DB) string {
	t.Helper()
	var b strings.Builder
	rows, err := sqlDB.Query("SHOW FULL TABLES")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for rows.Next() {
		var name, kind string
		if err := rows.Scan(&name, &kind); err != nil {
			t.Fatal(err)
		}
		names = append(names, name)
	}
	rows.Close()
	for _, name := range names {
		var create string
		if err := sqlDB.QueryRow("SHOW CREATE TABLE `"+name+"`").Scan(&name, &create); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "%s\n", create)
	}
	rows, err = sqlDB.Query("SELECT version_id, is_applied FROM goose_db_version ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var v int64
		var applied bool
		if err := rows.Scan(&v, &applied); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "version %d %v\n", v, applied)
	}
	return b.String()
}

// A database built from the remembered schema is the database goose builds,
// and goose sees nothing left to apply.
func TestNewDatabasesEqualMigratedOnes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dsn, name, err := dbtest.Create(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dbtest.Drop(context.Background(), name) })
	if err := dbtest.Migrate(ctx, dsn); err != nil {
		t.Fatal(err)
	}
	migrated, err := store.OpenDB(ctx, dsn, store.DefaultPool)
	if err != nil {
		t.Fatal(err)
	}
	defer migrated.Close()
	want := describe(t, migrated)

	first, second := dbtest.New(t), dbtest.New(t)
	for _, d := range []*dbtest.DB{first, second} {
		if got := describe(t, d.DB); got != want {
			t.Errorf("%s differs from a migrated database:\n%s\nwant:\n%s", d.Name, got, want)
		}
		p, err := store.NewMigrator(d.DB, nil)
		if err != nil {
			t.Fatal(err)
		}
		pending, err := p.HasPending(ctx)
		if err != nil || pending {
			t.Errorf("%s: pending migrations = %v, %v", d.Name, pending, err)
		}
		if _, err := d.DB.Exec("INSERT INTO categories (slug, name, created_at, updated_at) VALUES ('a', 'A', NOW(), NOW())"); err != nil {
			t.Fatal(err)
		}
	}
	var n int
	if err := second.DB.QueryRow("SELECT COUNT(*) FROM categories").Scan(&n); err != nil || n != 1 {
		t.Fatalf("second database holds %d categories (%v): databases share rows", n, err)
	}
}

// A database a test is done with comes back to the next test empty, its
// counters reset, and one whose schema a test changed is not reused.
func TestEndedTestsHandBackEmptyDatabases(t *testing.T) {
	ctx := context.Background()
	fresh, err := store.OpenDB(ctx, dbtest.New(t).DSN, store.DefaultPool)
	if err != nil {
		t.Fatal(err)
	}
	defer fresh.Close()
	want := describe(t, fresh)

	var used, altered string
	t.Run("write", func(t *testing.T) {
		d := dbtest.New(t)
		used = d.Name
		for range 3 {
			if _, err := d.DB.Exec("INSERT INTO categories (slug, name, created_at, updated_at) VALUES (UUID(), 'A', NOW(), NOW())"); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := d.DB.Exec("INSERT INTO category_ancestors VALUES (1, 1, 0)"); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("reuse", func(t *testing.T) {
		d := dbtest.New(t)
		if d.Name != used {
			t.Fatalf("got %s, want the database the last test handed back (%s)", d.Name, used)
		}
		if got := describe(t, d.DB); got != want {
			t.Fatalf("a reused database differs from a new one:\n%s\nwant:\n%s", got, want)
		}
		var n int
		if err := d.DB.QueryRow("SELECT (SELECT COUNT(*) FROM categories) + (SELECT COUNT(*) FROM category_ancestors)").Scan(&n); err != nil || n != 0 {
			t.Fatalf("%d rows left (%v)", n, err)
		}
		res, err := d.DB.Exec("INSERT INTO categories (slug, name, created_at, updated_at) VALUES ('a', 'A', NOW(), NOW())")
		if err != nil {
			t.Fatal(err)
		}
		if id, _ := res.LastInsertId(); id != 1 {
			t.Fatalf("first id in a reused database = %d, want 1", id)
		}
		if _, err := d.DB.Exec("ALTER TABLE categories ADD COLUMN extra INT"); err != nil {
			t.Fatal(err)
		}
		altered = d.Name
	})
	t.Run("altered", func(t *testing.T) {
		d := dbtest.New(t)
		if d.Name == altered {
			t.Fatalf("a database whose schema a test changed was reused")
		}
		if got := describe(t, d.DB); got != want {
			t.Fatalf("database differs from a new one:\n%s\nwant:\n%s", got, want)
		}
	})
}
