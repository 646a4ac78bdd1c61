package store_test

import (
	"context"
	"sync"
	"testing"

	"github.com/shelfcommerce/shelf/db"
	"github.com/shelfcommerce/shelf/internal/dbtest"
	"github.com/shelfcommerce/shelf/internal/store"
)

func emptyDB(t *testing.T) string {
	t.Helper()
	dsn, name, err := dbtest.Create(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dbtest.Drop(context.Background(), name) })
	return dsn
}

// Every Down must work: up, down to zero, up again, and the schema is whole.
func TestMigrationsGoUpDownAndUpAgain(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	sqlDB, err := store.OpenDB(ctx, emptyDB(t), store.DefaultPool)
	if err != nil {
		t.Fatal(err)
	}
	defer sqlDB.Close()
	p, err := store.NewMigrator(sqlDB, nil)
	if err != nil {
		t.Fatal(err)
	}
	latest := store.LatestVersion(p)
	if files := store.LatestMigration(); files != latest || latest == 0 {
		t.Fatalf("LatestMigration %d, the provider's latest %d", files, latest)
	}
	if _, err := p.Up(ctx); err != nil {
		t.Fatalf("up: %v", err)
	}
	if _, err := p.DownTo(ctx, 0); err != nil {
		t.Fatalf("down to 0: %v", err)
	}
	var tables int
	if err := sqlDB.QueryRowContext(ctx, `SELECT COUNT(*) FROM information_schema.tables
		WHERE table_schema = DATABASE() AND table_name NOT LIKE 'goose%'`).Scan(&tables); err != nil {
		t.Fatal(err)
	}
	if tables != 0 {
		t.Fatalf("%d tables left after migrating down to zero", tables)
	}
	if _, err := p.Up(ctx); err != nil {
		t.Fatalf("up again: %v", err)
	}
	v, err := store.SchemaVersion(ctx, sqlDB)
	if err != nil || v != latest {
		t.Fatalf("version = %d, %v; want %d", v, err, latest)
	}
	// Every sqlc query must prepare against the schema the migrations build.
	q, err := db.Prepare(ctx, sqlDB)
	if err != nil {
		t.Fatalf("the migrated schema does not prepare every query: %v", err)
	}
	q.Close()
}

// Six `migrate up` at the same moment on one empty database: all succeed and
// each migration is applied once.
func TestConcurrentMigrateUpAppliesEachOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dsn := emptyDB(t)
	const n = 6
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sqlDB, err := store.OpenDB(ctx, dsn, store.PoolConfig{MaxOpen: 2, MaxIdle: 2})
			if err != nil {
				errs[i] = err
				return
			}
			defer sqlDB.Close()
			p, err := store.NewMigrator(sqlDB, nil)
			if err != nil {
				errs[i] = err
				return
			}
			_, errs[i] = p.Up(ctx)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("migrator %d: %v", i, err)
		}
	}
	sqlDB, err := store.OpenDB(ctx, dsn, store.DefaultPool)
	if err != nil {
		t.Fatal(err)
	}
	defer sqlDB.Close()
	var dup int
	if err := sqlDB.QueryRowContext(ctx, `SELECT COUNT(*) FROM (SELECT version_id FROM goose_db_version
		GROUP BY version_id HAVING COUNT(*) > 1) d`).Scan(&dup); err != nil {
		t.Fatal(err)
	}
	if dup != 0 {
		t.Fatalf("%d migrations were recorded more than once", dup)
	}
}
