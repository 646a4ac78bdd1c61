package main

import (
	"bytes"
	"context"
	"database/sql"
	"io"
	"strings"
	"testing"
)

// A catalog from before search_words (schema 00121, searched through
// FULLTEXT) finds its products in search as soon as migrate up returns: the
// job that adds search_words fills it.
func TestMigrateUpFillsSearchWordsOfAnUpgradedCatalog(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dsn := emptyDatabase(t)
	env := envOf(map[string]string{"SHELF_MYSQL_DSN": dsn})
	var out bytes.Buffer
	for _, args := range [][]string{{"migrate", "up"}, {"seed"}} {
		if err := run(ctx, args, env, nil, &out, io.Discard); err != nil {
			t.Fatalf("%v: %v\n%s", args, err, out.String())
		}
	}
	sqlDB, err := sql.Open("mysql", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer sqlDB.Close()
	// Back to schema 00121, as a catalog written by an older release (the
	// tables of later migrations dropped).
	for _, q := range []string{
		"DROP TABLE search_words",
		"DROP TABLE listing_facet_counts",
		"CREATE INDEX events_created ON events (created_at)",
		"UPDATE events SET data = CONVERT(UNCOMPRESS(data_z) USING utf8mb4), data_z = NULL WHERE data_z IS NOT NULL",
		"ALTER TABLE events DROP COLUMN data_z",
		"ALTER TABLE event_sequence DROP COLUMN compress_rows_from",
		"CREATE FULLTEXT INDEX products_search ON products (title, brand, skus, description)",
		"ALTER TABLE products DROP COLUMN stock_free_hash",
		"ALTER TABLE idempotency_keys DROP KEY idempotency_keys_anon_key",
		"ALTER TABLE idempotency_keys DROP COLUMN anon_key_hash",
		"DROP TABLE catalog_locks",
		"DELETE FROM goose_db_version WHERE version_id >= 140",
	} {
		if _, err := sqlDB.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	out.Reset()
	if err := run(ctx, []string{"migrate", "up"}, env, nil, &out, io.Discard); err != nil {
		t.Fatalf("migrate up: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "indexed the words of") {
		t.Errorf("migrate up did not say it indexed the catalog:\n%s", out.String())
	}
	var active, indexed int
	if err := sqlDB.QueryRowContext(ctx, "SELECT COUNT(*) FROM products WHERE status = 'active'").Scan(&active); err != nil {
		t.Fatal(err)
	}
	if err := sqlDB.QueryRowContext(ctx, "SELECT COUNT(DISTINCT product_id) FROM search_words").Scan(&indexed); err != nil {
		t.Fatal(err)
	}
	if active == 0 || indexed != active {
		t.Fatalf("after the upgrade %d of %d active products have search words", indexed, active)
	}
	// A second migrate up has nothing to apply and indexes nothing again.
	out.Reset()
	if err := run(ctx, []string{"migrate", "up"}, env, nil, &out, io.Discard); err != nil || strings.Contains(out.String(), "indexed") {
		t.Fatalf("second migrate up: %v\n%s", err, out.String())
	}
}
