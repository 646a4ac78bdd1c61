package catalog

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/shelfcommerce/shelf/db"
	"github.com/shelfcommerce/shelf/internal/problem"
	"github.com/shelfcommerce/shelf/internal/rules"
	"github.com/shelfcommerce/shelf/internal/store"
)

// StockChange sets (OnHand) or adjusts (Delta) the stock of one SKU.
type StockChange struct {
	SKU    string
	OnHand *int64 // set to this; nil means adjust by Delta
	Delta  int64
	Reason string // the ledger's reason: "set", "damaged", "recount", ...
	Note   string
	Actor  string
	// Last, when set, runs last in the change's transaction with the level
	// it leaves (even when that is no change): an Idempotency-Key's answer
	// commits with the change it announces.
	Last func(ctx context.Context, tx *store.Tx, level StockLevel) error
}

// StockLevel is a SKU's stock after a change.
type StockLevel struct {
	SKU    string `json:"sku"`
	OnHand int64  `json:"on_hand"`
	Delta  int64  `json:"delta"`
}

// SetStock changes one SKU's stock with a ledger row, bumps its product's
// version (stock shows on the product page) and keeps the listing's in_stock
// right, all in one transaction. The variant row is locked before it is
// read, so a concurrent order waits for, and then sees, the new level.
func SetStock(ctx context.Context, st *store.Store, ch StockChange) (StockLevel, error) {
	if len(ch.Note) > 255 {
		return StockLevel{}, problem.Field(problem.Unprocessable, "note", "must be at most 255 characters")
	}
	if msg := rules.Multiline(ch.Note); msg != "" {
		return StockLevel{}, problem.Field(problem.Unprocessable, "note", msg)
	}
	if msg := rules.Text(ch.Reason); msg != "" {
		return StockLevel{}, problem.Field(problem.Unprocessable, "reason", msg)
	}
	var out StockLevel
	pid, err := st.Q.AdminProductOfSKU(ctx, sql.NullString{String: ch.SKU, Valid: true})
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return StockLevel{}, err
	}
	err = st.InTx(ctx, func(tx *store.Tx) error {
		v, err := lockSKU(ctx, tx, ch.SKU, pid)
		if err != nil {
			return err
		}
		cur := v.OnHand
		if cur < 0 { // no inventory row yet
			cur = 0
		}
		next := cur + ch.Delta
		if ch.OnHand != nil {
			next = *ch.OnHand
		} else if ch.Delta > 0 && next < cur { // cur >= 0, so only a positive delta can wrap
			return &problem.Error{Kind: problem.Unprocessable,
				Errors: []problem.FieldError{{Field: "delta", Message: fmt.Sprintf("would take stock past the largest level, %d (on hand now: %d)", int64(math.MaxInt64), cur)}},
				Extra:  map[string]any{"on_hand": cur}}
		}
		if next < 0 {
			field := "delta"
			if ch.OnHand != nil {
				field = "on_hand"
			}
			return &problem.Error{Kind: problem.Unprocessable,
				Errors: []problem.FieldError{{Field: field, Message: fmt.Sprintf("would leave %d on hand; stock cannot be negative (on hand now: %d)", next, cur)}},
				Extra:  map[string]any{"on_hand": cur}}
		}
		out = StockLevel{SKU: ch.SKU, OnHand: next, Delta: next - cur}
		if next == cur && v.OnHand >= 0 {
			return ch.last(ctx, tx, out)
		}
		now := time.Now().UTC()
		if err := tx.Q.AdminUpsertInventory(ctx, db.AdminUpsertInventoryParams{VariantID: v.ID, ProductID: v.ProductID, OnHand: next, UpdatedAt: now}); err != nil {
			return err
		}
		if err := RecordStock(ctx, tx, LedgerEntry{Reason: ch.Reason, Note: ch.Note, Actor: ch.Actor, At: now},
			[]StockMove{{VariantID: v.ID, ProductID: v.ProductID, SKU: ch.SKU, Delta: next - cur, After: next}}); err != nil {
			return err
		}
		if err := tx.Q.AdminBumpProductVersion(ctx, db.AdminBumpProductVersionParams{UpdatedAt: now, ID: v.ProductID}); err != nil {
			return err
		}
		if err := SyncListing(ctx, tx, []uint64{v.ProductID}); err != nil {
			return err
		}
		return ch.last(ctx, tx, out)
	})
	return out, err
}

func (ch StockChange) last(ctx context.Context, tx *store.Tx, level StockLevel) error {
	if ch.Last == nil {
		return nil
	}
	return ch.Last(ctx, tx, level)
}

// lockSKU locks the product of sku, then the variant and its stock: the
// order every product writer takes (an import or a PATCH locks the product
// first), so a stock change and a write of the same product never wait for
// each other in a cycle. pid is the product as looked up before tx began (0:
// none): a plain read in tx would fix its snapshot before the locks, and the
// listing synced after them would be read from it.
func lockSKU(ctx context.Context, tx *store.Tx, sku string, pid uint64) (db.AdminVariantBySKUForUpdateRow, error) {
	key := sql.NullString{String: sku, Valid: true}
	if pid != 0 {
		if _, err := tx.Q.AdminLockProducts(ctx, []uint64{pid}); err != nil {
			return db.AdminVariantBySKUForUpdateRow{}, err
		}
	}
	v, err := tx.Q.AdminVariantBySKUForUpdate(ctx, key)
	if errors.Is(err, sql.ErrNoRows) {
		return v, problem.New(problem.NotFound, "no variant has the SKU %q", sku)
	} else if err != nil || v.ProductID == pid {
		return v, err
	}
	// The SKU moved to another product after the lookup (rare): that one is
	// locked after the variant, which keeps it there.
	_, err = tx.Q.AdminLockProducts(ctx, []uint64{v.ProductID})
	return v, err
}
