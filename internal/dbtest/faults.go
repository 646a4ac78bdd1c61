package dbtest

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/shelfcommerce/shelf/db"
	"github.com/shelfcommerce/shelf/internal/store"
)

// Faults is a driver-level fault injector over the real MySQL driver, for
// behaviour that a single test server cannot produce on demand: the next n
// statements or queries whose SQL contains a string (or COMMITs) fail with a server
// error code, the way a Galera node answers a certification failure or a
// resync, or a server that is going away. A failed COMMIT really rolls back,
// as the server does; a failed statement is not sent at all. Everything
// else reaches the real database.
type Faults struct {
	mu    sync.Mutex
	match string
	code  uint16
	left  int
	hits  int
	// slow: statements whose SQL contains slowMatch wait slowFor first (a
	// server that takes its time, within the statement's context).
	slowMatch string
	slowFor   time.Duration
}

// Slow makes every statement whose SQL contains match wait d before it is
// sent (or fail with its context's error if that ends first); d 0 stops it.
func (f *Faults) Slow(match string, d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.slowMatch, f.slowFor = match, d
}

// before is what a statement meets before it is sent: its Slow delay, then
// its fault.
func (f *Faults) before(ctx context.Context, sql string) error {
	if err := f.wait(ctx, sql); err != nil {
		return err
	}
	return f.fire(sql)
}

// wait is the Slow delay of one statement.
func (f *Faults) wait(ctx context.Context, sql string) error {
	f.mu.Lock()
	d := f.slowFor
	if d <= 0 || !strings.Contains(sql, f.slowMatch) {
		d = 0
	}
	f.mu.Unlock()
	if d == 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Set makes the next n statements whose SQL contains match fail with the
// server error code (n < 0: all of them); match "COMMIT" fails COMMITs.
// It resets the count of Hits.
func (f *Faults) Set(match string, code uint16, n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.match, f.code, f.left, f.hits = match, code, n, 0
}

// Hits is how many statements failed since Set.
func (f *Faults) Hits() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.hits
}

func (f *Faults) fire(sql string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.left == 0 || !strings.Contains(sql, f.match) {
		return nil
	}
	f.left--
	f.hits++
	return &mysql.MySQLError{Number: f.code, Message: "injected"}
}

type faultConnector struct {
	driver.Connector
	f *Faults
}

func (c faultConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	return &faultConn{Conn: conn, f: c.f}, nil
}

type faultConn struct {
	driver.Conn
	f *Faults
}

func (c *faultConn) ExecContext(ctx context.Context, q string, args []driver.NamedValue) (driver.Result, error) {
	if err := c.f.before(ctx, q); err != nil {
		return nil, err
	}
	return c.Conn.(driver.ExecerContext).ExecContext(ctx, q, args)
}

func (c *faultConn) QueryContext(ctx context.Context, q string, args []driver.NamedValue) (driver.Rows, error) {
	if err := c.f.before(ctx, q); err != nil {
		return nil, err
	}
	return c.Conn.(driver.QueryerContext).QueryContext(ctx, q, args)
}

func (c *faultConn) PrepareContext(ctx context.Context, q string) (driver.Stmt, error) {
	st, err := c.Conn.(driver.ConnPrepareContext).PrepareContext(ctx, q)
	if err != nil {
		return nil, err
	}
	return &faultStmt{Stmt: st, f: c.f, sql: q}, nil
}

func (c *faultConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	tx, err := c.Conn.(driver.ConnBeginTx).BeginTx(ctx, opts)
	if err != nil {
		return nil, err
	}
	return &faultTx{Tx: tx, f: c.f}, nil
}

func (c *faultConn) CheckNamedValue(nv *driver.NamedValue) error {
	return c.Conn.(driver.NamedValueChecker).CheckNamedValue(nv)
}

func (c *faultConn) ResetSession(ctx context.Context) error {
	return c.Conn.(driver.SessionResetter).ResetSession(ctx)
}

type faultStmt struct {
	driver.Stmt
	f   *Faults
	sql string
}

func (s *faultStmt) ExecContext(ctx context.Context, args []driver.NamedValue) (driver.Result, error) {
	if err := s.f.before(ctx, s.sql); err != nil {
		return nil, err
	}
	return s.Stmt.(driver.StmtExecContext).ExecContext(ctx, args)
}

func (s *faultStmt) QueryContext(ctx context.Context, args []driver.NamedValue) (driver.Rows, error) {
	if err := s.f.before(ctx, s.sql); err != nil {
		return nil, err
	}
	return s.Stmt.(driver.StmtQueryContext).QueryContext(ctx, args)
}

func (s *faultStmt) CheckNamedValue(nv *driver.NamedValue) error {
	if c, ok := s.Stmt.(driver.NamedValueChecker); ok {
		return c.CheckNamedValue(nv)
	}
	return driver.ErrSkip
}

type faultTx struct {
	driver.Tx
	f *Faults
}

func (t *faultTx) Commit() error {
	if err := t.f.fire("COMMIT"); err != nil {
		_ = t.Tx.Rollback()
		return err
	}
	return t.Tx.Commit()
}

// NewFaulty is New, with the Store's connections going through a fault
// injector.
func NewFaulty(t testing.TB) (*DB, *Faults) {
	t.Helper()
	d := New(t)
	norm, err := store.NormalizeDSN(d.DSN)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := mysql.ParseDSN(norm)
	if err != nil {
		t.Fatal(err)
	}
	base, err := mysql.NewConnector(cfg)
	if err != nil {
		t.Fatal(err)
	}
	f := &Faults{}
	sqlDB := sql.OpenDB(faultConnector{Connector: base, f: f})
	t.Cleanup(func() { sqlDB.Close() })
	q, err := db.Prepare(context.Background(), sqlDB)
	if err != nil {
		t.Fatal(err)
	}
	return &DB{Store: &store.Store{DB: sqlDB, Q: q}, Name: d.Name, DSN: d.DSN}, f
}
