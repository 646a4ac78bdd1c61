// Package store owns Shelf's connection to MySQL or MariaDB: it normalises the
// DSN to what the service relies on, opens the pool, runs migrations under a
// lock, and runs transactions that are retried whole on deadlock or lock-wait
// timeout, because after either error the server has undone only part of one.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/shelfcommerce/shelf/db"
)

// Pool sizes and lifetimes. Eight connections saturate two cores here; more
// only adds contention.
type PoolConfig struct {
	MaxOpen     int
	MaxIdle     int
	MaxLifetime time.Duration
}

// DefaultPool is the pool the service uses unless configured otherwise.
var DefaultPool = PoolConfig{MaxOpen: 8, MaxIdle: 8, MaxLifetime: 5 * time.Minute}

// Store is the database handle the rest of Shelf uses: the pool, and the sqlc
// queries prepared on it.
type Store struct {
	DB *sql.DB
	Q  *db.Queries
}

// NormalizeDSN rewrites a go-sql-driver DSN into the form Shelf needs whatever
// the user passed: times parsed as UTC time.Time, utf8mb4, strict SQL mode
// (a bad value is an error, never a silent truncation), one statement per
// query, and parameters interpolated client-side for the queries that are
// built at run time (sqlc's queries stay server-side prepared statements).
func NormalizeDSN(dsn string) (string, error) {
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		return "", fmt.Errorf("SHELF_MYSQL_DSN: %w", err)
	}
	cfg.ParseTime = true
	cfg.Loc = time.UTC
	cfg.MultiStatements = false
	cfg.InterpolateParams = true
	cfg.Collation = "utf8mb4_unicode_520_ci"
	cfg.AllowNativePasswords = true
	if cfg.Timeout == 0 {
		cfg.Timeout = 5 * time.Second
	}
	if cfg.Params == nil {
		cfg.Params = map[string]string{}
	}
	delete(cfg.Params, "charset")
	cfg.Params["sql_mode"] = "'STRICT_TRANS_TABLES,NO_ZERO_IN_DATE,NO_ZERO_DATE,ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION'"
	cfg.Params["time_zone"] = "'+00:00'"
	return cfg.FormatDSN(), nil
}

// DatabaseName returns the schema a DSN names, or "" when it names none.
func DatabaseName(dsn string) string {
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		return ""
	}
	return cfg.DBName
}

// Open normalises dsn, opens a pool sized by pc and prepares sqlc's queries.
func Open(ctx context.Context, dsn string, pc PoolConfig) (*Store, error) {
	sqlDB, err := OpenDB(ctx, dsn, pc)
	if err != nil {
		return nil, err
	}
	q, err := db.Prepare(ctx, sqlDB)
	if err != nil {
		sqlDB.Close()
		return nil, fmt.Errorf("prepare queries (is the schema migrated? run `shelf migrate up`): %w", err)
	}
	return &Store{DB: sqlDB, Q: q}, nil
}

// OpenDB opens and pings a normalised pool without preparing queries: for
// migrations, which must work before the tables exist.
func OpenDB(ctx context.Context, dsn string, pc PoolConfig) (*sql.DB, error) {
	norm, err := NormalizeDSN(dsn)
	if err != nil {
		return nil, err
	}
	sqlDB, err := sql.Open("mysql", norm)
	if err != nil {
		return nil, err
	}
	if pc.MaxOpen == 0 {
		pc = DefaultPool
	}
	sqlDB.SetMaxOpenConns(pc.MaxOpen)
	sqlDB.SetMaxIdleConns(pc.MaxIdle)
	sqlDB.SetConnMaxLifetime(pc.MaxLifetime)
	pingCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := sqlDB.PingContext(pingCtx); err != nil {
		sqlDB.Close()
		return nil, fmt.Errorf("connect to MySQL: %w", err)
	}
	return sqlDB, nil
}

// Close closes the prepared statements and the pool.
func (s *Store) Close() error {
	return errors.Join(s.Q.Close(), s.DB.Close())
}
