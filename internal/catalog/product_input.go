package catalog

import (
	"encoding/json"
	"strconv"
	"strings"
)

// The input of a product write. The admin API and the import files
// (internal/importer's readers) both produce it, and the writer takes it;
// the storefront's Product, Variant and Image are what reading gives.

// ProductInput is one product to write, read from an import file or sent to
// the admin API, before it meets the database: what the writer takes, and
// what an export gives back.
type ProductInput struct {
	Line            int    // line of the product's first row (header is line 1); for ndjson the line number
	Handle          string // becomes the product slug: [a-z0-9]+(-[a-z0-9]+)*, max 191 bytes
	Title           string
	DescriptionHTML string
	Brand           string   // Shopify: Vendor
	ProductType     string   // Shopify: Type
	Tags            []string // trimmed, de-duplicated, file order
	Status          string   // "active" | "draft" | "archived"
	CategoryPath    []string // e.g. {"Apparel & Accessories","Clothing","Shirts"}; empty = uncategorised
	// CategoryID, when set, is the category itself, and CategoryPath only
	// its names: a PATCH without "category" keeps the product where it is,
	// even when a name holds " > " or a sibling has the same name.
	CategoryID  uint64
	OptionNames []string // e.g. {"Size","Color"}; at most 3
	// Attributes are facet values per normalised name (lower-case, "colour" -> "color"): the
	// variants' option values plus explicit attributes (csv/ndjson); values de-duplicated, sorted.
	Attributes map[string][]string
	Variants   []VariantInput // at least one
	Images     []ImageInput   // sorted by Position, unique Src
	Errors     []RowError
}

// VariantInput is one sellable variant of a ProductInput.
type VariantInput struct {
	Line           int
	SKU            string   // may be empty: real Shopify exports have SKU-less variants
	Options        []string // values, aligned with ProductInput.OptionNames
	Price          int64    // minor units of Currency
	CompareAtPrice *int64   // nil = none
	Currency       string   // ISO-4217, upper-case
	InventoryQty   *int64   // nil = the file does not say; do not touch stock
}

// ImageInput is a product image; Position starts at 1.
type ImageInput struct {
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

// FileError is a problem with the file as a whole; a ProductReader returns it from then on.
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

// ImageJSON is one image of a ProductJSON.
type ImageJSON struct {
	Src      string `json:"src"`
	Alt      string `json:"alt"`
	Position int    `json:"position"`
}

// VariantJSON is one variant of a ProductJSON. Prices are decimal strings
// (a JSON number is refused: it may have been rounded); Stock is a JSON
// number, absent or null to leave stock alone; Options keeps its key order.
type VariantJSON struct {
	SKU            string          `json:"sku"`
	Price          json.RawMessage `json:"price"`
	CompareAtPrice json.RawMessage `json:"compare_at_price"`
	Currency       string          `json:"currency"`
	Stock          json.RawMessage `json:"stock"`
	Options        json.RawMessage `json:"options"`
}

// ProductJSON is one product as JSON carries it: a line of an NDJSON import,
// or the body of an admin API write. The importer parses it (its
// ParseProductJSON) with the NDJSON import's rules.
type ProductJSON struct {
	Handle      string                     `json:"handle"`
	Title       string                     `json:"title"`
	Description string                     `json:"description"`
	Brand       string                     `json:"brand"`
	Type        string                     `json:"type"`
	Status      string                     `json:"status"`
	Category    string                     `json:"category"`
	Tags        []string                   `json:"tags"`
	Attributes  map[string]json.RawMessage `json:"attributes"`
	Images      []ImageJSON                `json:"images"`
	Variants    []VariantJSON              `json:"variants"`
}

// ProductReader yields the products of an import file one at a time, for
// Import; internal/importer's readers are ProductReaders. Next returns io.EOF
// at the end. A product whose own fields are invalid comes back as (nil,
// *ProductError) and reading goes on; a problem with the file as a whole
// comes back as a *FileError and reading stops.
type ProductReader interface {
	Next() (*ProductInput, error)
}

// ProductWriter writes products in an import format, for Export;
// internal/importer's writers are ProductWriters.
type ProductWriter interface {
	Write(p *ProductInput) error
	// Flush writes out what is buffered; call it after the last product.
	Flush() error
}

// CurrencylessWriter is a ProductWriter that may write prices without their
// currency (Shopify's product CSV has no currency column: a file reads back
// in the catalog's currency).
type CurrencylessWriter interface {
	ProductWriter
	OmitsCurrency() bool
}
