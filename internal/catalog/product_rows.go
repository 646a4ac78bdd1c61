package catalog

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/shelfcommerce/shelf/internal/store"
)

// writeProducts writes a batch's product rows and what hangs off them: its
// categories (created on demand), category links, facet attributes and images.
func (w *Writer) writeProducts(ctx context.Context, tx *store.Tx, plans []*plan, now time.Time) error {
	// Categories first: EnsureCategoryPath may insert, and it takes its locks
	// before the products', in the same order for every batch (sorted paths).
	if w.cats == nil {
		w.cats = map[string]uint64{}
	}
	var keys []string
	for _, pl := range plans {
		if len(pl.p.CategoryPath) > 0 && pl.p.CategoryID == 0 {
			k := strings.Join(pl.p.CategoryPath, "\x00")
			if _, ok := w.cats[k]; !ok {
				w.cats[k] = 0
				keys = append(keys, k)
			}
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		id, names, err := ensureCategoryPath(ctx, tx, strings.Split(k, "\x00"))
		if err != nil {
			return fmt.Errorf("category path: %w", err)
		}
		w.cats[k] = id
		w.rememberPath(k, names)
	}
	for _, pl := range plans {
		if pl.p.CategoryID != 0 {
			pl.catID = pl.p.CategoryID
		} else if len(pl.p.CategoryPath) > 0 {
			pl.catID = w.cats[strings.Join(pl.p.CategoryPath, "\x00")]
		}
		// Hashed once the batch's categories exist: a path whose categories
		// an earlier product of the batch created (and spelled) is hashed as
		// they are spelled.
		hp, err := w.hashed(ctx, tx, pl.p)
		if err != nil {
			return err
		}
		pl.hash = ContentHash(hp)
		pl.stockFree = stockFreeHash(pl.hash, hp)
	}

	// With consecutive AUTO_INCREMENT ids, the ids of new products and
	// variants follow from each INSERT's first id and need no reading back.
	consecutive, err := store.AutoIDsConsecutive(ctx, tx)
	if err != nil {
		return fmt.Errorf("auto-increment mode: %w", err)
	}

	// Products, in slug order: new ones with a plain INSERT (their slugs
	// were checked free under lock, so a duplicate is an error, never an
	// update of someone else's product), existing ones with an upsert.
	slices.SortFunc(plans, func(a, b *plan) int { return strings.Compare(a.p.Handle, b.p.Handle) })
	var newArgs, oldArgs []any
	var newPlans []*plan
	for _, pl := range plans {
		p := pl.p
		var on [3]string
		copy(on[:], p.OptionNames)
		skus := make([]string, 0, len(p.Variants))
		for _, v := range p.Variants {
			if v.SKU != "" {
				skus = append(skus, v.SKU)
			}
		}
		if !pl.exists {
			pl.created = now
		}
		row := []any{p.Handle, p.Title, p.DescriptionHTML, p.Brand, p.ProductType,
			strings.Join(p.Tags, ", "), p.Status, on[0], on[1], on[2], strings.Join(skus, " "),
			pl.hash, pl.stockFree, 1, pl.created, now}
		if pl.exists {
			oldArgs = append(oldArgs, row...)
		} else {
			newArgs = append(newArgs, row...)
			newPlans = append(newPlans, pl)
		}
	}
	if len(newPlans) > 0 {
		if consecutive {
			newIDs, err := productsTable.InsertIDs(ctx, tx, newArgs)
			if err != nil {
				return fmt.Errorf("insert products: %w", err)
			}
			for i, pl := range newPlans {
				pl.id, pl.version = newIDs[i], 1
			}
		} else {
			if err := productsTable.Insert(ctx, tx, newArgs); err != nil {
				return fmt.Errorf("insert products: %w", err)
			}
			newSlugs := make([]string, 0, len(newPlans))
			bySlug := make(map[string]*plan, len(newPlans))
			for _, pl := range newPlans {
				newSlugs = append(newSlugs, pl.p.Handle)
				bySlug[pl.p.Handle] = pl
			}
			rows, err := tx.Q.WriterProductsBySlug(ctx, newSlugs)
			if err != nil {
				return fmt.Errorf("read new product ids: %w", err)
			}
			for _, r := range rows {
				if pl := bySlug[r.Slug]; pl != nil {
					pl.id, pl.version = r.ID, r.Version
				}
			}
		}
	}
	if len(oldArgs) > 0 {
		if _, err := productsTable.Upsert(ctx, tx, oldArgs,
			"ON DUPLICATE KEY UPDATE title = VALUES(title), description = VALUES(description), brand = VALUES(brand), "+
				"product_type = VALUES(product_type), tags = VALUES(tags), status = VALUES(status), option1_name = VALUES(option1_name), "+
				"option2_name = VALUES(option2_name), option3_name = VALUES(option3_name), skus = VALUES(skus), "+
				"content_hash = VALUES(content_hash), stock_free_hash = VALUES(stock_free_hash), version = version + 1, updated_at = VALUES(updated_at)"); err != nil {
			return fmt.Errorf("write products: %w", err)
		}
	}
	ids := make([]uint64, 0, len(plans))
	byID := make(map[uint64]*plan, len(plans))
	for _, pl := range plans {
		if pl.id == 0 {
			return fmt.Errorf("product %q has no id after its insert", pl.p.Handle)
		}
		ids = append(ids, pl.id)
		byID[pl.id] = pl
		if pl.exists {
			pl.version++
			pl.res.Outcome = Updated
		} else {
			pl.res.Outcome = Created
		}
		pl.res.ID, pl.res.Version = pl.id, pl.version
	}
	slices.Sort(ids)

	moves, evs, err := w.writeVariants(ctx, tx, byID, ids, now, consecutive)
	if err != nil {
		return err
	}

	// Categories, attributes and images are replaced whole (new products
	// have none to clear).
	var existing []uint64
	for _, id := range ids {
		if byID[id].exists {
			existing = append(existing, id)
		}
	}
	if len(existing) > 0 {
		if err := tx.Q.WriterDeleteProductCategories(ctx, existing); err != nil {
			return fmt.Errorf("clear categories: %w", err)
		}
		if err := tx.Q.WriterDeleteProductAttributes(ctx, existing); err != nil {
			return fmt.Errorf("clear attributes: %w", err)
		}
		if err := tx.Q.WriterDeleteProductImages(ctx, existing); err != nil {
			return fmt.Errorf("clear images: %w", err)
		}
	}
	// A new product's attributes are only inserted when the collation
	// compares them as the dedup above does (attrsAsGiven); otherwise, and
	// for products that existed, a value the collation folds into one kept
	// earlier is skipped by the upsert.
	var catArgs, attrArgs, attrUpserts, imgArgs []any
	for _, id := range ids {
		pl := byID[id]
		if pl.catID != 0 {
			catArgs = append(catArgs, id, pl.catID, 0)
		}
		names := make([]string, 0, len(pl.p.Attributes))
		for k := range pl.p.Attributes {
			names = append(names, k)
		}
		slices.Sort(names)
		seen := map[[2]string]bool{}
		start := len(pl.attrs)
		var args []any
		for _, k := range names {
			// Names are stored lower-case (the storefront's attr.NAME is
			// case-insensitive); the value column compares case- and
			// accent-insensitively: "Red" and "red" are one facet value.
			name := strings.ToLower(k)
			for _, v := range pl.p.Attributes[k] {
				fold := [2]string{name, strings.ToLower(v)}
				if seen[fold] {
					continue
				}
				seen[fold] = true
				args = append(args, id, name, v)
				pl.attrs = append(pl.attrs, Attribute{Name: name, Value: v})
			}
		}
		if !pl.exists && attrsAsGiven(pl.attrs[start:]) {
			attrArgs = append(attrArgs, args...)
		} else {
			attrUpserts = append(attrUpserts, args...)
		}
		for _, im := range pl.p.Images {
			imgArgs = append(imgArgs, id, im.Position, im.Src, im.Alt)
		}
	}
	if err := productCategoriesTable.Insert(ctx, tx, catArgs); err != nil {
		return fmt.Errorf("write categories: %w", err)
	}
	if err := productAttributesTable.Insert(ctx, tx, attrArgs); err != nil {
		return fmt.Errorf("write attributes: %w", err)
	}
	if len(attrUpserts) > 0 {
		if _, err := productAttributesTable.Upsert(ctx, tx, attrUpserts, "ON DUPLICATE KEY UPDATE value = value"); err != nil {
			return fmt.Errorf("write attributes: %w", err)
		}
	}
	if err := productImagesTable.Insert(ctx, tx, imgArgs); err != nil {
		return fmt.Errorf("write images: %w", err)
	}
	if err := RecordStock(ctx, tx, LedgerEntry{Reason: w.reason(), Actor: w.Actor, At: now,
		Extra: append(productEvents(byID, ids, now), evs...)}, moves); err != nil {
		return err
	}
	return w.syncListing(ctx, tx, byID, ids)
}
