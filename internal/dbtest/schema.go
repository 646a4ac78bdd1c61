package dbtest

import (
	"context"
	"database/sql"
	"fmt"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/shelfcommerce/shelf/internal/store"
)

// table is one table of the migrated schema: the statement that creates it
// and the rows it holds right after migrating (goose's version and lock rows).
type table struct {
	name   string
	create string
	rows   [][]any
}

var schema struct {
	sync.Mutex
	tables []table // nil until the first database of the process is migrated
}

// migrated brings the empty database at dsn to the latest migration: with
// goose the first time in this process, by replaying that schema after.
func migrated(ctx context.Context, dsn string) error {
	schema.Lock()
	if tables := schema.tables; tables != nil {
		schema.Unlock()
		return replay(ctx, dsn, tables)
	}
	defer schema.Unlock() // the others wait for the first migration
	if err := Migrate(ctx, dsn); err != nil {
		return err
	}
	sqlDB, c, err := conn(ctx, dsn)
	if err != nil {
		return err
	}
	defer sqlDB.Close()
	defer c.Close()
	tables, err := capture(ctx, c, func(string) bool { return true })
	if err != nil {
		return err
	}
	if tables == nil {
		tables = []table{} // not plain tables: migrate every database
	}
	schema.tables = tables
	return nil
}

// conn opens one connection to the database at dsn, so that session
// settings hold for every statement that follows.
func conn(ctx context.Context, dsn string) (*sql.DB, *sql.Conn, error) {
	sqlDB, err := store.OpenDB(ctx, dsn, store.PoolConfig{MaxOpen: 1, MaxIdle: 1, MaxLifetime: time.Minute})
	if err != nil {
		return nil, nil, err
	}
	c, err := sqlDB.Conn(ctx)
	if err != nil {
		sqlDB.Close()
		return nil, nil, err
	}
	return sqlDB, c, nil
}

// capture reads the tables of a database, in name order, with the rows of
// those for which withRows is true (of the others it keeps one row at most:
// enough to tell an empty table). It returns nil when the database holds
// anything but plain tables (a view names its database inside its
// definition; triggers and routines are not copied).
func capture(ctx context.Context, c *sql.Conn, withRows func(table string) bool) ([]table, error) {
	rows, err := c.QueryContext(ctx, "SHOW FULL TABLES")
	if err != nil {
		return nil, err
	}
	var names []string
	plain := true
	for rows.Next() {
		var name, kind string
		if err := rows.Scan(&name, &kind); err != nil {
			rows.Close()
			return nil, err
		}
		plain = plain && kind == "BASE TABLE"
		names = append(names, name)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	var objects int
	if err := c.QueryRowContext(ctx, `SELECT
		(SELECT COUNT(*) FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = DATABASE()) +
		(SELECT COUNT(*) FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = DATABASE()) +
		(SELECT COUNT(*) FROM information_schema.EVENTS WHERE EVENT_SCHEMA = DATABASE())`).Scan(&objects); err != nil {
		return nil, err
	}
	if !plain || objects > 0 {
		return nil, nil
	}
	tables := make([]table, 0, len(names))
	for _, name := range names {
		tb := table{name: name}
		if err := c.QueryRowContext(ctx, "SHOW CREATE TABLE `"+name+"`").Scan(&tb.name, &tb.create); err != nil {
			return nil, err
		}
		q := "SELECT * FROM `" + name + "`"
		if !withRows(name) {
			q += " LIMIT 1"
		}
		if tb.rows, err = readRows(ctx, c, q); err != nil {
			return nil, err
		}
		tables = append(tables, tb)
	}
	return tables, nil
}

func readRows(ctx context.Context, c *sql.Conn, query string) ([][]any, error) {
	rows, err := c.QueryContext(ctx, query)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	var out [][]any
	for rows.Next() {
		row := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range row {
			ptrs[i] = &row[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		out = append(out, row) // Scan copies bytes into an *any
	}
	return out, rows.Err()
}

// replay builds a captured schema in the empty database at dsn.
func replay(ctx context.Context, dsn string, tables []table) error {
	if len(tables) == 0 {
		return Migrate(ctx, dsn)
	}
	sqlDB, c, err := conn(ctx, dsn)
	if err != nil {
		return err
	}
	defer sqlDB.Close()
	defer c.Close()
	if _, err := c.ExecContext(ctx, "SET SESSION foreign_key_checks = 0"); err != nil {
		return err
	}
	for _, tb := range tables {
		if _, err := c.ExecContext(ctx, tb.create); err != nil {
			return fmt.Errorf("create %s: %w", tb.name, err)
		}
		if len(tb.rows) == 0 {
			continue
		}
		marks := "(" + strings.TrimSuffix(strings.Repeat("?,", len(tb.rows[0])), ",") + ")"
		values := make([]string, len(tb.rows))
		var args []any
		for i, row := range tb.rows {
			values[i] = marks
			args = append(args, row...)
		}
		if _, err := c.ExecContext(ctx, "INSERT INTO `"+tb.name+"` VALUES "+strings.Join(values, ","), args...); err != nil {
			return fmt.Errorf("copy rows of %s: %w", tb.name, err)
		}
	}
	return nil
}

// autoIncrement is the counter clause SHOW CREATE TABLE adds once a table's
// AUTO_INCREMENT has moved.
var autoIncrement = regexp.MustCompile(` AUTO_INCREMENT=\d+`)

// empty brings a database a test has used back to the migrated schema with
// no rows: every table the test wrote to (rows, or a counter that moved) is
// truncated, which also resets its counter and statistics. It reports false
// when the database is no longer the migrated schema (a table, column,
// index or goose row added, changed or dropped; a view, trigger or routine):
// such a database is dropped rather than reused.
func empty(ctx context.Context, dsn string) bool {
	schema.Lock()
	want := schema.tables
	schema.Unlock()
	if len(want) == 0 {
		return false
	}
	kept := map[string]bool{} // tables that hold rows after migrating
	for _, tb := range want {
		kept[tb.name] = len(tb.rows) > 0
	}
	sqlDB, c, err := conn(ctx, dsn)
	if err != nil {
		return false
	}
	defer sqlDB.Close()
	defer c.Close()
	got, err := capture(ctx, c, func(name string) bool { return kept[name] })
	if err != nil || len(got) != len(want) {
		return false
	}
	var dirty []string
	for i, tb := range want {
		g := got[i]
		if g.name != tb.name || autoIncrement.ReplaceAllString(g.create, "") != autoIncrement.ReplaceAllString(tb.create, "") {
			return false
		}
		if kept[tb.name] {
			if !reflect.DeepEqual(g.rows, tb.rows) {
				return false
			}
		} else if len(g.rows) > 0 || autoIncrement.MatchString(g.create) {
			dirty = append(dirty, tb.name)
		}
	}
	if _, err := c.ExecContext(ctx, "SET SESSION foreign_key_checks = 0"); err != nil {
		return false
	}
	for _, name := range dirty {
		if _, err := c.ExecContext(ctx, "TRUNCATE TABLE `"+name+"`"); err != nil {
			return false
		}
	}
	return true
}
