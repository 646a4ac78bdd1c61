package store_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/shelfcommerce/shelf/internal/dbtest"
	"github.com/shelfcommerce/shelf/internal/store"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

func TestNormalizeDSNForcesWhatTheServiceNeeds(t *testing.T) {
	t.Parallel()
	got, err := store.NormalizeDSN("u:p@tcp(db:3306)/shop?multiStatements=false&interpolateParams=false&parseTime=false&loc=Local&charset=latin1")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := mysql.ParseDSN(got)
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.ParseTime || cfg.Loc.String() != "UTC" || !cfg.MultiStatements || !cfg.InterpolateParams {
		t.Errorf("parseTime=%v loc=%v multiStatements=%v interpolateParams=%v, want true UTC true true",
			cfg.ParseTime, cfg.Loc, cfg.MultiStatements, cfg.InterpolateParams)
	}
	if !strings.HasPrefix(cfg.Collation, "utf8mb4") {
		t.Errorf("collation %q is not utf8mb4", cfg.Collation)
	}
	if _, ok := cfg.Params["charset"]; ok {
		t.Errorf("charset param kept: %v", cfg.Params)
	}
	if !strings.Contains(cfg.Params["sql_mode"], "STRICT_TRANS_TABLES") {
		t.Errorf("sql_mode %q is not strict", cfg.Params["sql_mode"])
	}
	if cfg.User != "u" || cfg.Passwd != "p" || cfg.Addr != "db:3306" || cfg.DBName != "shop" {
		t.Errorf("lost the user's connection settings: %+v", cfg)
	}
	if cfg.Params["wait_timeout"] != "300" {
		t.Errorf("wait_timeout %q, want 300 (store.WaitTimeout)", cfg.Params["wait_timeout"])
	}
	own, err := store.NormalizeDSN("u:p@tcp(db:3306)/shop?wait_timeout=30")
	if err != nil {
		t.Fatal(err)
	}
	if cfg, _ := mysql.ParseDSN(own); cfg.Params["wait_timeout"] != "30" {
		t.Errorf("the DSN's own wait_timeout became %q", cfg.Params["wait_timeout"])
	}
}

// A transaction whose client goes silent (a frozen or cut-off instance)
// gives its row locks back once the server drops the connection after
// wait_timeout, instead of holding a hot row for hours: here a DSN's own
// 2 s; by default store.WaitTimeout.
func TestASilentTransactionLetsGoOfItsLocks(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	ctx := context.Background()
	if _, err := d.DB.ExecContext(ctx, "CREATE TABLE hot (id INT PRIMARY KEY, n INT NOT NULL)"); err != nil {
		t.Fatal(err)
	}
	if _, err := d.DB.ExecContext(ctx, "INSERT INTO hot VALUES (1, 0)"); err != nil {
		t.Fatal(err)
	}
	var on int
	if err := d.DB.QueryRowContext(ctx, "SELECT @@session.wait_timeout").Scan(&on); err != nil || on != int(store.WaitTimeout/time.Second) {
		t.Errorf("a store's sessions have wait_timeout %d (%v), want %v", on, err, store.WaitTimeout)
	}
	silent, err := store.OpenDB(ctx, withWaitTimeout(t, d.DSN, 2), store.PoolConfig{MaxOpen: 1, MaxIdle: 1, MaxLifetime: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	tx, err := silent.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, "UPDATE hot SET n = n + 1 WHERE id = 1"); err != nil {
		t.Fatal(err)
	}
	// The holder now says nothing. Another writer waits for the row; it
	// would give up after 20 s, long past the holder's wait_timeout.
	start := time.Now()
	if _, err := d.DB.ExecContext(ctx, "SET SESSION innodb_lock_wait_timeout = 20; UPDATE hot SET n = n + 10 WHERE id = 1"); err != nil {
		t.Fatalf("the waiting writer, after %v: %v", time.Since(start).Round(time.Millisecond), err)
	}
	t.Logf("the row was free after %v", time.Since(start).Round(time.Millisecond))
	var n int
	if err := d.DB.QueryRowContext(ctx, "SELECT n FROM hot WHERE id = 1").Scan(&n); err != nil || n != 10 {
		t.Errorf("n = %d (%v), want 10: the silent transaction's write rolled back", n, err)
	}
}

func TestNormalizeDSNRejectsGarbage(t *testing.T) {
	t.Parallel()
	if _, err := store.NormalizeDSN("not a dsn"); err == nil || !strings.Contains(err.Error(), "SHELF_MYSQL_DSN") {
		t.Fatalf("err = %v, want one naming SHELF_MYSQL_DSN", err)
	}
}

func TestStrictModeRefusesTruncation(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	ctx := context.Background()
	if _, err := d.DB.ExecContext(ctx, "CREATE TABLE t (s VARCHAR(3) NOT NULL)"); err != nil {
		t.Fatal(err)
	}
	if _, err := d.DB.ExecContext(ctx, "INSERT INTO t VALUES (?)", "abcdef"); err == nil {
		t.Fatal("a value too long for its column was silently truncated")
	}
}

func TestInTxRollsBackWholeOnError(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	ctx := context.Background()
	if _, err := d.DB.ExecContext(ctx, "CREATE TABLE t (id INT PRIMARY KEY)"); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	err := d.InTx(ctx, func(tx *store.Tx) error {
		if _, err := tx.ExecContext(ctx, "INSERT INTO t VALUES (1)"); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v, want boom", err)
	}
	var n int
	if err := d.DB.QueryRowContext(ctx, "SELECT COUNT(*) FROM t").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Fatalf("%d rows survived a failed transaction", n)
	}
}

// Two transactions lock two rows in opposite orders: the server kills one
// with a deadlock (1213). InTx must rerun it, so both end up committed.
func TestInTxRetriesADeadlockWhole(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	ctx := context.Background()
	for _, q := range []string{
		"CREATE TABLE acct (id INT PRIMARY KEY, n INT NOT NULL)",
		"INSERT INTO acct VALUES (1, 0), (2, 0)",
	} {
		if _, err := d.DB.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	var attempts atomic.Int32
	var firstLocked sync.WaitGroup
	firstLocked.Add(2)
	var once [2]sync.Once
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, order := range [][2]int{{1, 2}, {2, 1}} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = d.InTx(ctx, func(tx *store.Tx) error {
				attempts.Add(1)
				if _, err := tx.ExecContext(ctx, "UPDATE acct SET n = n + 1 WHERE id = ?", order[0]); err != nil {
					return err
				}
				// Only the first attempt waits for the other, to build the cycle.
				once[i].Do(func() { firstLocked.Done(); firstLocked.Wait() })
				_, err := tx.ExecContext(ctx, "UPDATE acct SET n = n + 1 WHERE id = ?", order[1])
				return err
			})
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatalf("a transaction failed despite the retry: %v", err)
		}
	}
	if attempts.Load() < 3 {
		t.Fatalf("attempts = %d: expected a deadlock and a rerun", attempts.Load())
	}
	var total int
	if err := d.DB.QueryRowContext(ctx, "SELECT SUM(n) FROM acct").Scan(&total); err != nil {
		t.Fatal(err)
	}
	if total != 4 {
		t.Fatalf("sum = %d, want 4 (each of two transactions adds 1 to two rows, exactly once)", total)
	}
}

func TestInsertRowsChunksLargeBatches(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	ctx := context.Background()
	if _, err := d.DB.ExecContext(ctx, "CREATE TABLE t (id INT PRIMARY KEY, s VARCHAR(20) NOT NULL)"); err != nil {
		t.Fatal(err)
	}
	var args []any
	for i := range 1234 {
		args = append(args, i, "it's \"quoted\"")
	}
	n, err := store.InsertRows(ctx, d.DB, "INSERT INTO t (id, s)", 2, args, "")
	if err != nil {
		t.Fatal(err)
	}
	if n != 1234 {
		t.Fatalf("affected %d, want 1234", n)
	}
	var s string
	if err := d.DB.QueryRowContext(ctx, "SELECT s FROM t WHERE id = 1000").Scan(&s); err != nil || s != `it's "quoted"` {
		t.Fatalf("s = %q, %v", s, err)
	}
	if _, err := store.InsertRows(ctx, d.DB, "INSERT INTO t (id, s)", 2, args[:3], ""); err == nil {
		t.Fatal("a ragged row was accepted")
	}
}

// A Patient transaction (an export, a one-transaction import, paced by
// their clients) may stay silent past wait_timeout for as long as its
// context allows; its connection then has its own wait_timeout again.
func TestAPatientTransactionOutlivesWaitTimeout(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	st, err := store.Open(context.Background(), withWaitTimeout(t, d.DSN, 1), store.PoolConfig{MaxOpen: 1, MaxIdle: 1, MaxLifetime: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tx, err := st.Begin(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := tx.Patient(ctx); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2500 * time.Millisecond) // silent past the session's 1 s
	var one int
	if err := tx.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
		t.Fatalf("the patient transaction after 2.5 s of silence: %v", err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	var wt int
	if err := st.DB.QueryRowContext(ctx, "SELECT @@session.wait_timeout").Scan(&wt); err != nil || wt != 1 {
		t.Errorf("the connection's wait_timeout after the transaction: %d (%v), want its own 1 back", wt, err)
	}
}

// withWaitTimeout is dsn with its own wait_timeout of secs seconds.
func withWaitTimeout(t *testing.T, dsn string, secs int) string {
	t.Helper()
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Params == nil {
		cfg.Params = map[string]string{}
	}
	cfg.Params["wait_timeout"] = strconv.Itoa(secs)
	return cfg.FormatDSN()
}
