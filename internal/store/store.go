// Package store owns Shelf's connection to MySQL or MariaDB: it normalises the
// DSN to what the service relies on, opens the pool, runs migrations under a
// lock, and holds the one retry policy (retry.go): transactions are rerun
// whole, and autocommit statements again, after a lost lock race or a Galera
// certification failure, because after either the server has undone only
// part of the work. errors.go says which errors are such races and which mean
// the database is unavailable (a 503); secrets.go keeps the keys every
// instance on one database shares; bulk.go and load.go write many rows at
// once (multi-row INSERTs, and LOAD DATA LOCAL INFILE from memory for new
// rows where the server takes it); later.go lets a transaction queue its
// last small INSERTs and send them in one round trip (Tx.Defer).
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync/atomic"
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
	// Policy is how InTx and Retry rerun work that lost a race; zero
	// means DefaultRetry.
	Policy RetryPolicy
	// Bulk chooses how Table.Insert and InsertIDs send their rows; zero
	// means BulkAuto. Tests set the others to run one transport only.
	Bulk  BulkTransport
	stats RetryStats
	// probe dials a new connection for every readiness check (it keeps
	// none idle), so that a server that refuses new connections (1040 Too
	// many connections, a restart) is seen at once, not hidden by the pool.
	probe *sql.DB
	prep  prepared
	// serial is set on a Galera node: no query there carries several
	// statements of a transaction (see Batching).
	serial atomic.Bool
	// down is set while Watch finds the node unready (see Down).
	down atomic.Bool
}

// Batching reports whether a transaction may send several of its
// statements as one query (Tx.Defer, the sequencer's lock and read). Not
// on a Galera node: there a transaction that a replicated write aborts
// (a brute-force abort) while such a query runs is rolled back, and the
// query's remaining statements then run and commit on their own, outside
// it, and the COMMIT that follows reports success for a transaction that
// is gone. Reproduced on a 3-node cluster: 200 transactions, each an
// UPDATE of one hot row and then 200 INSERTs in one query, against a
// conflicting UPDATE on another node: 47 COMMITs succeeded, 17 of the
// transactions were in the tables, and 3,781 rows of aborted ones were
// there too (with wsrep_retry_autocommit=0, 21 rows still were). Statement
// by statement, the abort is the next statement's 1213 and nothing else
// is written. Open and Ready read wsrep_on; a plain MySQL or MariaDB
// server stops a multi-statement query at its first error, and a
// deadlock or lock-wait timeout there is that error.
func (s *Store) Batching() bool { return !s.serial.Load() }

// WaitTimeout is the session wait_timeout NormalizeDSN sets unless the DSN
// sets one: how long the server keeps a connection that says nothing. A
// connection that goes silent inside a transaction (its instance frozen or
// cut off by the network, not killed: a killed one's socket closes) holds
// its row locks, a hot SKU's or the event sequencer's, until the server
// drops it; by default that is 8 hours, or TCP keepalive's 2. No Shelf
// connection is silent for long: a request's statements come within
// SHELF_DB_TIMEOUT, and the pool closes idle connections first
// (ConnMaxIdleTime). The transactions a client paces, an export writing to
// a slow reader and a one-transaction import waiting for its upload, wait
// as long as their own timeout instead (Tx.Patient).
const WaitTimeout = 5 * time.Minute

// NormalizeDSN rewrites a go-sql-driver DSN into the form Shelf needs whatever
// the user passed: times parsed as UTC time.Time, utf8mb4, strict SQL mode
// (a bad value is an error, never a silent truncation), and parameters
// interpolated client-side for the queries that are built at run time
// (sqlc's queries stay server-side prepared statements, and so do the small
// statements built at run time that ExecPrepared and QueryPrepared run).
// multiStatements is on so that one query may carry several statements:
// the writes a transaction queues (Tx.Defer, later.go) and the
// sequencer's lock with its read travel in one round trip (where that is
// safe: not on a Galera node, see Store.Batching). Every value
// still travels as a parameter, escaped by the driver; no SQL text is ever
// built from input, so the list cannot be extended by a value.
func NormalizeDSN(dsn string) (string, error) {
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		return "", fmt.Errorf("SHELF_MYSQL_DSN: %w", err)
	}
	cfg.ParseTime = true
	cfg.Loc = time.UTC
	cfg.MultiStatements = true
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
	if _, ok := cfg.Params["wait_timeout"]; !ok {
		cfg.Params["wait_timeout"] = fmt.Sprint(int(WaitTimeout / time.Second))
	}
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
	norm, _ := NormalizeDSN(dsn) // OpenDB has checked it
	st, err := withProbe(sqlDB, q, norm)
	if err != nil {
		return nil, err
	}
	galera, err := wsrepOn(ctx, sqlDB)
	if err != nil {
		st.Close()
		return nil, fmt.Errorf("read wsrep_on: %w", err)
	}
	st.serial.Store(galera)
	return st, nil
}

// OpenLazy is Open for a server that may not answer yet (a read node down
// when the process starts): the pool dials on first use, and the queries are
// sent unprepared. It starts Down; Watch says when it answers.
func OpenLazy(dsn string, pc PoolConfig) (*Store, error) {
	sqlDB, norm, err := pool(dsn, pc)
	if err != nil {
		return nil, err
	}
	st, err := withProbe(sqlDB, db.New(sqlDB), norm)
	if err != nil {
		return nil, err
	}
	st.down.Store(true)
	return st, nil
}

// withProbe is the Store of sqlDB and q, with its readiness probe on norm.
func withProbe(sqlDB *sql.DB, q *db.Queries, norm string) (*Store, error) {
	probe, err := sql.Open("mysql", norm)
	if err != nil {
		sqlDB.Close()
		return nil, err
	}
	probe.SetMaxIdleConns(0)
	probe.SetMaxOpenConns(2)
	return &Store{DB: sqlDB, Q: q, probe: probe}, nil
}

// Down reports whether the last check of Watch found the node unready.
func (s *Store) Down() bool { return s.down.Load() }

// Watch checks the node every interval until ctx ends, and keeps Down in
// step: a read node that fails is left alone (reads go to the primary)
// until it answers again. A node is up when it is Ready with its schema at
// least at want and, when it is a replica, replicating no further than
// maxLag behind (a stopped replica serves an ever older catalog). Each
// change is logged once.
func (s *Store) Watch(ctx context.Context, every time.Duration, want int64, maxLag time.Duration, log *slog.Logger, name string) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		cctx, cancel := context.WithTimeout(ctx, every+time.Second)
		v, err := s.Ready(cctx)
		if err == nil && v < want {
			err = fmt.Errorf("the schema is at version %d, this binary needs %d", v, want)
		}
		if err == nil {
			err = s.replicaBehind(cctx, maxLag)
		}
		cancel()
		if ctx.Err() != nil {
			return
		}
		switch was := s.down.Swap(err != nil); {
		case err != nil && !was:
			log.Warn(name+" is not ready: its reads go to the primary", "err", err.Error())
		case err == nil && was:
			log.Info(name + " is ready again")
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// replicaBehind is an error when the server is a replica (SHOW REPLICA
// STATUS has a row: MariaDB 10.5+, MySQL 8.0.22+) whose replication is
// stopped or more than maxLag behind. A server that is no replica, or that
// does not let this user see the status, is not judged.
func (s *Store) replicaBehind(ctx context.Context, maxLag time.Duration) error {
	pool := s.probe
	if pool == nil {
		pool = s.DB
	}
	rows, err := pool.QueryContext(ctx, "SHOW REPLICA STATUS")
	if err != nil {
		var me *mysql.MySQLError
		if errors.As(err, &me) && (me.Number == 1227 || me.Number == 1064) { // no privilege; too old a server
			return nil
		}
		return err
	}
	defer rows.Close()
	if !rows.Next() {
		return rows.Err() // no replica
	}
	cols, err := rows.Columns()
	if err != nil {
		return err
	}
	vals := make([]sql.RawBytes, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	if err := rows.Scan(ptrs...); err != nil {
		return err
	}
	for i, c := range cols {
		if c != "Seconds_Behind_Master" && c != "Seconds_Behind_Source" {
			continue
		}
		if vals[i] == nil {
			return errors.New("the replica is not replicating (Seconds_Behind_Master is NULL)")
		}
		secs, err := strconv.ParseInt(string(vals[i]), 10, 64)
		if err != nil {
			return fmt.Errorf("read the replica's lag %q: %w", vals[i], err)
		}
		if lag := time.Duration(secs) * time.Second; lag > maxLag {
			return fmt.Errorf("the replica is %s behind, more than SHELF_MYSQL_READ_LAG (%s)", lag, maxLag)
		}
	}
	return nil
}

// wsrepOn reports whether the server is a Galera node (MySQL has no
// wsrep_on, and MariaDB without a cluster has it OFF).
func wsrepOn(ctx context.Context, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}) (bool, error) {
	var name, on string
	err := q.QueryRowContext(ctx, "SHOW GLOBAL VARIABLES LIKE 'wsrep_on'").Scan(&name, &on)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return strings.EqualFold(on, "ON"), err
}

// OpenDB opens and pings a normalised pool without preparing queries: for
// migrations, which must work before the tables exist.
func OpenDB(ctx context.Context, dsn string, pc PoolConfig) (*sql.DB, error) {
	sqlDB, _, err := pool(dsn, pc)
	if err != nil {
		return nil, err
	}
	pingCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := sqlDB.PingContext(pingCtx); err != nil {
		sqlDB.Close()
		return nil, fmt.Errorf("connect to MySQL: %w", err)
	}
	return sqlDB, nil
}

// pool opens a pool on dsn, normalised (and returned so), sized by pc,
// without dialling.
func pool(dsn string, pc PoolConfig) (*sql.DB, string, error) {
	norm, err := NormalizeDSN(dsn)
	if err != nil {
		return nil, "", err
	}
	sqlDB, err := sql.Open("mysql", norm)
	if err != nil {
		return nil, "", err
	}
	if pc.MaxOpen == 0 {
		pc = DefaultPool
	}
	sqlDB.SetMaxOpenConns(pc.MaxOpen)
	sqlDB.SetMaxIdleConns(pc.MaxIdle)
	sqlDB.SetConnMaxLifetime(pc.MaxLifetime)
	sqlDB.SetConnMaxIdleTime(time.Minute) // well inside WaitTimeout
	return sqlDB, norm, nil
}

// Close closes the prepared statements and the pool.
func (s *Store) Close() error {
	err := errors.Join(s.closePrepared(), s.Q.Close(), s.DB.Close())
	if s.probe != nil {
		err = errors.Join(err, s.probe.Close())
	}
	return err
}

// Ready checks, on a newly dialled connection, that the server accepts
// connections and answers (and whether it is a Galera node: see Batching),
// and, on a Galera node, that the node is ready and Synced (a joining, donor or partitioned node answers 1047 or serves
// stale data). It returns the schema's migration version for the caller
// to compare with the binary's.
func (s *Store) Ready(ctx context.Context) (int64, error) {
	pool := s.probe
	if pool == nil {
		pool = s.DB
	}
	conn, err := pool.Conn(ctx)
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	galera, err := wsrepOn(ctx, conn)
	if err != nil {
		return 0, err
	}
	s.serial.Store(galera) // a server restarted into a cluster, or out of one
	if galera {
		rows, err := conn.QueryContext(ctx,
			"SHOW GLOBAL STATUS WHERE Variable_name IN ('wsrep_ready', 'wsrep_local_state_comment')")
		if err != nil {
			return 0, err
		}
		st := map[string]string{}
		for rows.Next() {
			var k, v string
			if err := rows.Scan(&k, &v); err != nil {
				rows.Close()
				return 0, err
			}
			st[strings.ToLower(k)] = v
		}
		if err := errors.Join(rows.Err(), rows.Close()); err != nil {
			return 0, err
		}
		if !strings.EqualFold(st["wsrep_ready"], "ON") || st["wsrep_local_state_comment"] != "Synced" {
			return 0, &NodeNotReady{Ready: st["wsrep_ready"], State: st["wsrep_local_state_comment"]}
		}
	}
	var v sql.NullInt64
	err = conn.QueryRowContext(ctx, "SELECT MAX(version_id) FROM goose_db_version WHERE is_applied = 1").Scan(&v)
	var me *mysql.MySQLError
	if errors.As(err, &me) && me.Number == 1146 { // no such table: never migrated
		return 0, nil
	}
	return v.Int64, err
}

// Check is Ready for a DSN with no Store open on it: for a process that
// waits for its database (down, or not yet migrated) before it opens its
// pools and prepares its queries, which needs the tables.
func Check(ctx context.Context, dsn string) (int64, error) {
	norm, err := NormalizeDSN(dsn)
	if err != nil {
		return 0, err
	}
	sqlDB, err := sql.Open("mysql", norm)
	if err != nil {
		return 0, err
	}
	defer sqlDB.Close()
	sqlDB.SetMaxIdleConns(0)
	return (&Store{DB: sqlDB}).Ready(ctx)
}

// NodeNotReady is Ready's error for a Galera node that must not serve.
type NodeNotReady struct{ Ready, State string }

func (e *NodeNotReady) Error() string {
	return fmt.Sprintf("the Galera node is not ready (wsrep_ready=%s, state %s)", e.Ready, e.State)
}
