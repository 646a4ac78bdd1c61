package store_test

import (
	"context"
	"errors"
	"testing"
	"testing/fstest"

	"github.com/pressly/goose/v3"

	"github.com/shelfcommerce/shelf/internal/store"
)

// A migration that fails is not recorded, so status keeps telling the truth
// and the fixed file can simply be run again.
func TestAFailedMigrationLeavesStatusTruthful(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	sqlDB, err := store.OpenDB(ctx, emptyDB(t), store.DefaultPool)
	if err != nil {
		t.Fatal(err)
	}
	defer sqlDB.Close()
	fsys := fstest.MapFS{
		"00001_ok.sql":     {Data: []byte("-- +goose Up\nCREATE TABLE a (id INT PRIMARY KEY);\n-- +goose Down\nDROP TABLE a;\n")},
		"00002_broken.sql": {Data: []byte("-- +goose Up\nCREATE TABLE b (id INT PRIMARY KEY, x NOSUCHTYPE);\n-- +goose Down\nDROP TABLE b;\n")},
	}
	p, err := store.NewMigratorFS(sqlDB, fsys, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = p.Up(ctx)
	var pe *goose.PartialError
	if !errors.As(err, &pe) || pe.Failed == nil || pe.Failed.Source.Version != 2 {
		t.Fatalf("err = %v, want a PartialError naming migration 2", err)
	}
	st, err := p.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st[0].State != goose.StateApplied || st[1].State != goose.StatePending {
		t.Fatalf("status = %v %v, want applied then pending", st[0].State, st[1].State)
	}
	// Fixed file, same version: it applies.
	fsys["00002_broken.sql"] = &fstest.MapFile{Data: []byte("-- +goose Up\nCREATE TABLE b (id INT PRIMARY KEY);\n-- +goose Down\nDROP TABLE b;\n")}
	p, err = store.NewMigratorFS(sqlDB, fsys, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Up(ctx); err != nil {
		t.Fatalf("re-run after the fix: %v", err)
	}
}
