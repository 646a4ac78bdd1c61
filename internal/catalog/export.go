package catalog

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"

	"github.com/shelfcommerce/shelf/db"
	"github.com/shelfcommerce/shelf/internal/problem"
	"github.com/shelfcommerce/shelf/internal/store"
)

// ExportOptions configure Export.
type ExportOptions struct {
	// PageSize is how many products are read per round of queries (default 500).
	PageSize int
	// Progress, if set, is called after each page with the products written
	// so far and the catalog's total.
	Progress func(done, total int)
	// Currency is the catalog's currency, the one a format without a
	// currency column reads back in (SHELF_CURRENCY). With such a format an
	// export of variants priced in another is refused before it starts:
	// their prices would read back as amounts of the wrong money.
	Currency string
}

// ExportStats is what an export wrote.
type ExportStats struct {
	Products int
	Total    int // products in the catalog when the export began
}

// Export writes the whole catalog to fw (internal/importer's NewWriter gives
// one for each import format) and flushes it: every product (drafts and
// archived included, with their status) in id order, its active variants
// with their stock, its category path, attributes and images. Reading the
// output back with the importer gives the products the writer stored, so
// importing an export into its source reports every product unchanged, and
// into an empty Shelf gives the same catalog.
//
// It reads a page of products at a time inside one read-only REPEATABLE READ
// transaction: memory stays at one page whatever the catalog's size, and the
// file is one consistent snapshot even while writes go on. Stock is exported
// as it is now; a variant whose stock was never set has none, so a re-import
// leaves it unset.
//
// The Shopify format has no currency column: it is refused (a 422 naming
// format) for a catalog that has variants priced in another currency than
// opts.Currency. Attributes that options do not give go in its extra
// "Shelf Attributes" column (not one of Shopify's; Shelf reads it back).
func Export(ctx context.Context, st *store.Store, fw ProductWriter, opts ExportOptions) (ExportStats, error) {
	var stats ExportStats
	if opts.PageSize <= 0 {
		opts.PageSize = 500
	}
	tx, err := st.Begin(ctx, &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true})
	if err != nil {
		return stats, err
	}
	defer func() { _ = tx.Rollback() }()
	// The snapshot is held while the client reads, at its pace.
	if err := tx.Patient(ctx); err != nil {
		return stats, err
	}
	q := tx.Q
	total, err := q.CountProducts(ctx)
	if err != nil {
		return stats, fmt.Errorf("count products: %w", err)
	}
	stats.Total = int(total)
	if cw, ok := fw.(CurrencylessWriter); ok && cw.OmitsCurrency() && opts.Currency != "" {
		if err := pricedOnlyIn(ctx, q, opts.Currency); err != nil {
			return stats, err
		}
	}
	var after uint64
	for {
		page, last, err := exportPage(ctx, q, after, opts.PageSize)
		if err != nil {
			return stats, err
		}
		for _, p := range page {
			if err := fw.Write(p); err != nil {
				return stats, err
			}
		}
		stats.Products += len(page)
		if opts.Progress != nil {
			opts.Progress(stats.Products, max(stats.Total, stats.Products))
		}
		if len(page) < opts.PageSize {
			break
		}
		after = last
	}
	return stats, fw.Flush()
}

// pricedOnlyIn refuses an export without currencies of a catalog that has
// variants priced in another currency than currency.
func pricedOnlyIn(ctx context.Context, q *db.Queries, currency string) error {
	others, err := q.ExportOtherCurrencies(ctx, currency)
	if err != nil || len(others) == 0 {
		return err
	}
	var in []string
	for _, o := range others {
		in = append(in, fmt.Sprintf("%d in %s", o.Variants, o.Currency))
	}
	return problem.Field(problem.Unprocessable, "format", fmt.Sprintf(
		"shopify files carry no currency and read back in %s, but variants are priced in others (%s): export csv or ndjson",
		currency, strings.Join(in, ", ")))
}

// exportPage reads the products after id after, at most n, as import
// products, and the id of the last one.
func exportPage(ctx context.Context, q *db.Queries, after uint64, n int) ([]*ProductInput, uint64, error) {
	rows, err := q.ExportProducts(ctx, db.ExportProductsParams{ID: after, Limit: int32(n)})
	if err != nil || len(rows) == 0 {
		return nil, after, err
	}
	out, err := exportForms(ctx, q, rows)
	if err != nil {
		return nil, 0, err
	}
	return out, rows[len(rows)-1].ID, nil
}

// exportForms reads the rest of rows' products and returns them as import
// products, in the order of rows.
func exportForms(ctx context.Context, q *db.Queries, rows []db.ExportProductsRow) ([]*ProductInput, error) {
	ids := make([]uint64, len(rows))
	hashes := make([][]byte, len(rows))
	byID := make(map[uint64]*ProductInput, len(rows))
	out := make([]*ProductInput, len(rows))
	for i, r := range rows {
		p := &ProductInput{Handle: r.Slug, Title: r.Title, DescriptionHTML: r.Description,
			Brand: r.Brand, ProductType: r.ProductType, Status: string(r.Status)}
		for t := range strings.SplitSeq(r.Tags, ",") {
			if t = strings.TrimSpace(t); t != "" {
				p.Tags = append(p.Tags, t)
			}
		}
		for _, n := range []string{r.Option1Name, r.Option2Name, r.Option3Name} {
			if n != "" {
				p.OptionNames = append(p.OptionNames, n)
			}
		}
		ids[i], byID[r.ID], out[i], hashes[i] = r.ID, p, p, []byte(r.ContentHash.String)
	}
	variants, err := q.ExportVariants(ctx, ids)
	if err != nil {
		return nil, fmt.Errorf("export variants: %w", err)
	}
	for _, v := range variants {
		p := byID[v.ProductID]
		ev := VariantInput{SKU: v.Sku.String, Price: v.Price, Currency: v.Currency}
		ev.Options = []string{v.Option1, v.Option2, v.Option3}[:len(p.OptionNames)]
		if v.CompareAtPrice.Valid {
			c := v.CompareAtPrice.Int64
			ev.CompareAtPrice = &c
		}
		if v.OnHand.Valid {
			n := v.OnHand.Int64
			ev.InventoryQty = &n
		}
		p.Variants = append(p.Variants, ev)
	}
	images, err := q.ExportImages(ctx, ids)
	if err != nil {
		return nil, fmt.Errorf("export images: %w", err)
	}
	for _, im := range images {
		p := byID[im.ProductID]
		p.Images = append(p.Images, ImageInput{Src: im.Src, Alt: im.Alt, Position: int(im.Position)})
	}
	attrs, err := q.ExportAttributes(ctx, ids)
	if err != nil {
		return nil, fmt.Errorf("export attributes: %w", err)
	}
	for _, a := range attrs {
		p := byID[a.ProductID]
		if p.Attributes == nil {
			p.Attributes = map[string][]string{}
		}
		p.Attributes[a.Name] = append(p.Attributes[a.Name], a.Value)
	}
	// The query returns values in the column's collation order; a file's
	// values are read (and hashed) in byte order: "Banana" before "apple".
	for _, p := range out {
		for _, vals := range p.Attributes {
			slices.Sort(vals)
		}
	}
	paths, err := q.ExportCategoryPaths(ctx, ids)
	if err != nil {
		return nil, fmt.Errorf("export categories: %w", err)
	}
	// A product's first category (by position) is the one an import sets.
	first := map[uint64]uint64{}
	for _, c := range paths {
		if _, ok := first[c.ProductID]; !ok {
			first[c.ProductID] = c.CategoryID
		}
		if first[c.ProductID] == c.CategoryID {
			p := byID[c.ProductID]
			p.CategoryPath = append(p.CategoryPath, c.Name)
		}
	}
	for i, p := range out {
		out[i], _ = importedForm(p, hashes[i])
	}
	return out, nil
}

// importedForm is p with its stock as the write that stored it stated it,
// when the product has not changed since, and whether it has not. The
// stored content hash covers stock as a file states it, and a file that
// states none leaves new variants at 0: a variant at 0 is written without
// stock when that is what reproduces the hash, so that importing the export
// back reports the product unchanged (and never sets a stock the file did
// not set).
func importedForm(p *ProductInput, stored []byte) (*ProductInput, bool) {
	if len(stored) == 0 {
		return p, false
	}
	if bytes.Equal(ContentHash(p), stored) {
		return p, true
	}
	c := *p
	c.Variants = slices.Clone(p.Variants)
	zeros := false
	for i, v := range c.Variants {
		if v.InventoryQty != nil && *v.InventoryQty == 0 {
			c.Variants[i].InventoryQty, zeros = nil, true
		}
	}
	if zeros && bytes.Equal(ContentHash(&c), stored) {
		return &c, true
	}
	return p, false
}

// vouched reports whether r's stored hashes describe p, its export form:
// the product is as its last write stored it (its stock aside, which sales
// move).
func vouched(r db.ExportProductsRow, p *ProductInput) bool {
	return r.ContentHash.Valid && bytes.Equal(ContentHash(p), []byte(r.ContentHash.String)) ||
		storedStockFree(r.ContentHash, r.StockFreeHash, p)
}

// restateBatch is how many products restate reads at once.
const restateBatch = 500

// restate keeps, across a change that rewrites what the export of products
// ids shows without the product writer (a category renamed, moved or
// deleted over them, an archive), the hashes that vouched for them: call it with the change in
// between, inside its transaction. Those that were as their last write
// stored them get the hashes of their export form after the change, so
// that importing their export reports them unchanged.
func restate(ctx context.Context, q *db.Queries, ids []uint64, change func() error) error {
	var kept []uint64
	for chunk := range slices.Chunk(ids, restateBatch) {
		forms, rows, err := formsOf(ctx, q, chunk)
		if err != nil {
			return err
		}
		for i, p := range forms {
			if vouched(rows[i], p) {
				kept = append(kept, rows[i].ID)
			}
		}
	}
	if err := change(); err != nil {
		return err
	}
	for chunk := range slices.Chunk(kept, restateBatch) {
		forms, rows, err := formsOf(ctx, q, chunk)
		if err != nil {
			return err
		}
		for i, p := range forms {
			if err := storeHash(ctx, q, rows[i].ID, p); err != nil {
				return err
			}
		}
	}
	return nil
}

// formsOf is the export form of products ids, with their rows.
func formsOf(ctx context.Context, q *db.Queries, ids []uint64) ([]*ProductInput, []db.ExportProductsRow, error) {
	byID, err := q.ExportProductsByID(ctx, ids)
	if err != nil || len(byID) == 0 {
		return nil, nil, err
	}
	rows := make([]db.ExportProductsRow, len(byID))
	for i, r := range byID {
		rows[i] = db.ExportProductsRow(r)
	}
	forms, err := exportForms(ctx, q, rows)
	return forms, rows, err
}

// storeHash stores the hashes of p (nil: none) as product id's.
func storeHash(ctx context.Context, q *db.Queries, id uint64, p *ProductInput) error {
	if p == nil {
		return nil
	}
	content := ContentHash(p)
	return q.SetProductContentHash(ctx, db.SetProductContentHashParams{
		ContentHash:   sql.NullString{String: string(content), Valid: true},
		StockFreeHash: sql.NullString{String: string(stockFreeHash(content, p)), Valid: true}, ID: id})
}
