// Package importer reads product import files (Shopify CSV exports, Shelf's own CSV format and
// NDJSON) as a stream of catalog.ProductInput, the write input package catalog defines, one
// product at a time, so a catalogue of any size is imported in bounded memory. It checks only
// what the file alone can tell (required fields, money syntax, quantities, status, handle
// syntax) and reports each problem with its line and field, so one bad row never hides the
// thousands of good ones; database rules (e.g. a SKU owned by another product) belong to the
// catalog's writer. NewWriter writes the same formats back (exports), so that reading its
// output gives the products it was given. The dependency goes one way: importer uses catalog's
// types, and callers hand its readers to catalog.Import (a catalog.ProductReader), its writers
// to catalog.Export (a catalog.ProductWriter), and what ParseProductJSON gives to
// catalog.ParsedProduct.
//
// # Formats
//
// "shopify": Shopify's product CSV, classic or current column names (the alias table is shopifyDialect in shopify.go).
// A product is the run of consecutive rows with the same handle; the first row carries the
// product fields, later rows add variants (if they have an option value, SKU or price) and/or
// images. Required columns: Handle/URL handle, Title, Variant Price/Price.
//   - Handles are trimmed and lower-cased (Shopify's own handles are lower-case; hand-edited
//     files often are not), then must match [a-z0-9]+(-[a-z0-9]+)* and be at most 191 bytes.
//   - Status (active|draft|archived) wins; otherwise Published true/false gives active/draft;
//     with neither the product is active.
//   - "Product Category" "A > B > C" becomes CategoryPath; Shopify's "Uncategorized" is empty.
//   - The single "Title"/"Default Title" option means no options.
//   - Currency is Options.Currency (Shopify exports carry none).
//   - An empty compare-at price, and "0"/"0.00" (what Shopify exports for "none"), give a nil
//     CompareAtPrice. A compare-at price at or below the price is passed on as given.
//   - An empty or absent inventory quantity gives a nil InventoryQty: do not touch stock.
//     Stock must be a whole number >= 0; Shopify allows oversold (negative) stock, and such
//     a row is reported in catalog.ProductInput.Errors rather than imported.
//   - Option names are read from the first row only and apply to all later rows.
//   - Unknown columns (metafields, SEO, Google Shopping, "Option1 Linked To", ...) are ignored.
//   - Image positions that are not positive integers are replaced by the next free position;
//     positions say only an order: the writer stores them as 1, 2, 3... in that order.
//
// "csv": Shelf's own format, one row per variant, grouped by consecutive handle like Shopify:
//
//	handle,title,description,brand,status,category,sku,price,compare_at_price,currency,stock,
//	option1_name,option1_value,option2_name,option2_value,option3_name,option3_value,
//	attributes,image_urls
//
// Column order is free and names are case-insensitive; handle, title, sku and price are
// required columns, the rest optional, and three extra optional columns are read: type, tags
// (tags separated by "|"), and image_alts, the alt texts of image_urls in the same order
// ("|"-separated). Product fields (title ... category, option names, tags, type) come
// from a product's first row; later rows may repeat or leave them empty. category is
// "A > B > C"; attributes is "color=red|material=cotton" (repeat a key for several values);
// image_urls is "url1|url2" (in every such list an item's own | is written \| and its
// backslashes \\: joinPipes); currency defaults to Options.Currency; stock empty = unknown.
// Every row needs a price; a row without a SKU is a SKU-less variant, matched by its options
// on re-import as in Shopify files. Handles must already be valid (no lower-casing). See
// testdata/example.csv.
//
// "ndjson": one JSON object per line:
//
//	{"handle":"tee","title":"Tee","description":"<p>..</p>","brand":"Acme","status":"active",
//	 "type":"Shirts","category":"Apparel > Shirts","tags":["cotton"],
//	 "attributes":{"material":["cotton"]},"images":[{"src":"https://..","alt":"front"}],
//	 "variants":[{"sku":"TEE-M","price":"19.99","compare_at_price":"25.00","currency":"USD",
//	              "stock":10,"options":{"Size":"M","Color":"Red"}}]}
//
// Prices are decimal strings (a JSON number is rejected: it may already have been rounded
// through a float). Handles must already be valid, as in "csv". Variant errors carry the
// variant's 1-based index in catalog.RowError.Variant, since they all share the product's
// line. Option names come from the first variant's options, in file order; every variant must
// use the same names. Unknown fields are ignored; blank lines are skipped; a line
// over MaxLineBytes is reported and skipped.
//
// # Errors
//
// Next returns (nil, *catalog.ProductError) for a product that cannot be imported at all (bad handle,
// no title, no valid variant, handle already used earlier in the file) and carries on with the
// next product. A product some of whose variant rows are bad comes back with those rows in
// catalog.ProductInput.Errors and without them in Variants. A problem with the file itself (not CSV,
// missing required column, not UTF-8 header) is a *catalog.FileError and ends the stream.
package importer

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/shelfcommerce/shelf/internal/catalog"
	"github.com/shelfcommerce/shelf/internal/money"
)

// Reader yields products one at a time. Next returns io.EOF at the end. A product whose own
// fields are invalid comes back as (nil, *catalog.ProductError) and reading continues with the next
// product; a file-level problem comes back as a *catalog.FileError and reading stops.
type Reader interface {
	Next() (*catalog.ProductInput, error)
}

// Options configure a Reader.
type Options struct {
	Currency string // currency of prices that do not name one, e.g. "USD"; required
}

// Limits.
const (
	MaxHandleLen = 191     // bytes; the slug column is VARCHAR(191) for utf8mb4 indexes
	MaxLineBytes = 1 << 20 // ndjson: longest accepted line
	MaxOptions   = 3
)

// NewReader returns a Reader for format "shopify", "csv" or "ndjson".
func NewReader(format string, r io.Reader, opts Options) (Reader, error) {
	cur := strings.ToUpper(strings.TrimSpace(opts.Currency))
	if _, ok := money.Exponent(cur); !ok {
		return nil, fmt.Errorf("importer: unknown default currency %q", opts.Currency)
	}
	opts.Currency = cur
	switch format {
	case "shopify":
		return newCSVReader(r, opts, shopifyDialect), nil
	case "csv":
		return newCSVReader(r, opts, ownDialect), nil
	case "ndjson":
		return newNDJSONReader(r, opts), nil
	}
	return nil, fmt.Errorf("importer: unknown import format %q (want shopify, csv or ndjson)", format)
}

// ValidHandle reports whether h is a valid product slug.
func ValidHandle(h string) bool {
	if len(h) == 0 || len(h) > MaxHandleLen {
		return false
	}
	prevDash := true // no leading dash
	for i := 0; i < len(h); i++ {
		c := h[i]
		switch {
		case c >= 'a' && c <= 'z' || c >= '0' && c <= '9':
			prevDash = false
		case c == '-':
			if prevDash {
				return false
			}
			prevDash = true
		default:
			return false
		}
	}
	return !prevDash
}

func handleError(h string) string {
	switch {
	case h == "":
		return "is required"
	case len(h) > MaxHandleLen:
		return "must be at most " + strconv.Itoa(MaxHandleLen) + " characters"
	}
	return "must contain only a-z, 0-9 and single inner hyphens (like \"blue-t-shirt\")"
}

// normStatus validates a status value; empty is "".
func normStatus(s string) (string, bool) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "":
		return "", true
	case "active":
		return "active", true
	case "draft":
		return "draft", true
	case "archived":
		return "archived", true
	}
	return "", false
}

// splitCategory turns "A > B > C" into {"A","B","C"}.
func splitCategory(s string) []string {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil
	}
	var out []string
	for part := range strings.SplitSeq(s, ">") {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return out
}

// splitList splits on sep, trims, drops empty values and duplicates, keeps
// order. A | list is Shelf's CSV's: its items unescaped (see joinPipes).
func splitList(s string, sep string) []string {
	if strings.TrimSpace(s) == "" {
		return nil
	}
	var parts []string
	if sep == "|" {
		parts = splitPipes(s)
	} else {
		parts = strings.Split(s, sep)
	}
	var out []string
	var seen map[string]bool // only for long lists
	for _, part := range parts {
		if part = strings.TrimSpace(part); part == "" {
			continue
		}
		if seen == nil && len(out) >= 16 {
			seen = make(map[string]bool, 2*len(out))
			for _, o := range out {
				seen[o] = true
			}
		}
		if seen != nil {
			if seen[part] {
				continue
			}
			seen[part] = true
		} else if slices.Contains(out, part) {
			continue
		}
		out = append(out, part)
	}
	return out
}

// parseQty parses a stock quantity: a whole number >= 0; empty is nil (unknown).
func parseQty(s string) (*int64, string) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, ""
	}
	if s[0] == '+' {
		return nil, "must be a whole number"
	}
	v, err := strconv.ParseInt(s, 10, 64)
	switch {
	case err == nil && v < 0, errors.Is(err, strconv.ErrRange) && s[0] == '-':
		return nil, "must not be negative"
	case errors.Is(err, strconv.ErrRange):
		return nil, "is too large"
	case err != nil:
		return nil, "must be a whole number"
	}
	return &v, ""
}

// builder accumulates one product; shared by all formats.
type builder struct {
	p       *catalog.ProductInput
	fatal   []catalog.RowError // errors that reject the whole product
	combos  map[string]int
	skus    map[string]int
	imgSrcs map[string]bool
	nextPos int
	images  int // images offered so far, for images[i] in errors

	// Format readers' per-product state.
	optSlots     []int // CSV option slots (0..2) that have a name, aligned with OptionNames
	defaultTitle bool  // Shopify "Title"/"Default Title": the product has no options
	variantIdx   int   // ndjson: 1-based index of the variant being added
}

func newBuilder(line int, handle string) *builder {
	return &builder{p: &catalog.ProductInput{Line: line, Handle: handle, Status: "active"}}
}

func (b *builder) productErr(line int, field, msg string) {
	b.fatal = append(b.fatal, catalog.RowError{Line: line, Field: field, Message: msg})
}

// text checks that a field is valid UTF-8; MySQL would reject or mangle it otherwise.
func (b *builder) text(line int, field, s string) string {
	if !utf8.ValidString(s) {
		b.productErr(line, field, "is not valid UTF-8 text (save the file as UTF-8)")
		return ""
	}
	return s
}

// setOptionNames sets the product's option names from the non-empty entries of names;
// b.optSlots records the index in names of each accepted name.
func (b *builder) setOptionNames(line int, names []string) {
	count := 0
	for _, n := range names {
		if n != "" {
			count++
		}
	}
	if count > MaxOptions {
		b.productErr(line, "options", "at most 3 options are allowed")
		return
	}
	for k, n := range names {
		if n == "" {
			continue
		}
		if !utf8.ValidString(n) {
			b.productErr(line, "option"+strconv.Itoa(k+1)+"_name", "is not valid UTF-8 text")
			continue
		}
		norm := catalog.AttrName(n)
		for _, prev := range b.p.OptionNames {
			if catalog.AttrName(prev) == norm {
				b.productErr(line, "option"+strconv.Itoa(k+1)+"_name", "repeats option "+strconv.Quote(prev))
			}
		}
		b.p.OptionNames = append(b.p.OptionNames, n)
		b.optSlots = append(b.optSlots, k)
	}
}

// addVariant adds v unless errs is non-empty, in which case the row's errors are recorded.
// It reports whether the variant was kept.
func (b *builder) addVariant(v catalog.VariantInput, errs []catalog.RowError) bool {
	errs = append(errs, variantRules(v)...)
	if len(errs) == 0 {
		if len(b.p.OptionNames) > 0 {
			key := strings.Join(v.Options, "\x00")
			if prev, ok := b.combos[key]; ok {
				where := "of line " + strconv.Itoa(prev)
				if prev == v.Line {
					where = "of an earlier variant"
				}
				errs = append(errs, catalog.RowError{Line: v.Line, SKU: v.SKU, Field: "option1_value",
					Message: "repeats the options " + strconv.Quote(strings.Join(v.Options, " / ")) + " " + where})
			} else {
				if b.combos == nil {
					b.combos = make(map[string]int)
				}
				b.combos[key] = v.Line
			}
		}
		if v.SKU != "" {
			if prev, ok := b.skus[v.SKU]; ok {
				where := "line " + strconv.Itoa(prev)
				if prev == v.Line {
					where = "an earlier variant"
				}
				errs = append(errs, catalog.RowError{Line: v.Line, SKU: v.SKU, Field: "sku",
					Message: "is already used by " + where + " of this product"})
			} else if len(errs) == 0 {
				if b.skus == nil {
					b.skus = make(map[string]int)
				}
				b.skus[v.SKU] = v.Line
			}
		}
	}
	if len(errs) > 0 {
		for i := range errs {
			errs[i].SKU = v.SKU
			if errs[i].Variant == 0 {
				errs[i].Variant = b.variantIdx
			}
		}
		b.p.Errors = append(b.p.Errors, errs...)
		return false
	}
	b.p.Variants = append(b.p.Variants, v)
	for i, val := range v.Options {
		// An option value too long to be a facet value (options take 255
		// characters, facet values 191), or an option whose name cannot name
		// one (non-ASCII, such as "Größe", or over 64 characters), is sold as
		// it is, just not filtered by.
		if i < len(b.p.OptionNames) && utf8.RuneCountInString(strings.TrimSpace(val)) <= catalog.MaxAttributeValue &&
			catalog.ValidAttrName(catalog.AttrName(b.p.OptionNames[i])) {
			b.addAttr(b.p.OptionNames[i], val)
		}
	}
	return true
}

func (b *builder) addAttr(name, val string) {
	name = catalog.AttrName(name)
	val = strings.TrimSpace(val)
	if name == "" || val == "" {
		return
	}
	if b.p.Attributes == nil {
		b.p.Attributes = make(map[string][]string)
	}
	b.p.Attributes[name] = append(b.p.Attributes[name], val)
}

// addImage adds an image; pos <= 0 means "next".
func (b *builder) addImage(src, alt string, pos int) {
	idx := b.images
	b.images++
	src = strings.TrimSpace(src)
	if src == "" || b.imgSrcs[src] {
		return
	}
	// Text in another encoding (a file Excel saved as Windows-1252) is
	// refused as in every other field, not dropped unsaid.
	bad := false
	for _, f := range [...]struct{ name, s string }{{"src", src}, {"alt", alt}} {
		if !utf8.ValidString(f.s) {
			b.productErr(b.p.Line, fmt.Sprintf("images[%d].%s", idx, f.name), "is not valid UTF-8 text (save the file as UTF-8)")
			bad = true
		}
	}
	if bad || !b.imageRules(idx, src, strings.TrimSpace(alt)) {
		return
	}
	if b.imgSrcs == nil {
		b.imgSrcs = make(map[string]bool)
	}
	b.imgSrcs[src] = true
	if pos <= 0 {
		pos = b.nextPos + 1
	}
	b.nextPos = max(b.nextPos, pos)
	b.p.Images = append(b.p.Images, catalog.ImageInput{Src: src, Alt: strings.TrimSpace(alt), Position: pos})
}

// finish returns the product, or a *catalog.ProductError if it cannot be imported.
func (b *builder) finish() (*catalog.ProductInput, error) {
	p := b.p
	b.productRules()
	// Line ends are LF (checked as given above: a lone CR is refused): a
	// CSV reader turns a quoted CR LF into LF, so a description kept with
	// CR LF would not read back the same from the csv and shopify exports
	// (HTML reads both alike).
	p.DescriptionHTML = strings.ReplaceAll(p.DescriptionHTML, "\r\n", "\n")
	if len(b.fatal) == 0 && len(p.Variants) == 0 {
		if len(p.Errors) == 0 {
			b.productErr(p.Line, "price", "is required: the product has no variant")
		} else {
			b.productErr(p.Line, "", "has no valid variant")
		}
	}
	if len(b.fatal) > 0 {
		return nil, &catalog.ProductError{Line: p.Line, Handle: p.Handle, Errors: append(b.fatal, p.Errors...)}
	}
	slices.SortStableFunc(p.Images, func(a, c catalog.ImageInput) int { return a.Position - c.Position })
	for name, vals := range p.Attributes {
		slices.Sort(vals)
		p.Attributes[name] = slices.Clip(slices.Compact(vals))
	}
	return p, nil
}

// seenHandles remembers where each handle first appeared, to catch a product split in two.
type seenHandles map[string]int

func (s seenHandles) check(b *builder) {
	h := b.p.Handle
	if h == "" {
		return
	}
	if prev, ok := s[h]; ok {
		b.productErr(b.p.Line, "handle", strconv.Quote(h)+" already appeared at line "+strconv.Itoa(prev))
		return
	}
	// Clone: h may point into the CSV record, which holds the whole row (description and all).
	s[strings.Clone(h)] = b.p.Line
}

// Shelf's CSV writes a list (tags, images, their alt texts, attributes) in
// one cell, its items separated by |. An item's own | is written \| and its
// backslashes \\, so that any text comes back as it went; a backslash
// before anything else is read as itself, as files written before the
// escapes have it.

// joinPipes is items as one cell.
func joinPipes(items []string) string {
	var b strings.Builder
	for i, it := range items {
		if i > 0 {
			b.WriteByte('|')
		}
		for j := 0; j < len(it); j++ {
			if it[j] == '|' || it[j] == '\\' {
				b.WriteByte('\\')
			}
			b.WriteByte(it[j])
		}
	}
	return b.String()
}

// splitPipes is joinPipes undone: every item, empty ones included.
func splitPipes(s string) []string {
	var out []string
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\' && i+1 < len(s) && (s[i+1] == '|' || s[i+1] == '\\'):
			i++
			b.WriteByte(s[i])
		case c == '|':
			out = append(out, b.String())
			b.Reset()
		default:
			b.WriteByte(c)
		}
	}
	return append(out, b.String())
}
