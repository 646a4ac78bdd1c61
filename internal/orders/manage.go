package orders

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"time"

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
	if s.pastTTL(o, s.now()) {
		// Left pending past the TTL and not swept yet: it expires now, so
		// that it never reads as pending once a payment would be refused.
		out, err := s.Transition(ctx, publicID, Expire, a, expiryActor)
		if _, refused := problem.As(err); !refused {
			return out, err
		}
		// The sweep, or a move, got there first: read what it left.
		if o, err = s.st.Q.GetOrderByPublicID(ctx, publicID); err != nil {
			return nil, fmt.Errorf("read order: %w", err)
		}
	}
	lines, err := s.st.Q.OrderLines(ctx, o.ID)
	if err != nil {
		return nil, fmt.Errorf("read order lines: %w", err)
	}
	return newOrder(o, lines), nil
}

// pastTTL reports whether o is pending and older than the pending-order TTL at t.
func (s *Service) pastTTL(o db.Order, t time.Time) bool {
	return Status(o.Status) == Pending && s.pendingTTL > 0 && !o.CreatedAt.After(t.Add(-s.pendingTTL))
}

// Transition applies action to an order, as the state machine allows, in one
// transaction: the order row is locked first, then (when the move returns
// stock) the inventory rows in variant id order, with a ledger row each. An
// illegal move is a 409 whose "current_state" names where the order is.
// actor names who did it in the ledger ("api key ops", "buyer").
//
// A pending order found past the pending-order TTL that the sweep has not
// reached yet expires here, first: a cancel then answers with the expired
// order, and any other move is the 409 of an expired order.
func (s *Service) Transition(ctx context.Context, publicID string, action Action, a Access, actor string) (*Order, error) {
	var out *Order
	expired := false
	err := s.st.InTx(ctx, func(tx *store.Tx) error {
		o, err := tx.Q.GetOrderByPublicIDForUpdate(ctx, publicID)
		if errors.Is(err, sql.ErrNoRows) {
			return errNotFound()
		} else if err != nil {
			return fmt.Errorf("read order: %w", err)
		}
		if !a.Admin && !tokenMatches(a.Token, o.AccessTokenHash) {
			return errNotFound()
		}
		t := s.now()
		expired = s.pastTTL(o, t)
		act, who := action, actor
		if expired {
			act, who = Expire, expiryActor
		}
		out, err = s.move(ctx, tx, o, act, who, t)
		return err
	})
	if err == nil && expired && cancelReasons[action] == "" {
		return nil, illegal(Cancelled, Expired, action)
	}
	return out, err
}

// expiryActor is the ledger's actor for stock an expired order returned.
const expiryActor = "pending-order expiry"

// move applies action to o, whose row tx holds locked: the state machine's
// check, the stock it returns (with ledger rows), and the new status. It is
// the one path of every order move, the expiry sweep's included.
func (s *Service) move(ctx context.Context, tx *store.Tx, o db.Order, action Action, actor string, t time.Time) (*Order, error) {
	from := Status(o.Status)
	to, returnsStock, ok := Next(from, action)
	if !ok {
		return nil, illegal(from, CancelReason(o.CancelReason.OrdersCancelReason), action)
	}
	lines, err := tx.Q.OrderLines(ctx, o.ID)
	if err != nil {
		return nil, fmt.Errorf("read order lines: %w", err)
	}
	changed := events.Order("order."+string(to), t, o.PublicID, orderNumber(o.ID), string(to))
	if returnsStock {
		if err := s.returnStock(ctx, tx, o, lines, to, actor, changed); err != nil {
			return nil, err
		}
	} else if err := events.Emit(ctx, tx, t, changed); err != nil {
		return nil, err
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
		p.CancelReason = db.NullOrdersCancelReason{OrdersCancelReason: db.OrdersCancelReason(cancelReasons[action]), Valid: true}
		o.CancelReason = p.CancelReason
	case Refunded:
		p.RefundedAt, o.RefundedAt = at, at
	}
	n, err := tx.Q.SetOrderStatus(ctx, p)
	if err != nil {
		return nil, fmt.Errorf("update order: %w", err)
	}
	if n != 1 {
		return nil, fmt.Errorf("order %s changed under its row lock", o.PublicID) // cannot happen: FOR UPDATE
	}
	o.Status, o.Version, o.UpdatedAt = db.OrdersStatus(to), o.Version+1, t
	return newOrder(o, lines), nil
}

// illegal is the 409 of a move the state machine refuses, naming the
// order's state (and, for a cancelled order, why it was cancelled).
func illegal(from Status, reason CancelReason, a Action) error {
	extra := map[string]any{"current_state": string(from)}
	detail := illegalMove(from, a)
	if from == Cancelled && reason != "" {
		extra["cancel_reason"] = string(reason)
		if reason == Expired {
			detail = fmt.Sprintf("the order expired: it stayed pending (unpaid) past the pending-order time limit and was cancelled, its stock returned; it cannot %s", a)
		}
	}
	return &problem.Error{Kind: problem.Conflict, Title: "Illegal order state change", Detail: detail, Extra: extra}
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
func (s *Service) returnStock(ctx context.Context, tx *store.Tx, o db.Order, lines []db.OrderLine, to Status, actor string, changed events.Event) error {
	t := s.now()
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
