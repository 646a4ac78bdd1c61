package catalog

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/shelfcommerce/shelf/db"
	"github.com/shelfcommerce/shelf/internal/events"
	"github.com/shelfcommerce/shelf/internal/store"
)

// optKey matches a SKU-less variant by its option values.
type optKey struct{ o1, o2, o3 string }

func optsOf(opts []string) optKey {
	var k [3]string
	copy(k[:], opts)
	return optKey{k[0], k[1], k[2]}
}

// want is one variant on its way into the database.
type want struct {
	pl    *plan
	v     *VariantInput
	id    uint64 // existing variant, or 0 until inserted
	pos   int32
	stock *int64
}

// writeVariants writes the variants of the batch and their stock, and
// returns the stock moves for the ledger and the price.changed events.
func (w *Writer) writeVariants(ctx context.Context, tx *store.Tx, byID map[uint64]*plan, ids []uint64, now time.Time, consecutive bool) ([]StockMove, []events.Event, error) {
	// Only products that existed have variants to match (new ones have none).
	var existing []uint64
	for _, id := range ids {
		if byID[id].exists {
			existing = append(existing, id)
		}
	}
	oldOf := map[uint64][]db.WriterVariantsOfProductsRow{}
	oldByID := map[uint64]*db.WriterVariantsOfProductsRow{}
	if len(existing) > 0 {
		old, err := tx.Q.WriterVariantsOfProducts(ctx, existing)
		if err != nil {
			return nil, nil, fmt.Errorf("lock variants: %w", err)
		}
		for i, v := range old {
			oldOf[v.ProductID] = append(oldOf[v.ProductID], v)
			oldByID[v.ID] = &old[i]
		}
	}
	var upd, ins []want
	var deactivate []uint64
	for _, id := range ids {
		pl := byID[id]
		olds := oldOf[id]
		used := make([]bool, len(olds))
		match := make([]uint64, len(pl.p.Variants))
		// 1. by SKU; 2. SKU-less by options; 3. SKU-less by position.
		for i, v := range pl.p.Variants {
			if v.SKU == "" {
				continue
			}
			for j, o := range olds {
				if !used[j] && o.Sku.Valid && o.Sku.String == v.SKU {
					used[j], match[i] = true, o.ID
					break
				}
			}
		}
		for i, v := range pl.p.Variants {
			// A SKU-less variant matches by its options; so does a variant
			// that now has a SKU where the stored one had none (a file that
			// gained SKUs keeps its variant ids and stock).
			if match[i] != 0 {
				continue
			}
			k := optsOf(v.Options)
			for j, o := range olds {
				if !used[j] && !o.Sku.Valid && o.Active && (optKey{o.Option1, o.Option2, o.Option3}) == k {
					used[j], match[i] = true, o.ID
					break
				}
			}
		}
		for i, v := range pl.p.Variants {
			if v.SKU != "" || match[i] != 0 {
				continue
			}
			for j, o := range olds {
				if !used[j] && !o.Sku.Valid && o.Active && o.Position == int32(i) {
					used[j], match[i] = true, o.ID
					break
				}
			}
		}
		// A stored variant the file no longer names is removed (hidden),
		// unless the product came with refused rows: one of those may be
		// that variant's, and a row that is not written must not take the
		// stored one with it. It goes once the file is right. (Not one in
		// another currency than the file's: a product has one currency.)
		for j, o := range olds {
			keep := len(pl.p.Errors) > 0 && o.Currency == pl.p.Variants[0].Currency
			if !used[j] && o.Active && !keep {
				deactivate = append(deactivate, o.ID)
			}
		}
		for i := range pl.p.Variants {
			wv := want{pl: pl, v: &pl.p.Variants[i], id: match[i], pos: int32(i), stock: pl.p.Variants[i].InventoryQty}
			if match[i] != 0 {
				upd = append(upd, wv)
			} else {
				ins = append(ins, wv)
			}
		}
	}
	if len(deactivate) > 0 {
		// Hidden variants keep their SKU (it stays this product's) but free
		// their position for the new list.
		if err := tx.Q.WriterDeactivateVariants(ctx, db.WriterDeactivateVariantsParams{UpdatedAt: now, Ids: deactivate}); err != nil {
			return nil, nil, fmt.Errorf("hide removed variants: %w", err)
		}
	}
	row := func(args []any, wv want, id any) []any {
		var o [3]string
		copy(o[:], wv.v.Options)
		var sku, cmp any
		if wv.v.SKU != "" {
			sku = wv.v.SKU
		}
		if wv.v.CompareAtPrice != nil {
			cmp = *wv.v.CompareAtPrice
		}
		return append(args, id, wv.pl.id, sku, wv.pos, o[0], o[1], o[2], wv.v.Price, cmp, wv.v.Currency, true, now, now)
	}
	if len(upd) > 0 {
		slices.SortFunc(upd, func(a, b want) int { return cmp.Compare(a.id, b.id) })
		args := make([]any, 0, len(upd)*13)
		for _, wv := range upd {
			args = row(args, wv, wv.id)
		}
		// Keyed by id: every row exists, so each one is an update. A SKU that
		// collides with another variant fails with 1062 rather than moving.
		if _, err := variantsTable.Upsert(ctx, tx, args,
			"ON DUPLICATE KEY UPDATE sku = VALUES(sku), position = VALUES(position), option1 = VALUES(option1), "+
				"option2 = VALUES(option2), option3 = VALUES(option3), price = VALUES(price), compare_at_price = VALUES(compare_at_price), "+
				"currency = VALUES(currency), active = VALUES(active), updated_at = VALUES(updated_at)"); err != nil {
			return nil, nil, fmt.Errorf("update variants: %w", err)
		}
	}
	if len(ins) > 0 {
		args := make([]any, 0, len(ins)*13)
		for _, wv := range ins {
			args = row(args, wv, nil)
		}
		// A plain INSERT: a SKU some other product took meanwhile is an error
		// (1062), never an update of that product's variant.
		if consecutive {
			newIDs, err := variantsTable.InsertIDs(ctx, tx, args)
			if err != nil {
				return nil, nil, fmt.Errorf("insert variants: %w", err)
			}
			for i := range ins {
				ins[i].id = newIDs[i]
			}
		} else if err := insertVariantsReadIDs(ctx, tx, ins, args); err != nil {
			return nil, nil, err
		}
	}

	for _, wv := range ins {
		if !wv.pl.exists {
			wv.pl.vids = append(wv.pl.vids, wv.id)
		}
	}

	priceEvents := priceChanges(upd, ins, oldByID, now)

	// Stock: set where the file says, with a ledger row per change; a new
	// variant without a quantity starts at 0 so orders can take from it later.
	// Only variants that existed can have stock rows to read.
	if w.DryRun {
		upd = nil // neither read-locked nor written: see Writer.DryRun
	}
	all := append(upd, ins...)
	onHand := map[uint64]int64{}
	if len(upd) > 0 {
		vids := make([]uint64, 0, len(upd))
		for _, wv := range upd {
			vids = append(vids, wv.id)
		}
		slices.Sort(vids)
		stock, err := tx.Q.WriterInventoryOf(ctx, vids)
		if err != nil {
			return nil, nil, fmt.Errorf("lock stock: %w", err)
		}
		for _, s := range stock {
			onHand[s.VariantID] = s.OnHand
		}
	}
	// A variant inserted above has no stock row yet: its row is only
	// inserted; the others' are upserted.
	inserted := make(map[uint64]bool, len(ins))
	for _, wv := range ins {
		inserted[wv.id] = true
	}
	slices.SortFunc(all, func(a, b want) int { return cmp.Compare(a.id, b.id) })
	var invArgs, invUpserts []any
	var moves []StockMove
	for _, wv := range all {
		cur, has := onHand[wv.id]
		var qty int64
		switch {
		case wv.stock == nil && has:
			continue
		case wv.stock == nil:
		case has && cur == *wv.stock:
			continue
		default:
			qty = *wv.stock
			moves = append(moves, StockMove{VariantID: wv.id, ProductID: wv.pl.id, SKU: wv.v.SKU, Delta: qty - cur, After: qty})
		}
		if inserted[wv.id] {
			invArgs = append(invArgs, wv.id, wv.pl.id, qty, now)
		} else {
			invUpserts = append(invUpserts, wv.id, wv.pl.id, qty, now)
		}
	}
	if err := inventoryTable.Insert(ctx, tx, invArgs); err != nil {
		return nil, nil, fmt.Errorf("write stock: %w", err)
	}
	if len(invUpserts) > 0 {
		if _, err := inventoryTable.Upsert(ctx, tx, invUpserts,
			"ON DUPLICATE KEY UPDATE on_hand = VALUES(on_hand), updated_at = VALUES(updated_at)"); err != nil {
			return nil, nil, fmt.Errorf("write stock: %w", err)
		}
	}
	return moves, priceEvents, nil
}

func (w *Writer) reason() string {
	if w.Reason == "" {
		return "import"
	}
	return w.Reason
}

// insertVariantsReadIDs inserts new variants and reads their ids back, for
// servers where ids cannot be derived from the INSERT (see
// store.AutoIDsConsecutive).
func insertVariantsReadIDs(ctx context.Context, tx *store.Tx, ins []want, args []any) error {
	if err := variantsTable.Insert(ctx, tx, args); err != nil {
		return fmt.Errorf("insert variants: %w", err)
	}
	var withNew []uint64
	for _, wv := range ins {
		if n := len(withNew); n == 0 || withNew[n-1] != wv.pl.id {
			withNew = append(withNew, wv.pl.id)
		}
	}
	slices.Sort(withNew)
	withNew = slices.Compact(withNew)
	rows, err := tx.Q.WriterVariantsOfProducts(ctx, withNew)
	if err != nil {
		return fmt.Errorf("read new variant ids: %w", err)
	}
	type pk struct {
		product uint64
		pos     int32
	}
	idOf := make(map[pk]uint64, len(rows))
	for _, v := range rows {
		if v.Active {
			idOf[pk{v.ProductID, v.Position}] = v.ID
		}
	}
	for i := range ins {
		ins[i].id = idOf[pk{ins[i].pl.id, ins[i].pos}]
		if ins[i].id == 0 {
			return fmt.Errorf("variant %d of %q has no id after its insert", ins[i].pos, ins[i].pl.p.Handle)
		}
	}
	return nil
}
