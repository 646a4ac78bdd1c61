package catalog

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/shelfcommerce/shelf/internal/events"
	"github.com/shelfcommerce/shelf/internal/store"
)

// StockMove is one change of one variant's stock, already applied to its
// inventory row by the caller's transaction.
type StockMove struct {
	VariantID uint64
	ProductID uint64
	SKU       string // "" for a SKU-less variant
	Delta     int64
	// After is the level after the change. With LedgerEntry.ReadAfter it is
	// not known to the caller and is read from the inventory row instead.
	After int64
	// Restock, with ReadAfter only: the caller knows the change may have
	// moved the variant to or from zero (see events.Event.Restock).
	Restock bool
}

// LedgerEntry is what the moves of one write have in common.
type LedgerEntry struct {
	Reason  string // "set", "import", "order", "order_cancelled", ...
	Note    string
	Actor   string
	OrderID uint64 // 0: none
	At      time.Time
	// ReadAfter: take each move's level after the change from its inventory
	// row, which the transaction has just updated and still holds locked
	// (an order saves a SELECT round trip this way).
	ReadAfter bool
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
	if e.ReadAfter {
		var q strings.Builder
		q.WriteString(stockMovementsTable.InsertHead() + " ")
		args := make([]any, 0, len(moves)*8)
		for i, m := range moves {
			if i > 0 {
				q.WriteString(" UNION ALL ")
			}
			q.WriteString("SELECT i.variant_id, ?, ?, i.on_hand, ?, ?, ?, ?, ? FROM inventory i WHERE i.variant_id = ?")
			args = append(args, nullSKU(m.SKU), m.Delta, e.Reason, e.Note, orderID, e.Actor, e.At, m.VariantID)
			evs = append(evs, events.StockChangedRead(e.At, m.ProductID, m.VariantID, m.SKU, m.Delta, m.Restock))
		}
		res, err := tx.ExecContext(ctx, q.String(), args...)
		if err != nil {
			return fmt.Errorf("write stock ledger: %w", err)
		}
		if n, err := res.RowsAffected(); err != nil || n != int64(len(moves)) {
			return fmt.Errorf("write stock ledger: wrote %d of %d rows (%v)", n, len(moves), err)
		}
	} else {
		args := make([]any, 0, len(moves)*9)
		for _, m := range moves {
			args = append(args, m.VariantID, nullSKU(m.SKU), m.Delta, m.After, e.Reason, e.Note, orderID, e.Actor, e.At)
			evs = append(evs, events.StockChanged(e.At, m.ProductID, m.VariantID, m.SKU, m.Delta, m.After))
		}
		if err := stockMovementsTable.Insert(ctx, tx, args); err != nil {
			return fmt.Errorf("write stock ledger: %w", err)
		}
	}
	return events.Emit(ctx, tx, e.At, evs...)
}

func nullSKU(s string) any {
	if s == "" {
		return nil
	}
	return s
}
