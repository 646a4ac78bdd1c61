package importer

import (
	"strconv"
	"strings"
)

// Product is one product to write, read from an import file or sent to the
// admin API, before it meets the database.
type Product struct {
	Line            int    // line of the product's first row (header is line 1); for ndjson the line number
	Handle          string // becomes the product slug: [a-z0-9]+(-[a-z0-9]+)*, max 191 bytes
	Title           string
	DescriptionHTML string
	Brand           string   // Shopify: Vendor
	ProductType     string   // Shopify: Type
	Tags            []string // trimmed, de-duplicated, file order
	Status          string   // "active" | "draft" | "archived"
	CategoryPath    []string // e.g. {"Apparel & Accessories","Clothing","Shirts"}; empty = uncategorised
	OptionNames     []string // e.g. {"Size","Color"}; at most 3
	// Attributes are facet values per normalised name (lower-case, "colour" -> "color"): the
	// variants' option values plus explicit attributes (csv/ndjson); values de-duplicated, sorted.
	Attributes map[string][]string
	Variants   []Variant // at least one
	Images     []Image   // sorted by Position, unique Src
	Errors     []RowError
}

// Variant is one sellable variant of a Product.
type Variant struct {
	Line           int
	SKU            string   // may be empty: real Shopify exports have SKU-less variants
	Options        []string // values, aligned with Product.OptionNames
	Price          int64    // minor units of Currency
	CompareAtPrice *int64   // nil = none
	Currency       string   // ISO-4217, upper-case
	InventoryQty   *int64   // nil = the file does not say; do not touch stock
}

// Image is a product image; Position starts at 1.
type Image struct {
	Src, Alt string
	Position int
}

// RowError is one problem on one row. Field uses the API's field names (handle, title, sku,
// price, compare_at_price, stock, status, option1_value, ...); it is empty for row-wide problems.
type RowError struct {
	Line    int
	SKU     string
	Field   string
	Message string // e.g. "must be a decimal number with at most 2 decimal places"
	Variant int    // ndjson: 1-based index in "variants"; 0 otherwise
}

func (e *RowError) Error() string {
	var b strings.Builder
	b.WriteString("line ")
	b.WriteString(strconv.Itoa(e.Line))
	if e.SKU != "" {
		b.WriteString(" (SKU ")
		b.WriteString(strconv.Quote(e.SKU))
		b.WriteString(")")
	}
	if e.Variant > 0 {
		b.WriteString(" variant ")
		b.WriteString(strconv.Itoa(e.Variant))
	}
	b.WriteString(": ")
	if e.Field != "" {
		b.WriteString(e.Field)
		b.WriteString(" ")
	}
	b.WriteString(e.Message)
	return b.String()
}

// ProductError rejects a whole product; Errors has at least one entry.
type ProductError struct {
	Line   int    // first row of the product
	Handle string // as read (may be invalid or empty)
	Errors []RowError
}

func (e *ProductError) Error() string {
	var b strings.Builder
	b.WriteString("product ")
	if e.Handle != "" {
		b.WriteString(strconv.Quote(e.Handle))
	} else {
		b.WriteString("at line " + strconv.Itoa(e.Line))
	}
	b.WriteString(" not imported: ")
	for i := range e.Errors {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(e.Errors[i].Error())
	}
	return b.String()
}

// FileError is a problem with the file as a whole; the Reader returns it from then on.
type FileError struct {
	Line    int // 0 when not known
	Message string
	Err     error // underlying error, if any
}

func (e *FileError) Error() string {
	if e.Line > 0 {
		return "line " + strconv.Itoa(e.Line) + ": " + e.Message
	}
	return e.Message
}

func (e *FileError) Unwrap() error { return e.Err }
