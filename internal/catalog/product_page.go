package catalog

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/shelfcommerce/shelf/db"
	"github.com/shelfcommerce/shelf/internal/money"
	"github.com/shelfcommerce/shelf/internal/store"
)

// The documents of product_pages. A page is everything the storefront shows
// of a product; all of it changes only through writes that call SyncListing,
// except stock, which every order changes. So a document is the page's JSON
// with each variant's "available" at 0 and "in_stock" false, rendered in the
// writing transaction, and the reader splices the live stock in (see
// spliceStock): an uncached page is one primary-key read plus the product's
// inventory rows, in one statement (two for a product with many variants;
// see renderProduct).

// pagesPerStatement bounds the products whose sources one read fetches.
const pagesPerStatement = 500

// SyncPages makes product_pages and search_words agree with the normalised
// tables for the given products: active products get their document
// (re)written and their words indexed, the others lose both. SyncListing calls it for every product it syncs; the
// bulk loader calls it for the products it wrote.
func SyncPages(ctx context.Context, tx db.DBTX, productIDs []uint64) error {
	ids := slices.Clone(productIDs)
	slices.Sort(ids)
	ids = slices.Compact(ids)
	q := db.New(tx)
	for len(ids) > 0 {
		n := min(len(ids), pagesPerStatement)
		if err := syncPages(ctx, q, tx, ids[:n]); err != nil {
			return err
		}
		ids = ids[n:]
	}
	return nil
}

func syncPages(ctx context.Context, q *db.Queries, ex store.Execer, ids []uint64) error {
	rows, err := q.ProductPageSources(ctx, db.ProductPageSourcesParams{
		Products: ids, VariantsOf: ids, ImagesOf: ids, AttributesOf: ids, CategoriesOf: ids})
	if err != nil {
		return fmt.Errorf("read product page sources: %w", err)
	}
	byProduct := make(map[uint64][]db.ProductPageSourcesRow, len(ids))
	for _, r := range rows {
		byProduct[r.Pid] = append(byProduct[r.Pid], r)
	}
	var gone []uint64
	pages := make([]Product, 0, len(ids))
	for _, id := range ids {
		p, ok := pageOf(byProduct[id])
		if !ok {
			gone = append(gone, id)
			continue
		}
		pages = append(pages, p)
	}
	if len(gone) > 0 {
		if err := q.DeleteProductPages(ctx, gone); err != nil {
			return fmt.Errorf("delete product pages: %w", err)
		}
	}
	return writePages(ctx, q, ex, ids, pages)
}

// writePages upserts the documents of pages (built by pageOf) and brings
// the search words of ids (the pages' products and those that lost their
// page) in step with them.
func writePages(ctx context.Context, q *db.Queries, ex store.Execer, ids []uint64, pages []Product) error {
	ptrs := make([]*Product, len(pages))
	for i := range pages {
		ptrs[i] = &pages[i]
	}
	if len(pages) == 0 {
		if len(ids) == 0 {
			return nil
		}
		return syncSearchWords(ctx, q, ex, ids, ptrs)
	}
	args, err := pageRows(pages)
	if err != nil {
		return err
	}
	if _, err := productPagesTable.Upsert(ctx, ex, args,
		"ON DUPLICATE KEY UPDATE version = VALUES(version), variant_ids = VALUES(variant_ids), body = VALUES(body)"); err != nil {
		return fmt.Errorf("write product pages: %w", err)
	}
	return syncSearchWords(ctx, q, ex, ids, ptrs)
}

// writeNewPages is writePages for products this transaction created (their
// pages built by freshPage): they have no page and no search words yet, and
// nobody else can have written any, so both are only inserted, with nothing
// read first.
func writeNewPages(ctx context.Context, tx *store.Tx, ids []uint64, pages []Product) error {
	args, err := pageRows(pages)
	if err != nil {
		return err
	}
	if err := productPagesTable.Insert(ctx, tx, args); err != nil {
		return fmt.Errorf("write product pages: %w", err)
	}
	var words []any
	for i := range pages {
		words = appendWordRows(words, pages[i].ID, pageWords(&pages[i]))
	}
	if err := searchWordsTable.Insert(ctx, tx, words); err != nil {
		return fmt.Errorf("write search words: %w", err)
	}
	return nil
}

// pageRows is the product_pages rows of pages.
func pageRows(pages []Product) ([]any, error) {
	args := make([]any, 0, len(pages)*4)
	for i := range pages {
		p := &pages[i]
		body, err := json.Marshal(p)
		if err != nil {
			return nil, err
		}
		vids := make([]byte, 0, len(p.Variants)*8)
		for i, v := range p.Variants {
			if i > 0 {
				vids = append(vids, ',')
			}
			vids = strconv.AppendUint(vids, v.ID, 10)
		}
		args = append(args, p.ID, p.Version, string(vids), body)
	}
	return args, nil
}

// pageOf builds a product's page from its source rows, with no stock; ok is
// false when the product is not active (it has no page).
func pageOf(rows []db.ProductPageSourcesRow) (p Product, ok bool) {
	p = Product{OptionNames: []string{}, Variants: []Variant{}, Images: []Image{}, Attributes: []Attribute{}, Categories: []CategoryShort{}}
	var names []string
	for _, r := range rows {
		if asString(r.Kind) == "p" {
			p.ID, p.Slug, p.Title, p.Brand, p.ProductType, p.Description = r.ID, r.S1, r.S2, r.S3, r.S4, r.S8
			p.Version = uint64(r.N1)
			p.CreatedAt, p.UpdatedAt = time.UnixMicro(r.N2).UTC(), time.UnixMicro(r.N3).UTC()
			names = []string{r.S5, r.S6, r.S7}
		}
	}
	if names == nil {
		return p, false
	}
	for _, n := range names {
		if n != "" {
			p.OptionNames = append(p.OptionNames, n)
		}
	}
	for _, r := range rows {
		switch asString(r.Kind) {
		case "v":
			cur := r.S5
			v := Variant{ID: r.ID, Price: money.Money{Amount: r.N1, Currency: cur}, Options: []OptionValue{}, position: r.Position}
			if r.SkuNull == 0 {
				sku := r.S1
				v.SKU = &sku
			}
			if r.N2 >= 0 {
				v.CompareAtPrice = &money.Money{Amount: r.N2, Currency: cur}
			}
			for i, val := range []string{r.S2, r.S3, r.S4} {
				if names[i] != "" || val != "" {
					v.Options = append(v.Options, OptionValue{Name: names[i], Value: val})
				}
			}
			p.Variants = append(p.Variants, v)
		case "i":
			p.Images = append(p.Images, Image{Src: r.S1, Alt: r.S2, id: r.ID, position: r.Position})
		case "a":
			p.Attributes = append(p.Attributes, Attribute{Name: r.S1, Value: r.S2})
		case "c":
			p.Categories = append(p.Categories, CategoryShort{ID: r.ID, Slug: r.S1, Name: r.S2, position: r.Position})
		}
	}
	byPosition := func(ap, bp int64, aid, bid uint64) int {
		if ap != bp {
			return cmp.Compare(ap, bp)
		}
		return cmp.Compare(aid, bid)
	}
	slices.SortFunc(p.Variants, func(a, b Variant) int { return byPosition(a.position, b.position, a.ID, b.ID) })
	for _, v := range p.Variants {
		if p.Price == nil || v.Price.Amount < p.Price.Amount {
			pr := v.Price
			p.Price = &pr
		}
	}
	slices.SortFunc(p.Images, func(a, b Image) int { return byPosition(a.position, b.position, a.id, b.id) })
	slices.SortFunc(p.Attributes, func(a, b Attribute) int {
		if a.Name != b.Name {
			return cmp.Compare(a.Name, b.Name)
		}
		return cmp.Compare(a.Value, b.Value)
	})
	slices.SortFunc(p.Categories, func(a, b CategoryShort) int { return byPosition(a.position, b.position, a.ID, b.ID) })
	return p, true
}

// The stock-dependent parts of a stored document, as json.Marshal writes
// them. Inside a JSON string a quote is always escaped, so these byte
// sequences occur only as the keys themselves: "in_stock" once (before the
// variants), then one "available" per variant, in variant order.
var (
	inStockFalse = []byte(`"in_stock":false`)
	availableKey = []byte(`"available":`)
	zeroStock    = []byte(`"available":0`)
)

// stockRow is one inventory row of a page's product: its variant and units
// on hand.
type stockRow struct {
	variant uint64
	onHand  int64
}

// stockOf is the units on hand of a variant among rows (a product has a
// handful of variants, so a scan beats a map); 0 when it has no row.
func stockOf(rows []stockRow, variant uint64) int64 {
	for _, r := range rows {
		if r.variant == variant {
			return r.onHand
		}
	}
	return 0
}

// spliceStock appends to out the document with each variant's available
// units (from onHand; missing or negative is 0) and in_stock set, exactly
// the bytes json.Marshal would give for the page with that stock.
func spliceStock(out, doc []byte, variantIDs string, onHand []stockRow) ([]byte, error) {
	at := bytes.Index(doc, inStockFalse)
	if at < 0 {
		return nil, fmt.Errorf("product page document has no in_stock")
	}
	// The variants' stock, in document order; pages with more variants than
	// this spill to the heap.
	var buf [16]int64
	stock := buf[:0]
	inStock := false
	for rest := variantIDs; rest != ""; {
		var idText string
		idText, rest, _ = strings.Cut(rest, ",")
		id, err := strconv.ParseUint(idText, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("product page variant ids: %w", err)
		}
		n := max(stockOf(onHand, id), 0)
		inStock = inStock || n > 0
		stock = append(stock, n)
	}
	out = slices.Grow(out, len(doc)+len(stock)*8)
	out = append(out, doc[:at]...)
	out = append(out, `"in_stock":`...)
	out = strconv.AppendBool(out, inStock)
	doc = doc[at+len(inStockFalse):]
	for _, n := range stock {
		i := bytes.Index(doc, zeroStock)
		if i < 0 {
			return nil, fmt.Errorf("product page document has fewer variants than its variant ids")
		}
		out = append(out, doc[:i]...)
		out = append(out, availableKey...)
		out = strconv.AppendInt(out, n, 10)
		doc = doc[i+len(zeroStock):]
	}
	return append(out, doc...), nil
}
