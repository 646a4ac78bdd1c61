// Package dbtest gives tests a real, throwaway, fully migrated MySQL/MariaDB
// database. Shelf's tests never mock the database: the behaviour that matters
// (locks, collations, strict mode, index choice) lives in the server.
package dbtest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/shelfcommerce/shelf/internal/store"
)

// ServerDSN is the DSN of the server tests use, without a database:
// SHELF_TEST_MYSQL_DSN, else SHELF_MYSQL_DSN, else root on 127.0.0.1:3306.
func ServerDSN() string {
	for _, k := range []string{"SHELF_TEST_MYSQL_DSN", "SHELF_MYSQL_DSN"} {
		if v := os.Getenv(k); v != "" {
			return v
		}
	}
	return "root@tcp(127.0.0.1:3306)/"
}

// DB is one throwaway database.
type DB struct {
	*store.Store
	Name string
	DSN  string // DSN of this database, for code that opens its own pool
}

// New creates a database with a random name, migrates it to the latest
// version, opens a Store on it, and drops it when the test ends.
func New(t testing.TB) *DB {
	t.Helper()
	ctx := context.Background()
	dsn, name, err := Create(ctx)
	if err != nil {
		t.Fatalf("dbtest: %v", err)
	}
	t.Cleanup(func() { Drop(context.Background(), name) })
	if err := Migrate(ctx, dsn); err != nil {
		t.Fatalf("dbtest: migrate %s: %v", name, err)
	}
	st, err := store.Open(ctx, dsn, store.DefaultPool)
	if err != nil {
		t.Fatalf("dbtest: open %s: %v", name, err)
	}
	t.Cleanup(func() { st.Close() })
	return &DB{Store: st, Name: name, DSN: dsn}
}

// Create makes an empty database named shelf_test_<random> on ServerDSN and
// returns its DSN and name.
func Create(ctx context.Context) (dsn, name string, err error) {
	return CreateOn(ctx, ServerDSN())
}

// CreateOn is Create on another server (a private one, or a cluster node),
// given by a DSN without a database.
func CreateOn(ctx context.Context, server string) (dsn, name string, err error) {
	cfg, err := mysql.ParseDSN(server)
	if err != nil {
		return "", "", fmt.Errorf("parse test DSN: %w", err)
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	name = "shelf_test_" + hex.EncodeToString(b[:])
	cfg.DBName = ""
	admin, err := sql.Open("mysql", cfg.FormatDSN())
	if err != nil {
		return "", "", err
	}
	defer admin.Close()
	pingCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := admin.PingContext(pingCtx); err != nil {
		return "", "", fmt.Errorf("no MySQL server at %s (start one, or set SHELF_TEST_MYSQL_DSN): %w", cfg.Addr, err)
	}
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE `"+name+"` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_520_ci"); err != nil {
		return "", "", err
	}
	cfg.DBName = name
	return cfg.FormatDSN(), name, nil
}

// Migrate brings the database at dsn to the latest migration.
func Migrate(ctx context.Context, dsn string) error {
	sqlDB, err := store.OpenDB(ctx, dsn, store.PoolConfig{MaxOpen: 2, MaxIdle: 2, MaxLifetime: time.Minute})
	if err != nil {
		return err
	}
	defer sqlDB.Close()
	p, err := store.NewMigrator(sqlDB, nil)
	if err != nil {
		return err
	}
	_, err = p.Up(ctx)
	return err
}

// Drop removes a database made by Create.
func Drop(ctx context.Context, name string) { DropOn(ctx, ServerDSN(), name) }

// DropOn removes a database made by CreateOn.
func DropOn(ctx context.Context, server, name string) {
	cfg, err := mysql.ParseDSN(server)
	if err != nil {
		return
	}
	cfg.DBName = ""
	admin, err := sql.Open("mysql", cfg.FormatDSN())
	if err != nil {
		return
	}
	defer admin.Close()
	_, _ = admin.ExecContext(ctx, "DROP DATABASE IF EXISTS `"+name+"`")
}
