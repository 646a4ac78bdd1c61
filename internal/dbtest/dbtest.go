// Package dbtest gives tests a real, throwaway, fully migrated MySQL/MariaDB
// database. Shelf's tests never mock the database: the behaviour that matters
// (locks, collations, strict mode, index choice) lives in the server.
//
// Running every migration for every test costs more than the tests
// themselves, so the first database a test process asks for is migrated with
// goose and its schema (each table's SHOW CREATE TABLE, and the rows goose
// keeps) is remembered; every later database of the process is built from
// that copy. Nothing is shared between databases and no template database is
// left on the server, so tests of one package can run in parallel and so can
// packages.
package dbtest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"os"
	"sync"
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

// New returns an empty database at the latest migration with a Store open
// on it, for this test alone. When the test ends the Store is closed and the
// database dropped, or, under Main, emptied and kept for a later test.
func New(t testing.TB) *DB {
	t.Helper()
	ctx := context.Background()
	dsn, name, ok := takeSpare()
	if !ok {
		var err error
		if dsn, name, err = Create(ctx); err != nil {
			t.Fatalf("dbtest: %v", err)
		}
	}
	var st *store.Store
	t.Cleanup(func() {
		if st != nil {
			st.Close()
		}
		giveBack(context.Background(), dsn, name)
	})
	if !ok {
		if err := migrated(ctx, dsn); err != nil {
			t.Fatalf("dbtest: migrate %s: %v", name, err)
		}
	}
	st, err := store.Open(ctx, dsn, store.DefaultPool)
	if err != nil {
		t.Fatalf("dbtest: open %s: %v", name, err)
	}
	return &DB{Store: st, Name: name, DSN: dsn}
}

// Main runs a test package's tests, handing each database a test is done
// with, emptied, to a later test (emptying the few tables a test wrote costs
// far less than building a schema), and drops every database it kept when
// the tests are done. A package whose tests call New has
//
//	func TestMain(m *testing.M) { dbtest.Main(m) }
//
// Without it each test's database is dropped when the test ends.
func Main(m *testing.M) {
	spare.Lock()
	spare.on = true
	spare.Unlock()
	code := m.Run()
	spare.Lock()
	left := spare.free
	spare.free, spare.on = nil, false
	spare.Unlock()
	for _, d := range left {
		Drop(context.Background(), d.name)
	}
	os.Exit(code)
}

type spareDB struct{ dsn, name string }

// spare holds the emptied databases of tests that have ended (under Main).
var spare struct {
	sync.Mutex
	on   bool
	free []spareDB
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

// Migrate brings the database at dsn to the latest migration with goose.
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

func takeSpare() (dsn, name string, ok bool) {
	spare.Lock()
	defer spare.Unlock()
	if n := len(spare.free); n > 0 {
		d := spare.free[n-1]
		spare.free = spare.free[:n-1]
		return d.dsn, d.name, true
	}
	return "", "", false
}

// giveBack keeps an ended test's database for the next test when Main runs
// and the database can be emptied back to the migrated schema; else it
// drops it.
func giveBack(ctx context.Context, dsn, name string) {
	spare.Lock()
	on := spare.on
	spare.Unlock()
	if on && empty(ctx, dsn) {
		spare.Lock()
		if spare.on {
			spare.free = append(spare.free, spareDB{dsn: dsn, name: name})
			spare.Unlock()
			return
		}
		spare.Unlock()
	}
	Drop(ctx, name)
}
