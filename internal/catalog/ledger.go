package catalog

import (
	"context"
	"fmt"
	"time"

	"github.com/shelfcommerce/shelf/internal/events"
	"github.com/shelfcommerce/shelf/internal/rules"
	"github.com/shelfcommerce/shelf/internal/store"
)

// StockMove is one change of one variant's stock, already applied to its
// inventory row by the caller's transaction.
type StockMove struct {
	VariantID uint64
	ProductID uint64
	SKU       string // "" for a SKU-less variant
	Delta     int64
	After     int64 // the level after the change
}

// LedgerEntry is what the moves of one write have in common.
type LedgerEntry struct {
	Reason  string // "set", "import", "order", "order_cancelled", ...
	Note    string
	Actor   string
	OrderID uint64 // 0: none
	At      time.Time
	// Extra events of the same write, recorded with the stock's (an order's
	// order.created), so a write records all its events with one INSERT.
	Extra []events.Event
}

// RecordStock is the one writer of the stock ledger: every stock change, by
// an admin, an import or an order, goes through it. It writes one
// stock_movements row per move and one stock.changed event per move, each
// kind with one statement, inside tx.
func RecordStock(ctx context.Context, tx *store.Tx, e LedgerEntry, moves []StockMove) error {
	if len(moves) == 0 {
		return events.Emit(ctx, tx, e.At, e.Extra...)
	}
	var orderID any
	if e.OrderID != 0 {
		orderID = e.OrderID
	}
	evs := make([]events.Event, 0, len(moves)+len(e.Extra))
	evs = append(evs, e.Extra...)
	args := make([]any, 0, len(moves)*9)
	// Who made a change is a record, never a reason to refuse it: an actor
	// longer than the column ("api key " and a key's name of 191) is cut.
	actor := rules.Clip(e.Actor, maxActor)
	for _, m := range moves {
		args = append(args, m.VariantID, nullSKU(m.SKU), m.Delta, m.After, e.Reason, e.Note, orderID, actor, e.At)
		evs = append(evs, events.StockChanged(e.At, m.ProductID, m.VariantID, m.SKU, m.Delta, m.After))
	}
	if err := stockMovementsTable.Insert(ctx, tx, args); err != nil {
		return fmt.Errorf("write stock ledger: %w", err)
	}
	return events.Emit(ctx, tx, e.At, evs...)
}

// maxActor is the length of stock_movements.actor, in characters.
const maxActor = 191

func nullSKU(s string) any {
	if s == "" {
		return nil
	}
	return s
}
