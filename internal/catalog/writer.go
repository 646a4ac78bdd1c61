package catalog

import (
	"cmp"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/go-sql-driver/mysql"

	"github.com/shelfcommerce/shelf/db"
	"github.com/shelfcommerce/shelf/internal/events"
	"github.com/shelfcommerce/shelf/internal/importer"
	"github.com/shelfcommerce/shelf/internal/store"
)

// Outcome is what writing one product did.
type Outcome int

const (
	Unchanged Outcome = iota // the stored product already had this content: nothing written
	Created
	Updated
	Failed // nothing of the product was written; see the errors
)

func (o Outcome) String() string {
	return [...]string{"unchanged", "created", "updated", "failed"}[o]
}

// ProductResult is the outcome of one product of a batch.
type ProductResult struct {
	Handle  string
	ID      uint64 // 0 when Failed
	Version uint64 // the product's version after the write
	Outcome Outcome
	// Errors are the rows of this product that were not written (the rest
	// of the product was, unless Outcome is Failed).
	Errors []importer.RowError
}

// Writer upserts whole products: the product row by slug, its variants by
// SKU (SKU-less variants by their options, then their position), stock with
// a ledger row for every change, categories (created on demand), facet
// attributes, images and the listing read model, all in one transaction per
// batch. A product whose content hash matches the stored one is not touched
// at all, so re-running an import is cheap and bumps no version.
//
// One bad product never costs the others: a batch is first written with
// multi-row statements; if that fails for a reason other than a lost lock
// race, the batch is rolled back to a savepoint and written again product by
// product, each under its own savepoint, and a product that still fails is
// reported and left out whole.
type Writer struct {
	// Actor names who writes (the API key's name, or "cli"), for the stock ledger.
	Actor string
	// Reason is the stock ledger's reason for stock set by this writer ("import", "admin").
	Reason string
	// DryRun leaves the stock of existing variants alone. A dry run's
	// transaction lives as long as the whole file, and locking stock rows
	// for that long would hold up every order for those SKUs; what stock
	// would be set cannot change the dry run's report.
	DryRun bool

	// cats caches category paths resolved by earlier batches of this writer.
	// It only holds ids of committed categories: Forget drops it whenever a
	// batch's transaction is rolled back or retried.
	cats map[string]uint64
}

// Forget drops what the writer cached from transactions that may not have
// committed; call it before re-running a batch.
func (w *Writer) Forget() { w.cats = nil }

// MaxAttributeName is the longest facet attribute name (product_attributes.name).
const MaxAttributeName = 64

// WriteBatch writes products (whose handles must be distinct) inside tx and
// returns one result per product, in the order given. Errors it returns are
// the transaction's (a lost lock race, a dead connection): the caller rolls
// the transaction back and may retry the batch.
func (w *Writer) WriteBatch(ctx context.Context, tx *store.Tx, products []*importer.Product) ([]ProductResult, error) {
	if len(products) == 0 {
		return nil, nil
	}
	if _, err := tx.ExecContext(ctx, "SAVEPOINT shelf_batch"); err != nil {
		return nil, err
	}
	results, err := w.write(ctx, tx, products)
	if err == nil {
		_, err = tx.ExecContext(ctx, "RELEASE SAVEPOINT shelf_batch")
		if err != nil {
			w.Forget()
		}
		return results, err
	}
	w.Forget()
	if store.IsRetryable(err) || ctx.Err() != nil || isConnErr(err) {
		return nil, err
	}
	// Something in the batch broke a rule the pre-checks did not catch (a
	// SKU taken by a concurrent writer, a value MySQL refuses): find the
	// product by writing them one at a time.
	if _, rerr := tx.ExecContext(ctx, "ROLLBACK TO SAVEPOINT shelf_batch"); rerr != nil {
		return nil, rerr
	}
	results = make([]ProductResult, len(products))
	for i, p := range products {
		if _, err := tx.ExecContext(ctx, "SAVEPOINT shelf_product"); err != nil {
			return nil, err
		}
		one, err := w.write(ctx, tx, []*importer.Product{p})
		if err == nil {
			results[i] = one[0]
			continue
		}
		w.Forget()
		if store.IsRetryable(err) || ctx.Err() != nil || isConnErr(err) {
			return nil, err
		}
		if _, rerr := tx.ExecContext(ctx, "ROLLBACK TO SAVEPOINT shelf_product"); rerr != nil {
			return nil, rerr
		}
		results[i] = ProductResult{Handle: p.Handle, Outcome: Failed,
			Errors: append(slices.Clone(p.Errors), importer.RowError{Line: p.Line, Message: describeWriteError(err)})}
	}
	return results, nil
}

func isConnErr(err error) bool {
	return errors.Is(err, sql.ErrConnDone) || errors.Is(err, sql.ErrTxDone) || errors.Is(err, context.Canceled)
}

// describeWriteError is the message a row gets when the database refused the
// product; it names the rule, never SQL.
func describeWriteError(err error) string {
	switch {
	case store.IsDuplicate(err):
		return "a SKU of this product was taken by another product meanwhile; re-run the import"
	case store.IsCheckViolation(err):
		return "a value is out of range (prices and stock must not be negative)"
	}
	return "could not be written: the database refused a value (" + firstWord(err) + ")"
}

func firstWord(err error) string {
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		return "error " + strconv.Itoa(int(me.Number))
	}
	return "unknown error"
}

// plan is one product on its way into the database.
type plan struct {
	p       *importer.Product
	res     *ProductResult
	hash    []byte
	id      uint64
	exists  bool
	version uint64
	created time.Time
	catID   uint64
}

func (w *Writer) write(ctx context.Context, tx *store.Tx, products []*importer.Product) ([]ProductResult, error) {
	now := time.Now().UTC().Truncate(time.Microsecond)
	results := make([]ProductResult, len(products))
	plans := make([]*plan, 0, len(products))
	slugs := make([]string, 0, len(products))
	var skus []string
	for i, p := range products {
		results[i] = ProductResult{Handle: p.Handle, Errors: slices.Clone(p.Errors)}
		slugs = append(slugs, p.Handle)
		for _, v := range p.Variants {
			if v.SKU != "" {
				skus = append(skus, v.SKU)
			}
		}
	}
	slices.Sort(slugs)
	existing, err := tx.Q.WriterProductsBySlug(ctx, slugs)
	if err != nil {
		return nil, fmt.Errorf("lock products: %w", err)
	}
	bySlug := make(map[string]db.WriterProductsBySlugRow, len(existing))
	for _, e := range existing {
		bySlug[e.Slug] = e
	}
	owners := map[string]db.WriterVariantOwnersRow{}
	if len(skus) > 0 {
		ns := make([]sql.NullString, len(skus))
		for i, s := range skus {
			ns[i] = sql.NullString{String: s, Valid: true}
		}
		rows, err := tx.Q.WriterVariantOwners(ctx, ns)
		if err != nil {
			return nil, fmt.Errorf("read SKU owners: %w", err)
		}
		for _, r := range rows {
			owners[r.Sku.String] = r
		}
	}

	claimed := map[string]string{} // SKU -> handle of the earlier product in this batch that has it
	for i, p := range products {
		res := &results[i]
		e, exists := bySlug[p.Handle]
		// A SKU that another product owns is refused row by row, naming both
		// products; the rest of the product is written.
		kept := p.Variants[:0:0]
		for _, v := range p.Variants {
			if o, ok := owners[v.SKU]; ok && v.SKU != "" && (!exists || o.ProductID != e.ID) {
				res.Errors = append(res.Errors, importer.RowError{Line: v.Line, SKU: v.SKU, Field: "sku",
					Message: fmt.Sprintf("belongs to product %q (id %d), not to %q; SKUs are never moved between products", o.Slug, o.ProductID, p.Handle)})
				continue
			}
			if first, ok := claimed[v.SKU]; ok && v.SKU != "" {
				res.Errors = append(res.Errors, importer.RowError{Line: v.Line, SKU: v.SKU, Field: "sku",
					Message: fmt.Sprintf("belongs to product %q, imported earlier in this file, not to %q; SKUs are never moved between products", first, p.Handle)})
				continue
			}
			kept = append(kept, v)
		}
		for _, v := range kept {
			if v.SKU != "" {
				claimed[v.SKU] = p.Handle
			}
		}
		if len(kept) == 0 {
			res.Outcome = Failed
			if len(res.Errors) == 0 {
				res.Errors = append(res.Errors, importer.RowError{Line: p.Line, Message: "has no variant"})
			}
			continue
		}
		if len(kept) != len(p.Variants) {
			cp := *p
			cp.Variants = kept
			p = &cp
		}
		if msgs := checkProduct(p); len(msgs) > 0 {
			res.Outcome = Failed
			res.Errors = append(res.Errors, msgs...)
			continue
		}
		pl := &plan{p: p, res: res, hash: ContentHash(p)}
		if exists {
			pl.id, pl.exists, pl.version, pl.created = e.ID, true, e.Version, e.CreatedAt
			if e.ContentHash.Valid && e.ContentHash.String == string(pl.hash) {
				res.ID, res.Version, res.Outcome = e.ID, e.Version, Unchanged
				continue
			}
		}
		plans = append(plans, pl)
	}
	if len(plans) == 0 {
		return results, nil
	}
	if err := w.writeProducts(ctx, tx, plans, now); err != nil {
		return nil, err
	}
	return results, nil
}

// checkProduct enforces the column limits the readers do not know about.
func checkProduct(p *importer.Product) []importer.RowError {
	var errs []importer.RowError
	add := func(field, msg string) {
		errs = append(errs, importer.RowError{Line: p.Line, Field: field, Message: msg})
	}
	if utf8.RuneCountInString(p.Title) > 255 {
		add("title", "must be at most 255 characters")
	}
	if utf8.RuneCountInString(p.Brand) > 191 {
		add("brand", "must be at most 191 characters")
	}
	if utf8.RuneCountInString(p.ProductType) > 255 {
		add("type", "must be at most 255 characters")
	}
	for i, n := range p.OptionNames {
		if utf8.RuneCountInString(n) > 255 {
			add("option"+strconv.Itoa(i+1)+"_name", "must be at most 255 characters")
		}
	}
	for name, vals := range p.Attributes {
		if !validAttrName(name) {
			add("attributes", fmt.Sprintf("name %q must be 1 to %d ASCII characters", name, MaxAttributeName))
		}
		for _, v := range vals {
			if utf8.RuneCountInString(v) > 191 {
				add("attributes", fmt.Sprintf("value of %q must be at most 191 characters", name))
			}
		}
	}
	for _, v := range p.Variants {
		for k, o := range v.Options {
			if utf8.RuneCountInString(o) > 255 {
				errs = append(errs, importer.RowError{Line: v.Line, SKU: v.SKU, Field: "option" + strconv.Itoa(k+1) + "_value", Message: "must be at most 255 characters"})
			}
		}
		if len(v.SKU) > 191 {
			errs = append(errs, importer.RowError{Line: v.Line, SKU: v.SKU, Field: "sku", Message: "must be at most 191 bytes"})
		}
	}
	for _, im := range p.Images {
		if len(im.Src) > 2048 || utf8.RuneCountInString(im.Alt) > 512 {
			add("images", "an image URL must be at most 2048 bytes and its alt text 512 characters")
			break
		}
	}
	return errs
}

func validAttrName(s string) bool {
	if s == "" || len(s) > MaxAttributeName {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// ContentHash is a digest of everything the writer stores for p. Equal hashes
// mean there is nothing to write. It covers stock as the file states it, so a
// re-run of the same file does not reset stock that orders have taken since.
func ContentHash(p *importer.Product) []byte {
	h := sha256.New()
	var n [8]byte
	str := func(s string) {
		binary.LittleEndian.PutUint64(n[:], uint64(len(s)))
		h.Write(n[:])
		h.Write([]byte(s))
	}
	num := func(v int64) {
		binary.LittleEndian.PutUint64(n[:], uint64(v))
		h.Write(n[:])
	}
	list := func(l []string) {
		num(int64(len(l)))
		for _, s := range l {
			str(s)
		}
	}
	str("shelf-product-v1")
	str(p.Handle)
	str(p.Title)
	str(p.DescriptionHTML)
	str(p.Brand)
	str(p.ProductType)
	list(p.Tags)
	str(p.Status)
	list(p.CategoryPath)
	list(p.OptionNames)
	names := make([]string, 0, len(p.Attributes))
	for k := range p.Attributes {
		names = append(names, k)
	}
	slices.Sort(names)
	num(int64(len(names)))
	for _, k := range names {
		str(k)
		list(p.Attributes[k])
	}
	num(int64(len(p.Variants)))
	for _, v := range p.Variants {
		str(v.SKU)
		list(v.Options)
		num(v.Price)
		if v.CompareAtPrice != nil {
			num(1)
			num(*v.CompareAtPrice)
		} else {
			num(0)
		}
		str(v.Currency)
		if v.InventoryQty != nil {
			num(1)
			num(*v.InventoryQty)
		} else {
			num(0)
		}
	}
	num(int64(len(p.Images)))
	for _, im := range p.Images {
		str(im.Src)
		str(im.Alt)
		num(int64(im.Position))
	}
	return h.Sum(nil)
}

func (w *Writer) writeProducts(ctx context.Context, tx *store.Tx, plans []*plan, now time.Time) error {
	// Categories first: EnsureCategoryPath may insert, and it takes its locks
	// before the products', in the same order for every batch (sorted paths).
	if w.cats == nil {
		w.cats = map[string]uint64{}
	}
	var keys []string
	for _, pl := range plans {
		if len(pl.p.CategoryPath) > 0 {
			k := strings.Join(pl.p.CategoryPath, "\x00")
			if _, ok := w.cats[k]; !ok {
				w.cats[k] = 0
				keys = append(keys, k)
			}
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		id, err := EnsureCategoryPath(ctx, tx, strings.Split(k, "\x00"))
		if err != nil {
			return fmt.Errorf("category path: %w", err)
		}
		w.cats[k] = id
	}
	for _, pl := range plans {
		if len(pl.p.CategoryPath) > 0 {
			pl.catID = w.cats[strings.Join(pl.p.CategoryPath, "\x00")]
		}
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
			pl.hash, 1, pl.created, now}
		if pl.exists {
			oldArgs = append(oldArgs, row...)
		} else {
			newArgs = append(newArgs, row...)
			newPlans = append(newPlans, pl)
		}
	}
	const productCols = "INSERT INTO products (slug, title, description, brand, product_type, tags, status, option1_name, option2_name, option3_name, skus, content_hash, version, created_at, updated_at)"
	if len(newPlans) > 0 {
		if consecutive {
			newIDs, err := store.InsertRowsIDs(ctx, tx, productCols, 15, newArgs)
			if err != nil {
				return fmt.Errorf("insert products: %w", err)
			}
			for i, pl := range newPlans {
				pl.id, pl.version = newIDs[i], 1
			}
		} else {
			if _, err := store.InsertRows(ctx, tx, productCols, 15, newArgs, ""); err != nil {
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
		if _, err := store.InsertRows(ctx, tx, productCols, 15, oldArgs,
			"ON DUPLICATE KEY UPDATE title = VALUES(title), description = VALUES(description), brand = VALUES(brand), "+
				"product_type = VALUES(product_type), tags = VALUES(tags), status = VALUES(status), option1_name = VALUES(option1_name), "+
				"option2_name = VALUES(option2_name), option3_name = VALUES(option3_name), skus = VALUES(skus), "+
				"content_hash = VALUES(content_hash), version = version + 1, updated_at = VALUES(updated_at)"); err != nil {
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
	var catArgs, attrArgs, imgArgs []any
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
				attrArgs = append(attrArgs, id, name, v)
			}
		}
		for _, im := range pl.p.Images {
			imgArgs = append(imgArgs, id, im.Position, im.Src, im.Alt)
		}
	}
	if len(catArgs) > 0 {
		if _, err := store.InsertRows(ctx, tx, "INSERT INTO product_categories (product_id, category_id, position)", 3, catArgs, ""); err != nil {
			return fmt.Errorf("write categories: %w", err)
		}
	}
	if len(attrArgs) > 0 {
		if _, err := store.InsertRows(ctx, tx, "INSERT INTO product_attributes (product_id, name, value)", 3, attrArgs,
			"ON DUPLICATE KEY UPDATE value = value"); err != nil {
			return fmt.Errorf("write attributes: %w", err)
		}
	}
	if len(imgArgs) > 0 {
		if _, err := store.InsertRows(ctx, tx, "INSERT INTO product_images (product_id, position, src, alt)", 4, imgArgs, ""); err != nil {
			return fmt.Errorf("write images: %w", err)
		}
	}
	if err := RecordStock(ctx, tx, LedgerEntry{Reason: w.reason(), Actor: w.Actor, At: now,
		Extra: append(productEvents(byID, ids, now), evs...)}, moves); err != nil {
		return err
	}
	return w.syncListing(ctx, tx, byID, ids)
}

// syncListing brings the listing read model up to date for the batch. A
// product that existed goes through SyncListing's read-compare-write. A
// product created by this batch has no listing rows yet, and everything its
// rows hold is what this batch just wrote: its status, slug, title, brand and
// creation time; all its variants are active, so its lowest price and
// currency are its variants'; it is in stock if any of them has stock (a
// variant without a quantity got 0); and it is listed under its category and
// that category's ancestors (read from the closure table, as SyncListing
// does). So its rows are built here and only inserted, with the same counts
// SyncListing would add, and nothing is read back.
func (w *Writer) syncListing(ctx context.Context, tx *store.Tx, byID map[uint64]*plan, ids []uint64) error {
	var old []uint64
	var fresh []*plan
	var catIDs []uint64
	for _, id := range ids {
		pl := byID[id]
		switch {
		case pl.exists || !knownStatus(pl.p.Status) || !storedAsGiven(pl.p.Variants):
			old = append(old, id)
		case pl.p.Status == string(db.ProductsStatusActive):
			fresh = append(fresh, pl)
			if pl.catID != 0 {
				catIDs = append(catIDs, pl.catID)
			}
		}
		// A new draft or archived product is not listed: nothing to write.
	}
	ancestors := map[uint64][]uint64{}
	if len(catIDs) > 0 {
		slices.Sort(catIDs)
		catIDs = slices.Compact(catIDs)
		rows, err := tx.Q.ListingAncestorsOf(ctx, catIDs)
		if err != nil {
			return fmt.Errorf("read category ancestors: %w", err)
		}
		for _, r := range rows {
			ancestors[r.CategoryID] = append(ancestors[r.CategoryID], r.AncestorID)
		}
	}
	rows := make([]listingRow, 0, len(fresh)*3)
	for _, pl := range fresh {
		vs := pl.p.Variants
		row := listingRow{ProductID: pl.id, Slug: pl.p.Handle, Title: pl.p.Title, Brand: pl.p.Brand,
			PriceMin: vs[0].Price, Currency: vs[0].Currency, CreatedAt: pl.created}
		for _, v := range vs {
			row.PriceMin = min(row.PriceMin, v.Price)
			row.Currency = min(row.Currency, v.Currency)
			if v.InventoryQty != nil && *v.InventoryQty > 0 {
				row.InStock = true
			}
		}
		row.CategoryID = RootCategory
		rows = append(rows, row)
		for _, c := range ancestors[pl.catID] {
			row.CategoryID = c
			rows = append(rows, row)
		}
	}
	return syncListing(ctx, tx, old, rows)
}

// storedAsGiven: the variants' currencies read back as written (CHAR drops
// trailing spaces), and there is at least one variant to take a price from.
func storedAsGiven(vs []importer.Variant) bool {
	for _, v := range vs {
		if strings.HasSuffix(v.Currency, " ") {
			return false
		}
	}
	return len(vs) > 0
}

func knownStatus(s string) bool {
	switch db.ProductsStatus(s) {
	case db.ProductsStatusActive, db.ProductsStatusDraft, db.ProductsStatusArchived:
		return true
	}
	return false
}

type optKey struct{ o1, o2, o3 string }

func optsOf(opts []string) optKey {
	var k [3]string
	copy(k[:], opts)
	return optKey{k[0], k[1], k[2]}
}

// want is one variant on its way into the database.
type want struct {
	pl    *plan
	v     *importer.Variant
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
		for j, o := range olds {
			if !used[j] && o.Active {
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
	const cols = "INSERT INTO variants (id, product_id, sku, position, option1, option2, option3, price, compare_at_price, currency, active, created_at, updated_at)"
	if len(upd) > 0 {
		slices.SortFunc(upd, func(a, b want) int { return cmp.Compare(a.id, b.id) })
		args := make([]any, 0, len(upd)*13)
		for _, wv := range upd {
			args = row(args, wv, wv.id)
		}
		// Keyed by id: every row exists, so each one is an update. A SKU that
		// collides with another variant fails with 1062 rather than moving.
		if _, err := store.InsertRows(ctx, tx, cols, 13, args,
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
			newIDs, err := store.InsertRowsIDs(ctx, tx, cols, 13, args)
			if err != nil {
				return nil, nil, fmt.Errorf("insert variants: %w", err)
			}
			for i := range ins {
				ins[i].id = newIDs[i]
			}
		} else if err := insertVariantsReadIDs(ctx, tx, ins, cols, args); err != nil {
			return nil, nil, err
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
	slices.SortFunc(all, func(a, b want) int { return cmp.Compare(a.id, b.id) })
	var invArgs []any
	var moves []StockMove
	for _, wv := range all {
		cur, has := onHand[wv.id]
		switch {
		case wv.stock == nil && has:
			continue
		case wv.stock == nil:
			invArgs = append(invArgs, wv.id, wv.pl.id, 0, now)
		case has && cur == *wv.stock:
			continue
		default:
			invArgs = append(invArgs, wv.id, wv.pl.id, *wv.stock, now)
			moves = append(moves, StockMove{VariantID: wv.id, ProductID: wv.pl.id, SKU: wv.v.SKU, Delta: *wv.stock - cur, After: *wv.stock})
		}
	}
	if len(invArgs) > 0 {
		if _, err := store.InsertRows(ctx, tx, "INSERT INTO inventory (variant_id, product_id, on_hand, updated_at)", 4, invArgs,
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
func insertVariantsReadIDs(ctx context.Context, tx *store.Tx, ins []want, cols string, args []any) error {
	if _, err := store.InsertRows(ctx, tx, cols, 13, args, ""); err != nil {
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
