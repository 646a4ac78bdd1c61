package catalog

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/shelfcommerce/shelf/db"
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
	Errors []RowError
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
	// canon caches the names stored categories give category paths (see
	// canonicalPath), under the same rule as cats.
	canon map[string][]string
}

// Forget drops what the writer cached from transactions that may not have
// committed; call it before re-running a batch.
func (w *Writer) Forget() { w.cats, w.canon = nil, nil }

// canonicalPath is path with each level that names a stored category (they
// are matched by name under the column's collation: "apparel" finds
// "Apparel") spelled as that category is; levels below the first new one
// stay as given. A product's hashes are of it, so that a path spelled
// another way hashes like the stored one: an export, which writes the
// stored names, imports back unchanged, and so does the file that first
// spelled them otherwise.
func (w *Writer) canonicalPath(ctx context.Context, tx *store.Tx, path []string) ([]string, error) {
	if len(path) == 0 {
		return path, nil
	}
	k := strings.Join(path, "\x00")
	if c, ok := w.canon[k]; ok {
		return c, nil
	}
	out := slices.Clone(path)
	var parentID uint64
	for i, name := range path {
		c, err := tx.Q.ChildCategoryByName(ctx, db.ChildCategoryByNameParams{
			ParentID: sql.NullInt64{Int64: int64(parentID), Valid: parentID != 0}, Name: strings.TrimSpace(name)})
		if errors.Is(err, sql.ErrNoRows) {
			break
		} else if err != nil {
			return nil, fmt.Errorf("category path: %w", err)
		}
		out[i], parentID = c.Name, c.ID
	}
	w.rememberPath(k, out)
	return out, nil
}

// rememberPath caches the stored spelling of the path keyed k.
func (w *Writer) rememberPath(k string, stored []string) {
	if w.canon == nil {
		w.canon = map[string][]string{}
	}
	w.canon[k] = stored
}

// hashed is p with its category path as the stored categories spell it
// (canonicalPath): what a product's hashes are of.
func (w *Writer) hashed(ctx context.Context, tx *store.Tx, p *ProductInput) (*ProductInput, error) {
	path, err := w.canonicalPath(ctx, tx, p.CategoryPath)
	if err != nil || slices.Equal(path, p.CategoryPath) {
		return p, err
	}
	c := *p
	c.CategoryPath = path
	return &c, nil
}

// MaxAttributeName is the longest facet attribute name (product_attributes.name).
const MaxAttributeName = 64

// MaxAttributeValue is the longest facet attribute value, in characters
// (product_attributes.value). Option values may be longer (255): such a
// value is no facet value, and the importer derives none from it.
const MaxAttributeValue = 191

// WriteBatch writes products (whose handles must be distinct) inside tx and
// returns one result per product, in the order given. Errors it returns are
// the transaction's (a lost lock race, a dead connection): the caller rolls
// the transaction back and may retry the batch.
func (w *Writer) WriteBatch(ctx context.Context, tx *store.Tx, products []*ProductInput) ([]ProductResult, error) {
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
	if notTheProducts(ctx, err) {
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
		one, err := w.write(ctx, tx, []*ProductInput{p})
		if err == nil {
			results[i] = one[0]
			continue
		}
		w.Forget()
		if notTheProducts(ctx, err) {
			return nil, err
		}
		if _, rerr := tx.ExecContext(ctx, "ROLLBACK TO SAVEPOINT shelf_product"); rerr != nil {
			return nil, rerr
		}
		results[i] = ProductResult{Handle: p.Handle, Outcome: Failed,
			Errors: append(slices.Clone(p.Errors), RowError{Line: p.Line, Message: describeWriteError(err)})}
	}
	return results, nil
}

// notTheProducts reports whether err is the transaction's or the database's
// (a lost race to retry, a dead or read-only server, a killed query): the
// batch fails whole, and no product is blamed for it.
func notTheProducts(ctx context.Context, err error) bool {
	return store.IsRetryable(err) || store.IsUnavailable(err) || ctx.Err() != nil || isConnErr(err)
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
	p         *ProductInput
	res       *ProductResult
	hash      []byte        // ContentHash of p as hashed (Writer.hashed), set by writeProducts
	stockFree []byte        // stockFreeHash(hash, p as hashed), likewise
	hashed    *ProductInput // p as hashed (canonicalPath), when compared with a stored product
	id        uint64
	exists    bool
	archived  bool // as stored: an archived product archived again is no news
	version   uint64
	created   time.Time
	catID     uint64
	// vids are the ids of a new product's variants, in the order of
	// p.Variants, and attrs its facet attributes as stored (both set as
	// they are written, for the read model of a new product).
	vids  []uint64
	attrs []Attribute
}

// stockChanged tells, of products that are what is stored but for their
// stated stock, which state a stock other than their variants' stock now
// (a variant without a SKU cannot be told apart, and counts as a change),
// reading the stock of all of them in one query.
func stockChanged(ctx context.Context, tx *store.Tx, pls []*plan) (map[*plan]bool, error) {
	if len(pls) == 0 {
		return nil, nil
	}
	var skus []sql.NullString
	for _, pl := range pls {
		for _, v := range pl.p.Variants {
			if v.InventoryQty != nil && v.SKU != "" {
				skus = append(skus, sql.NullString{String: v.SKU, Valid: true})
			}
		}
	}
	now := map[string]int64{}
	if len(skus) > 0 {
		rows, err := tx.Q.WriterStockOfSKUs(ctx, skus)
		if err != nil {
			return nil, fmt.Errorf("read stock: %w", err)
		}
		for _, r := range rows {
			now[r.Sku.String] = r.OnHand
		}
	}
	changed := make(map[*plan]bool, len(pls))
	for _, pl := range pls {
		for _, v := range pl.p.Variants {
			if v.InventoryQty == nil {
				continue
			}
			if n, ok := now[v.SKU]; !ok || v.SKU == "" || n != *v.InventoryQty {
				changed[pl] = true
				break
			}
		}
	}
	return changed, nil
}

// ownersToRead is the SKUs of products whose owners the writer must read:
// all but those of a product stored exactly as given (its SKUs are its own,
// and it will be unchanged) that no other product of the batch names. An
// unchanged re-import then reads no owners at all. stored says which
// products, by index, are stored as given.
func ownersToRead(products []*ProductInput, bySlug map[string]db.WriterProductsBySlugRow) (skus []string, stored []bool) {
	named := map[string]int{}
	for _, p := range products {
		for _, v := range p.Variants {
			if v.SKU != "" {
				named[v.SKU]++
			}
		}
	}
	stored = make([]bool, len(products))
	for i, p := range products {
		e, ok := bySlug[p.Handle]
		stored[i] = ok && e.ContentHash.Valid && e.ContentHash.String == string(ContentHash(numberImages(p)))
		for _, v := range p.Variants {
			if v.SKU != "" && (!stored[i] || named[v.SKU] > 1) {
				skus = append(skus, v.SKU)
			}
		}
	}
	return skus, stored
}

func (w *Writer) write(ctx context.Context, tx *store.Tx, products []*ProductInput) ([]ProductResult, error) {
	now := time.Now().UTC().Truncate(time.Microsecond)
	results := make([]ProductResult, len(products))
	plans := make([]*plan, 0, len(products))
	slugs := make([]string, 0, len(products))
	for i, p := range products {
		results[i] = ProductResult{Handle: p.Handle, Errors: slices.Clone(p.Errors)}
		slugs = append(slugs, p.Handle)
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
	skus, storedAsGiven := ownersToRead(products, bySlug)
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
	// Products that match what is stored but for their stated stock, which
	// may be the stock as it is now: decided once that is read, below.
	var stockOnly []*plan
	for i, p := range products {
		res := &results[i]
		e, exists := bySlug[p.Handle]
		// A SKU that another product owns is refused row by row, naming both
		// products; the rest of the product is written.
		kept := p.Variants[:0:0]
		for _, v := range p.Variants {
			if o, ok := owners[v.SKU]; ok && v.SKU != "" && (!exists || o.ProductID != e.ID) {
				res.Errors = append(res.Errors, RowError{Line: v.Line, SKU: v.SKU, Field: "sku",
					Message: fmt.Sprintf("belongs to product %q (id %d), not to %q; SKUs are never moved between products", o.Slug, o.ProductID, p.Handle)})
				continue
			}
			if first, ok := claimed[v.SKU]; ok && v.SKU != "" {
				res.Errors = append(res.Errors, RowError{Line: v.Line, SKU: v.SKU, Field: "sku",
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
				res.Errors = append(res.Errors, RowError{Line: p.Line, Message: "has no variant"})
			}
			continue
		}
		if len(kept) != len(p.Variants) {
			cp := *p
			cp.Variants = kept
			p = &cp
		}
		p = numberImages(p)
		// The hashes to store are made once the batch's categories exist
		// (writeProducts); a stored product's are compared here.
		pl := &plan{p: p, res: res}
		if exists {
			pl.id, pl.exists, pl.version, pl.created = e.ID, true, e.Version, e.CreatedAt
			pl.archived = e.Status == db.ProductsStatusArchived
			// Most paths are spelled as stored: as given first, the
			// unchanged of a re-run need nothing more.
			hp := p
			same := storedAsGiven[i] && len(kept) == len(products[i].Variants) ||
				e.ContentHash.Valid && e.ContentHash.String == string(ContentHash(p))
			if !same && len(p.CategoryPath) > 0 {
				if hp, err = w.hashed(ctx, tx, p); err != nil {
					return nil, err
				}
				same = hp != p && e.ContentHash.Valid && e.ContentHash.String == string(ContentHash(hp))
			}
			if same {
				// What is stored already: nothing to write, and nothing to
				// refuse (rules added since it was written apply to changes).
				res.ID, res.Version, res.Outcome = e.ID, e.Version, Unchanged
				continue
			}
			if storedStockFree(e.ContentHash, e.StockFreeHash, hp) {
				pl.hashed = hp
				stockOnly = append(stockOnly, pl)
				continue
			}
		}
		if msgs := checkProduct(p); len(msgs) > 0 {
			res.Outcome = Failed
			res.Errors = append(res.Errors, msgs...)
			continue
		}
		plans = append(plans, pl)
	}
	changed, err := stockChanged(ctx, tx, stockOnly)
	if err != nil {
		return nil, err
	}
	for _, pl := range stockOnly {
		if !changed[pl] {
			// The file states the stock as it is now (sales or adjustments
			// moved it since the last write): nothing to write but its
			// hashes, since it is now the last file to state the stock,
			// which the next run of it (after more sales) is held to. The
			// version does not move.
			if !w.DryRun {
				if err := storeHash(ctx, tx.Q, pl.id, pl.hashed); err != nil {
					return nil, fmt.Errorf("store content hash: %w", err)
				}
			}
			pl.res.ID, pl.res.Version, pl.res.Outcome = pl.id, pl.version, Unchanged
			continue
		}
		if msgs := checkProduct(pl.p); len(msgs) > 0 {
			pl.res.Outcome = Failed
			pl.res.Errors = append(pl.res.Errors, msgs...)
			continue
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
