package store

import (
	"context"
	"database/sql"
	"fmt"
	"io/fs"
	"log/slog"
	"time"

	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"

	"github.com/shelfcommerce/shelf/migrations"
)

// NewMigrator returns a goose Provider over the embedded migrations. Runs are
// serialised across processes by goose's MySQL table locker (a row in an
// ordinary table, which also works on Vitess and TiDB, unlike GET_LOCK), so
// several CI jobs can run `shelf migrate up` on one database at once.
func NewMigrator(sqlDB *sql.DB, logger *slog.Logger) (*goose.Provider, error) {
	return NewMigratorFS(sqlDB, migrations.FS, logger)
}

// NewMigratorFS is NewMigrator over another set of migration files (tests).
func NewMigratorFS(sqlDB *sql.DB, fsys fs.FS, logger *slog.Logger) (*goose.Provider, error) {
	locker, err := lock.NewMySQLTableLocker(
		// Poll for the lock twice a second for up to ten minutes, rather than
		// goose's default of every five seconds.
		lock.WithTableLockTimeout(500*time.Millisecond, 1200),
	)
	if err != nil {
		return nil, err
	}
	opts := []goose.ProviderOption{goose.WithLocker(locker)}
	if logger != nil {
		opts = append(opts, goose.WithSlog(logger))
	}
	p, err := goose.NewProvider(goose.DialectMySQL, sqlDB, fsys, opts...)
	if err != nil {
		return nil, fmt.Errorf("load migrations: %w", err)
	}
	return p, nil
}

// LatestVersion is the newest migration embedded in this binary.
func LatestVersion(p *goose.Provider) int64 {
	var v int64
	for _, s := range p.ListSources() {
		v = max(v, s.Version)
	}
	return v
}

// LatestMigration is LatestVersion without a Provider, from the embedded
// files' names alone: for a process that has no connection yet.
func LatestMigration() int64 {
	var v int64
	names, _ := fs.Glob(migrations.FS, "*.sql")
	for _, n := range names {
		if x, err := goose.NumericComponent(n); err == nil {
			v = max(v, x)
		}
	}
	return v
}

// SchemaVersion reports the database's applied migration version and the
// binary's latest. Readiness compares the two.
func SchemaVersion(ctx context.Context, sqlDB *sql.DB) (int64, error) {
	var v sql.NullInt64
	err := sqlDB.QueryRowContext(ctx,
		"SELECT MAX(version_id) FROM goose_db_version WHERE is_applied = 1").Scan(&v)
	if err != nil {
		return 0, err
	}
	return v.Int64, nil
}
