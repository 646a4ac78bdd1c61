package catalog

import (
	"context"
	"fmt"
	"time"

	"github.com/shelfcommerce/shelf/db"
	"github.com/shelfcommerce/shelf/internal/events"
	"github.com/shelfcommerce/shelf/internal/money"
	"github.com/shelfcommerce/shelf/internal/store"
)

// productsChanged records product.updated (or, with deleted, product.deleted)
// for products a write changed outside the product writer: a category
// renamed, moved or deleted under them, an archive.
func productsChanged(ctx context.Context, tx *store.Tx, ids []uint64, deleted bool, now time.Time) error {
	if len(ids) == 0 {
		return nil
	}
	rows, err := tx.Q.ProductSlugsOf(ctx, ids)
	if err != nil {
		return fmt.Errorf("read slugs for events: %w", err)
	}
	evs := make([]events.Event, 0, len(rows))
	for _, r := range rows {
		if deleted {
			evs = append(evs, events.ProductDeleted(now, r.ID, r.Slug))
		} else {
			evs = append(evs, events.ProductUpdated(now, r.ID, r.Slug))
		}
	}
	return events.Emit(ctx, tx, now, evs...)
}

// productEvents is one product.updated per product the batch wrote (created
// or changed; an unchanged product is never in a batch's plans), and a
// product.deleted for one it archived (once: not for a write to a product
// already archived).
func productEvents(byID map[uint64]*plan, ids []uint64, now time.Time) []events.Event {
	evs := make([]events.Event, 0, len(ids))
	for _, id := range ids {
		pl := byID[id]
		evs = append(evs, events.ProductUpdated(now, id, pl.p.Handle))
		if pl.exists && !pl.archived && pl.p.Status == string(db.ProductsStatusArchived) {
			// Archived by a write of the whole product: gone from the storefront.
			evs = append(evs, events.ProductDeleted(now, id, pl.p.Handle))
		}
	}
	return evs
}

// priceChanges is one price.changed per variant whose price, compare-at
// price or currency is not what was stored (every new variant, and a hidden
// one shown again).
func priceChanges(upd, ins []want, old map[uint64]*db.WriterVariantsOfProductsRow, now time.Time) []events.Event {
	var evs []events.Event
	emit := func(wv want) {
		v := wv.v
		var cmp *money.Money
		if v.CompareAtPrice != nil {
			cmp = &money.Money{Amount: *v.CompareAtPrice, Currency: v.Currency}
		}
		evs = append(evs, events.PriceChanged(now, wv.pl.id, wv.id, v.SKU, money.Money{Amount: v.Price, Currency: v.Currency}, cmp))
	}
	for _, wv := range upd {
		o := old[wv.id]
		if o != nil && o.Active && o.Price == wv.v.Price && o.Currency == wv.v.Currency && samePrice(o.CompareAtPrice.Valid, o.CompareAtPrice.Int64, wv.v.CompareAtPrice) {
			continue
		}
		emit(wv)
	}
	for _, wv := range ins {
		emit(wv)
	}
	return evs
}

func samePrice(had bool, was int64, now *int64) bool {
	if now == nil {
		return !had
	}
	return had && was == *now
}
