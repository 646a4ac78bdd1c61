package importer

import (
	"bufio"
	"encoding/csv"
	"errors"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/shelfcommerce/shelf/internal/catalog"
	"github.com/shelfcommerce/shelf/internal/money"
)

// Column identifiers shared by the CSV dialects.
const (
	cHandle = iota
	cTitle
	cDesc
	cVendor
	cCategory
	cType
	cTags
	cPublished
	cStatus
	cOpt1Name
	cOpt1Val
	cOpt2Name
	cOpt2Val
	cOpt3Name
	cOpt3Val
	cSKU
	cPrice
	cCompare
	cQty
	cCurrency
	cImgSrc
	cImgPos
	cImgAlt
	cAttributes
	cImageURLs
	cImageAlts
	nCols
)

// dialect is one CSV flavour: its column names and how it turns rows into a product.
type dialect struct {
	columns  map[string]int // lower-case header name -> column id
	required []int
	names    [nCols]string // display names, for "missing column" errors
	// normHandle maps a handle cell to the grouping key and product handle.
	normHandle func(string) string
	// first reads the product fields of a product's first row.
	first func(r *csvReader, b *builder, rec []string, line int)
	// row reads the variant and image data of every row, the first included.
	row func(r *csvReader, b *builder, rec []string, line int)
}

type csvReader struct {
	cr   *csv.Reader
	d    *dialect
	opts Options
	col  [nCols]int // index in the record, -1 if absent

	started  bool
	err      error // sticky: io.EOF or *catalog.FileError
	pend     []string
	pendLine int
	havePend bool
	seen     seenHandles
}

func newCSVReader(r io.Reader, opts Options, d *dialect) *csvReader {
	br := bufio.NewReaderSize(r, 64<<10)
	if bom, err := br.Peek(3); err == nil && string(bom) == "\xef\xbb\xbf" {
		br.Discard(3)
	}
	cr := csv.NewReader(br)
	cr.ReuseRecord = true
	cr.FieldsPerRecord = -1
	cr.LazyQuotes = false
	return &csvReader{cr: cr, d: d, opts: opts, seen: make(seenHandles)}
}

// get returns the trimmed cell of column id c, "" if the column is absent or the row short.
func (r *csvReader) get(rec []string, c int) string {
	i := r.col[c]
	if i < 0 || i >= len(rec) {
		return ""
	}
	return strings.TrimSpace(rec[i])
}

func (r *csvReader) read() ([]string, int, error) {
	rec, err := r.cr.Read()
	if err != nil {
		if err == io.EOF {
			return nil, 0, io.EOF
		}
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			return nil, 0, &catalog.FileError{Line: pe.Line, Message: "not valid CSV: " + pe.Err.Error(), Err: err}
		}
		return nil, 0, &catalog.FileError{Message: "reading the file: " + err.Error(), Err: err}
	}
	line, _ := r.cr.FieldPos(0)
	return rec, line, nil
}

func (r *csvReader) readHeader() error {
	rec, _, err := r.read()
	if err == io.EOF {
		return &catalog.FileError{Line: 1, Message: "the file is empty: expected a header row"}
	}
	if err != nil {
		return err
	}
	for i := range r.col {
		r.col[i] = -1
	}
	known := 0
	for i, name := range rec {
		if !utf8.ValidString(name) {
			return &catalog.FileError{Line: 1, Message: "the header is not UTF-8 text: save the file as UTF-8"}
		}
		id, ok := r.d.columns[strings.ToLower(strings.TrimSpace(name))]
		if ok && r.col[id] < 0 { // the first of duplicate columns wins
			r.col[id] = i
			known++
		}
	}
	var missing []string
	for _, c := range r.d.required {
		if r.col[c] < 0 {
			missing = append(missing, r.d.names[c])
		}
	}
	if len(missing) > 0 {
		msg := "missing required column " + strings.Join(missing, ", ")
		if known == 0 {
			msg += " (the first row must be the header row)"
		}
		return &catalog.FileError{Line: 1, Message: msg}
	}
	return nil
}

func blank(rec []string) bool {
	for _, f := range rec {
		if strings.TrimSpace(f) != "" {
			return false
		}
	}
	return true
}

func (r *csvReader) Next() (*catalog.ProductInput, error) {
	if r.err != nil {
		return nil, r.err
	}
	if !r.started {
		r.started = true
		if err := r.readHeader(); err != nil {
			r.err = err
			return nil, err
		}
	}
	if !r.havePend {
		for {
			rec, line, err := r.read()
			if err != nil {
				r.err = err
				return nil, err
			}
			if !blank(rec) {
				r.pend = append(r.pend[:0], rec...)
				r.pendLine = line
				break
			}
		}
	}
	r.havePend = false
	first, line := r.pend, r.pendLine
	key := r.d.normHandle(r.get(first, cHandle))
	b := newBuilder(line, key)
	r.seen.check(b)
	r.d.first(r, b, first, line)
	r.d.row(r, b, first, line)
	for {
		rec, line, err := r.read()
		if err == io.EOF {
			r.err = io.EOF
			break
		}
		if err != nil {
			// The rest of the file cannot be trusted, and a product cut short must not be
			// imported as if it were complete.
			r.err = err
			return nil, err
		}
		if blank(rec) {
			continue
		}
		if r.d.normHandle(r.get(rec, cHandle)) != key {
			r.pend = append(r.pend[:0], rec...)
			r.pendLine = line
			r.havePend = true
			break
		}
		r.d.row(r, b, rec, line)
	}
	return b.finish()
}

// productText reads a product-level text cell, checking its encoding.
func (r *csvReader) productText(b *builder, rec []string, line, c int, field string) string {
	return b.text(line, field, r.get(rec, c))
}

// productFields reads the product cells both dialects share from a
// product's first row: handle, title, description, brand, type, tags
// (separated by tagSep) and category.
func (r *csvReader) productFields(b *builder, rec []string, line int, tagSep string) {
	p := b.p
	if !ValidHandle(p.Handle) {
		b.productErr(line, "handle", handleError(p.Handle))
	}
	p.Title = r.productText(b, rec, line, cTitle, "title")
	if p.Title == "" {
		b.productErr(line, "title", "is required")
	}
	p.DescriptionHTML = r.productText(b, rec, line, cDesc, "description")
	p.Brand = r.productText(b, rec, line, cVendor, "brand")
	p.ProductType = r.productText(b, rec, line, cType, "type")
	p.Tags = splitList(r.productText(b, rec, line, cTags, "tags"), tagSep)
	p.CategoryPath = splitCategory(r.productText(b, rec, line, cCategory, "category"))
}

func optValueField(k int) string { return "option" + strconv.Itoa(k+1) + "_value" }

// parsePrices fills the price fields of v; errors go to errs.
func parsePrices(v *catalog.VariantInput, price, compare string, errs []catalog.RowError, line int) []catalog.RowError {
	if price == "" {
		errs = append(errs, catalog.RowError{Line: line, Field: "price", Message: "is required"})
	} else if p, err := money.Parse(price, v.Currency); err != nil {
		errs = append(errs, catalog.RowError{Line: line, Field: "price", Message: err.Error()})
	} else {
		v.Price = p
	}
	if compare != "" {
		if c, err := money.Parse(compare, v.Currency); err != nil {
			errs = append(errs, catalog.RowError{Line: line, Field: "compare_at_price", Message: err.Error()})
		} else if c != 0 {
			v.CompareAtPrice = &c
		}
	}
	return errs
}

var optValCols = [3]int{cOpt1Val, cOpt2Val, cOpt3Val}

// readOptions aligns a row's option values (by CSV slot) with the product's option names.
func readOptions(b *builder, v *catalog.VariantInput, vals [3]string, errs []catalog.RowError, line int, nameCol string) []catalog.RowError {
	if len(b.optSlots) > 0 {
		v.Options = make([]string, len(b.optSlots))
	}
	named := 0
	for k, val := range vals {
		isNamed := named < len(b.optSlots) && b.optSlots[named] == k
		switch {
		case isNamed && val == "":
			errs = append(errs, catalog.RowError{Line: line, Field: optValueField(k), Message: "is required (" + b.p.OptionNames[named] + ")"})
		case isNamed && !utf8.ValidString(val):
			errs = append(errs, catalog.RowError{Line: line, Field: optValueField(k), Message: "is not valid UTF-8 text"})
		case isNamed:
			v.Options[named] = val
		case val != "":
			errs = append(errs, catalog.RowError{Line: line, Field: optValueField(k),
				Message: "has no option name: set " + strings.Replace(nameCol, "%d", strconv.Itoa(k+1), 1) + " on the product's first row"})
		}
		if isNamed {
			named++
		}
	}
	return errs
}

// --- Shelf's own CSV ---

var ownDialect = &dialect{
	columns: map[string]int{
		"handle": cHandle, "title": cTitle, "description": cDesc, "brand": cVendor,
		"status": cStatus, "category": cCategory, "type": cType, "tags": cTags,
		"sku": cSKU, "price": cPrice, "compare_at_price": cCompare, "currency": cCurrency,
		"stock":        cQty,
		"option1_name": cOpt1Name, "option1_value": cOpt1Val,
		"option2_name": cOpt2Name, "option2_value": cOpt2Val,
		"option3_name": cOpt3Name, "option3_value": cOpt3Val,
		"attributes": cAttributes, "image_urls": cImageURLs, "image_alts": cImageAlts,
	},
	required: []int{cHandle, cTitle, cSKU, cPrice},
	names: [nCols]string{
		cHandle: `"handle"`, cTitle: `"title"`, cSKU: `"sku"`, cPrice: `"price"`,
	},
	normHandle: func(s string) string { return s },
	first:      ownFirst,
	row:        ownRow,
}

var optNameCols = [3]int{cOpt1Name, cOpt2Name, cOpt3Name}

func ownFirst(r *csvReader, b *builder, rec []string, line int) {
	r.productFields(b, rec, line, "|")
	p := b.p
	s, ok := normStatus(r.get(rec, cStatus))
	if !ok {
		b.productErr(line, "status", "must be active, draft or archived")
	} else if s != "" {
		p.Status = s
	}
	var names [3]string
	for k, c := range optNameCols {
		names[k] = r.get(rec, c)
	}
	b.setOptionNames(line, names[:])
}

func ownRow(r *csvReader, b *builder, rec []string, line int) {
	v := catalog.VariantInput{Line: line, SKU: r.get(rec, cSKU), Currency: r.opts.Currency}
	var errs []catalog.RowError
	// An empty SKU is allowed, as in Shopify files (the variant is matched by
	// its options on re-import), so that every exported catalog imports back.
	if !utf8.ValidString(v.SKU) {
		v.SKU = strings.ToValidUTF8(v.SKU, "\uFFFD")
		errs = append(errs, catalog.RowError{Line: line, Field: "sku", Message: "is not valid UTF-8 text"})
	}
	// Later rows may repeat the option names, but not change them.
	if line != b.p.Line {
		named := 0
		for k, c := range optNameCols {
			n := r.get(rec, c)
			var want string
			if named < len(b.optSlots) && b.optSlots[named] == k {
				want = b.p.OptionNames[named]
				named++
			}
			if n != "" && n != want {
				errs = append(errs, catalog.RowError{Line: line, Field: "option" + strconv.Itoa(k+1) + "_name",
					Message: "differs from the product's first row (" + strconv.Quote(want) + ")"})
			}
		}
	}
	var vals [3]string
	for k, c := range optValCols {
		vals[k] = r.get(rec, c)
	}
	errs = readOptions(b, &v, vals, errs, line, "option%d_name")
	if cur := r.get(rec, cCurrency); cur != "" {
		v.Currency = strings.ToUpper(cur)
	}
	if _, ok := money.Exponent(v.Currency); !ok {
		errs = append(errs, catalog.RowError{Line: line, Field: "currency", Message: "must be an ISO-4217 code such as USD or EUR"})
	} else {
		errs = parsePrices(&v, r.get(rec, cPrice), r.get(rec, cCompare), errs, line)
	}
	if q, msg := parseQty(r.get(rec, cQty)); msg != "" {
		errs = append(errs, catalog.RowError{Line: line, Field: "stock", Message: msg})
	} else {
		v.InventoryQty = q
	}
	attrs, msg := parseAttrList(r.get(rec, cAttributes))
	if msg != "" {
		errs = append(errs, catalog.RowError{Line: line, Field: "attributes", Message: msg})
	}
	if b.addVariant(v, errs) {
		for i := 0; i+1 < len(attrs); i += 2 {
			b.addAttr(attrs[i], attrs[i+1])
		}
	}
	// image_alts, optional, holds the images' alt texts in the same order.
	alts := splitPipes(r.get(rec, cImageAlts))
	for i, u := range splitPipes(r.get(rec, cImageURLs)) {
		alt := ""
		if i < len(alts) {
			alt = alts[i]
		}
		b.addImage(u, alt, 0) // skips empty and repeated URLs
	}
}

// cutAttr splits name=value at the first '=' of the name that is not
// escaped (see attrNameReplacer): "\=" in a name is '=', "\\" is '\', and
// any other backslash is itself.
func cutAttr(part string) (name, val string, ok bool) {
	var b strings.Builder
	for i := 0; i < len(part); i++ {
		switch c := part[i]; {
		case c == '\\' && i+1 < len(part) && (part[i+1] == '=' || part[i+1] == '\\'):
			i++
			b.WriteByte(part[i])
		case c == '=':
			return b.String(), part[i+1:], true
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), "", false
}

// parseAttrList parses "color=red|material=cotton" into name, value pairs.
func parseAttrList(s string) ([]string, string) {
	if s == "" {
		return nil, ""
	}
	if !utf8.ValidString(s) {
		return nil, "is not valid UTF-8 text"
	}
	var out []string
	for _, part := range splitPipes(s) {
		if strings.TrimSpace(part) == "" {
			continue
		}
		name, val, ok := cutAttr(part)
		name, val = catalog.AttrName(name), strings.TrimSpace(val)
		if !ok || name == "" || val == "" {
			return nil, "must look like color=red|material=cotton; " + strconv.Quote(part) + " does not"
		}
		out = append(out, name, val)
	}
	return out, ""
}
