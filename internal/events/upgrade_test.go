package events_test

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/pressly/goose/v3"

	"github.com/shelfcommerce/shelf/internal/dbtest"
	"github.com/shelfcommerce/shelf/internal/events"
	"github.com/shelfcommerce/shelf/internal/store"
)

// An upgrade keeps the feed: rows written one event per row before rows were
// packed (numbered, and one committed but not yet numbered) read as they
// did, ids and all, and the feed goes on after them without a gap.
func TestFeedSurvivesTheUpgradeToPackedRows(t *testing.T) {
	ctx := context.Background()
	dsn, sqlDB, p := migratedTo(t, 129)
	now := time.Now().UTC()
	for i, seq := range []any{1, 2, 3, nil} {
		if _, err := sqlDB.ExecContext(ctx, "INSERT INTO events (seq, type, data, created_at) VALUES (?, 'product.updated', ?, ?)",
			seq, fmt.Sprintf(`{"type":"product.updated","occurred_at":"x","product_id":%d,"slug":"old%d"}`, i+1, i), now); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := sqlDB.ExecContext(ctx, "UPDATE event_sequence SET last_seq = 3"); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Up(ctx); err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(ctx, dsn, store.DefaultPool)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := events.Check(ctx, st, 0); err != nil {
		t.Fatalf("resume from the start after the upgrade: %v", err)
	}
	if err := st.InTx(ctx, func(tx *store.Tx) error {
		return events.Emit(ctx, tx, now, events.ProductUpdated(now, 9, "new0"), events.ProductUpdated(now, 9, "new1"))
	}); err != nil {
		t.Fatal(err)
	}
	if n, err := events.Sequence(ctx, st); err != nil || n != 3 {
		t.Fatalf("sequenced %d (%v), want the old unnumbered event and the 2 new ones", n, err)
	}
	got, err := events.Read(ctx, st, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	if want := "[old0 old1 old2 old3 new0 new1]"; fmt.Sprint(slugs(got)) != want || fmt.Sprint(seqs(got)) != "[1 2 3 4 5 6]" {
		t.Fatalf("after the upgrade: %v %v, want %s at 1..6", slugs(got), seqs(got), want)
	}
	if got[0].ProductID != 1 || got[0].Type != events.TypeProductUpdated {
		t.Fatalf("old event: %+v", got[0])
	}
}

// Rolling back past compressed rows (00190) keeps their events: the Down
// migration writes each row's text back to data, where the code before it
// reads it.
func TestRollingBackKeepsCompressedRows(t *testing.T) {
	ctx := context.Background()
	dsn, _, p := migratedTo(t, 0)
	st, err := store.Open(ctx, dsn, store.DefaultPool)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	now := time.Now().UTC()
	evs := make([]events.Event, events.PackMax)
	var want []string
	for i := range evs {
		evs[i] = events.ProductUpdated(now, uint64(i+1), fmt.Sprintf("r%d", i))
		want = append(want, string(evs[i].Data))
	}
	if err := st.InTx(ctx, func(tx *store.Tx) error { return events.Emit(ctx, tx, now, evs...) }); err != nil {
		t.Fatal(err)
	}
	if _, err := p.DownTo(ctx, 180); err != nil {
		t.Fatal(err)
	}
	var n int
	var data string
	if err := st.DB.QueryRowContext(ctx, "SELECT n, data FROM events").Scan(&n, &data); err != nil {
		t.Fatal(err)
	}
	if n != events.PackMax || data != strings.Join(want, "\n") {
		t.Fatalf("after rolling back: n %d, data %.200q..., want the row's %d documents", n, data, events.PackMax)
	}
}

// migratedTo is a new database migrated up to version (0: all the way),
// its connection and its migrator, all closed or dropped when t ends.
func migratedTo(t *testing.T, version int64) (string, *sql.DB, *goose.Provider) {
	t.Helper()
	ctx := context.Background()
	dsn, name, err := dbtest.Create(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dbtest.Drop(context.Background(), name) })
	sqlDB, err := store.OpenDB(ctx, dsn, store.DefaultPool)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sqlDB.Close() })
	p, err := store.NewMigrator(sqlDB, nil)
	if err != nil {
		t.Fatal(err)
	}
	if version == 0 {
		_, err = p.Up(ctx)
	} else {
		_, err = p.UpTo(ctx, version)
	}
	if err != nil {
		t.Fatal(err)
	}
	return dsn, sqlDB, p
}

// On a database that was in use before compressed rows (00190), writers
// keep writing long rows as text until compress_rows_from (00191-00192, an hour
// after the upgrade), which an older instance still tailing the table could
// not read; then they compress them. A new database compresses at once
// (TestOneWritesEventsShareARow).
func TestCompressedRowsWaitForTheUpgradeToSettle(t *testing.T) {
	ctx := context.Background()
	dsn, sqlDB, p := migratedTo(t, 190)
	if _, err := sqlDB.ExecContext(ctx, "INSERT INTO events (seq, type, data, created_at) VALUES (0, 'product.updated', '{}', NOW())"); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Up(ctx); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	evs := make([]events.Event, events.PackMax)
	for i := range evs {
		evs[i] = events.ProductUpdated(now, uint64(i+1), fmt.Sprintf("u%d", i))
	}
	write := func() (compressed bool) {
		t.Helper()
		st, err := store.Open(ctx, dsn, store.DefaultPool) // a new process, as far as the store knows
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		if err := st.InTx(ctx, func(tx *store.Tx) error { return events.Emit(ctx, tx, now, evs...) }); err != nil {
			t.Fatal(err)
		}
		if err := st.DB.QueryRowContext(ctx, "SELECT data_z IS NOT NULL FROM events ORDER BY id DESC LIMIT 1").Scan(&compressed); err != nil {
			t.Fatal(err)
		}
		return compressed
	}
	if write() {
		t.Fatal("a long row was compressed right after the upgrade, while older instances may still read the table")
	}
	if _, err := sqlDB.ExecContext(ctx, "UPDATE event_sequence SET compress_rows_from = UTC_TIMESTAMP(6) - INTERVAL 1 SECOND"); err != nil {
		t.Fatal(err)
	}
	if !write() {
		t.Fatal("a long row was not compressed once compress_rows_from had passed")
	}
}
