package orders

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"

	"github.com/shelfcommerce/shelf/db"
	"github.com/shelfcommerce/shelf/internal/catalog"
	"github.com/shelfcommerce/shelf/internal/events"
	"github.com/shelfcommerce/shelf/internal/problem"
	"github.com/shelfcommerce/shelf/internal/store"
)

// Access is who is asking for an order: the bearer token they presented, and
// whether it was an admin key allowed to act on any order.
type Access struct {
	Token string
	Admin bool
}

// errNotFound is the one answer for a missing order and for an order the
// caller may not see, so that ids are never disclosed.
func errNotFound() error { return problem.New(problem.NotFound, "no such order") }

// Get returns an order to its buyer (Access.Token) or to staff (Access.Admin).
func (s *Service) Get(ctx context.Context, publicID string, a Access) (*Order, error) {
	o, err := s.st.Q.GetOrderByPublicID(ctx, publicID)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errNotFound()
	} else if err != nil {
		return nil, fmt.Errorf("read order: %w", err)
	}
	if !a.Admin && !tokenMatches(a.Token, o.AccessTokenHash) {
		return nil, errNotFound()
	}
	lines, err := s.st.Q.OrderLines(ctx, o.ID)
	if err != nil {
		return nil, fmt.Errorf("read order lines: %w", err)
	}
	return newOrder(o, lines), nil
}

// Transition applies action to an order, as the state machine allows, in one
// transaction: the order row is locked first, then (when the move returns
// stock) the inventory rows in variant id order, with a ledger row each. An
// illegal move is a 409 whose "current_state" names where the order is.
// actor names who did it in the ledger ("api key ops", "buyer").
func (s *Service) Transition(ctx context.Context, publicID string, action Action, a Access, actor string) (*Order, error) {
	var out *Order
	err := s.st.InTx(ctx, func(tx *store.Tx) error {
		t := now()
		o, err := tx.Q.GetOrderByPublicIDForUpdate(ctx, publicID)
		if errors.Is(err, sql.ErrNoRows) {
			return errNotFound()
		} else if err != nil {
			return fmt.Errorf("read order: %w", err)
		}
		if !a.Admin && !tokenMatches(a.Token, o.AccessTokenHash) {
			return errNotFound()
		}
		from := Status(o.Status)
		to, returnsStock, ok := Next(from, action)
		if !ok {
			return &problem.Error{
				Kind:   problem.Conflict,
				Title:  "Illegal order state change",
				Detail: illegalMove(from, action),
				Extra:  map[string]any{"current_state": string(from)},
			}
		}
		lines, err := tx.Q.OrderLines(ctx, o.ID)
		if err != nil {
			return fmt.Errorf("read order lines: %w", err)
		}
		changed := events.Order("order."+string(to), t, o.PublicID, orderNumber(o.ID), string(to))
		if returnsStock {
			if err := returnStock(ctx, tx, o, lines, to, actor, changed); err != nil {
				return err
			}
		} else if err := events.Emit(ctx, tx, t, changed); err != nil {
			return err
		}
		p := db.SetOrderStatusParams{Status: db.OrdersStatus(to), UpdatedAt: t, ID: o.ID, Version: o.Version}
		at := sql.NullTime{Time: t, Valid: true}
		switch to {
		case Paid:
			p.PaidAt, o.PaidAt = at, at
		case Fulfilled:
			p.FulfilledAt, o.FulfilledAt = at, at
		case Cancelled:
			p.CancelledAt, o.CancelledAt = at, at
		case Refunded:
			p.RefundedAt, o.RefundedAt = at, at
		}
		n, err := tx.Q.SetOrderStatus(ctx, p)
		if err != nil {
			return fmt.Errorf("update order: %w", err)
		}
		if n != 1 {
			return fmt.Errorf("order %s changed under its row lock", publicID) // cannot happen: FOR UPDATE
		}
		o.Status, o.Version, o.UpdatedAt = db.OrdersStatus(to), o.Version+1, t
		out = newOrder(o, lines)
		return nil
	})
	return out, err
}

func illegalMove(from Status, a Action) string {
	switch a {
	case CustomerCancel:
		return fmt.Sprintf("only a pending order can be cancelled by its buyer; this one is %s", from)
	}
	return fmt.Sprintf("an order that is %s cannot %s", from, a)
}

// returnStock puts an unshipped order's units back on hand, with a ledger
// row and a stock.changed event per line, recorded with the order's own event.
func returnStock(ctx context.Context, tx *store.Tx, o db.Order, lines []db.OrderLine, to Status, actor string, changed events.Event) error {
	t := now()
	sorted := slices.Clone(lines)
	slices.SortFunc(sorted, func(a, b db.OrderLine) int { return cmp.Compare(a.VariantID, b.VariantID) })
	ids := make([]uint64, 0, len(sorted))
	for _, l := range sorted {
		if err := tx.Q.ReturnStock(ctx, db.ReturnStockParams{
			VariantID: l.VariantID, ProductID: l.ProductID, OnHand: int64(l.Quantity), UpdatedAt: t,
		}); err != nil {
			return fmt.Errorf("return stock: %w", err)
		}
		ids = append(ids, l.VariantID)
	}
	onHand, err := onHandOf(ctx, tx, ids)
	if err != nil {
		return err
	}
	moves := make([]catalog.StockMove, 0, len(sorted))
	var backInStock []uint64
	for _, l := range sorted {
		after := onHand[l.VariantID]
		moves = append(moves, catalog.StockMove{VariantID: l.VariantID, ProductID: l.ProductID, SKU: l.Sku, Delta: int64(l.Quantity), After: after})
		if after == int64(l.Quantity) { // it was at zero
			backInStock = append(backInStock, l.ProductID)
		}
	}
	reason := "order_cancelled"
	if to == Refunded {
		reason = "order_refunded"
	}
	if err := catalog.RecordStock(ctx, tx, catalog.LedgerEntry{Reason: reason, OrderID: o.ID, Actor: actor, At: t,
		Extra: []events.Event{changed}}, moves); err != nil {
		return err
	}
	if err := catalog.SyncListing(ctx, tx, backInStock); err != nil {
		return fmt.Errorf("sync listing: %w", err)
	}
	return nil
}
