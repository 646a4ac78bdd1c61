package importer

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/shelfcommerce/shelf/internal/catalog"
	"github.com/shelfcommerce/shelf/internal/money"
)

// Writer writes Products in one of the import formats, so that reading the
// output back gives the same Products: an export is a file the importer
// takes. The Shopify format has no currency and no attributes of its own
// beyond the options, so a lossless copy is "csv" or "ndjson".
type Writer interface {
	Write(p *catalog.ProductInput) error
	// Flush writes out what is buffered; call it after the last product.
	Flush() error
}

// NewWriter returns a writer of format (shopify | csv | ndjson) to w.
func NewWriter(format string, w io.Writer) (Writer, error) {
	switch format {
	case "shopify":
		cw := newCSVWriter(w, shopifyColumns, shopifyRows)
		cw.noCurrency = true
		return cw, nil
	case "csv":
		return newCSVWriter(w, ownColumns, ownRows), nil
	case "ndjson":
		return &ndjsonWriter{w: bufio.NewWriterSize(w, 64<<10)}, nil
	}
	return nil, fmt.Errorf("unknown format %q (want shopify, csv or ndjson)", format)
}

type csvWriter struct {
	w      *csv.Writer
	header []string
	rows   func(p *catalog.ProductInput) [][]string
	wrote  bool
	// noCurrency: the format has no currency column (Shopify's), so its
	// prices read back in the catalog's currency.
	noCurrency bool
}

// OmitsCurrency tells catalog.Export whether the format's prices carry no
// currency (see catalog.CurrencylessWriter).
func (c *csvWriter) OmitsCurrency() bool { return c.noCurrency }

func newCSVWriter(w io.Writer, header []string, rows func(*catalog.ProductInput) [][]string) *csvWriter {
	return &csvWriter{w: csv.NewWriter(w), header: header, rows: rows}
}

func (c *csvWriter) Write(p *catalog.ProductInput) error {
	if !c.wrote {
		c.wrote = true
		if err := c.w.Write(c.header); err != nil {
			return err
		}
	}
	return c.w.WriteAll(c.rows(p)) // WriteAll flushes: memory stays at one product
}

func (c *csvWriter) Flush() error {
	if !c.wrote {
		c.wrote = true
		if err := c.w.Write(c.header); err != nil {
			return err
		}
	}
	c.w.Flush()
	return c.w.Error()
}

func price(v catalog.VariantInput) (string, string) {
	cmp := ""
	if v.CompareAtPrice != nil {
		cmp = money.Format(*v.CompareAtPrice, v.Currency)
	}
	return money.Format(v.Price, v.Currency), cmp
}

func qty(v catalog.VariantInput) string {
	if v.InventoryQty == nil {
		return "" // unknown: a re-import leaves the stock alone
	}
	return strconv.FormatInt(*v.InventoryQty, 10)
}

func option(p *catalog.ProductInput, v catalog.VariantInput, k int) (string, string) {
	if k < len(p.OptionNames) && k < len(v.Options) {
		return p.OptionNames[k], v.Options[k]
	}
	return "", ""
}

// --- Shopify's product CSV (current column names) ---

var shopifyColumns = []string{"Handle", "Title", "Body (HTML)", "Vendor", "Product Category", "Type", "Tags", "Status",
	"Option1 Name", "Option1 Value", "Option2 Name", "Option2 Value", "Option3 Name", "Option3 Value",
	"Variant SKU", "Variant Price", "Variant Compare At Price", "Variant Inventory Qty",
	"Image Src", "Image Position", "Image Alt Text", "Shelf Attributes"}

// shopifyRows is one row per variant, then one per image left over, as
// Shopify exports them; the first row carries the product's fields. A
// product without options has Shopify's "Title: Default Title" option.
func shopifyRows(p *catalog.ProductInput) [][]string {
	n := max(len(p.Variants), len(p.Images))
	rows := make([][]string, n)
	for i := range rows {
		row := make([]string, len(shopifyColumns))
		row[0] = p.Handle
		if i == 0 {
			row[1], row[2], row[3] = p.Title, p.DescriptionHTML, p.Brand
			row[4], row[5] = strings.Join(p.CategoryPath, " > "), p.ProductType
			row[6], row[7] = strings.Join(p.Tags, ", "), p.Status
			row[21] = attrList(statedAttributes(p))
		}
		if i < len(p.Variants) {
			v := p.Variants[i]
			for k := range 3 {
				name, val := option(p, v, k)
				if i == 0 {
					row[8+2*k] = name
				}
				row[9+2*k] = val
			}
			if len(p.OptionNames) == 0 {
				row[9] = "Default Title"
				if i == 0 {
					row[8] = "Title"
				}
			}
			row[14] = v.SKU
			row[15], row[16] = price(v)
			row[17] = qty(v)
		}
		if i < len(p.Images) {
			im := p.Images[i]
			row[18], row[19], row[20] = im.Src, strconv.Itoa(im.Position), im.Alt
		}
		rows[i] = row
	}
	return rows
}

// statedAttributes are p's attributes that its options do not give: those
// a Shopify file has no column for but its extra "Shelf Attributes" (not one
// of Shopify's), so that an export re-imports as the same product.
func statedAttributes(p *catalog.ProductInput) map[string][]string {
	fromOptions := map[string]map[string]bool{}
	for k, n := range p.OptionNames {
		name := catalog.AttrName(n)
		if fromOptions[name] == nil {
			fromOptions[name] = map[string]bool{}
		}
		for _, v := range p.Variants {
			if k < len(v.Options) {
				fromOptions[name][strings.TrimSpace(v.Options[k])] = true
			}
		}
	}
	out := map[string][]string{}
	for name, vals := range p.Attributes {
		for _, v := range vals {
			if !fromOptions[name][v] {
				out[name] = append(out[name], v)
			}
		}
	}
	return out
}

// --- Shelf's own CSV ---

var ownColumns = []string{"handle", "title", "description", "brand", "status", "category", "type", "tags",
	"sku", "price", "compare_at_price", "currency", "stock",
	"option1_name", "option1_value", "option2_name", "option2_value", "option3_name", "option3_value",
	"attributes", "image_urls", "image_alts"}

// ownRows is one row per variant; the product's fields, attributes and
// images are on its first row.
func ownRows(p *catalog.ProductInput) [][]string {
	rows := make([][]string, len(p.Variants))
	for i, v := range p.Variants {
		row := make([]string, len(ownColumns))
		row[0] = p.Handle
		if i == 0 {
			row[1], row[2], row[3], row[4] = p.Title, p.DescriptionHTML, p.Brand, p.Status
			row[5], row[6], row[7] = strings.Join(p.CategoryPath, " > "), p.ProductType, joinPipes(p.Tags)
			row[19] = attrList(p.Attributes)
			srcs, alts := make([]string, len(p.Images)), make([]string, len(p.Images))
			for j, im := range p.Images {
				srcs[j], alts[j] = im.Src, im.Alt
			}
			row[20], row[21] = joinPipes(srcs), joinPipes(alts)
		}
		row[8] = v.SKU
		row[9], row[10] = price(v)
		row[11], row[12] = v.Currency, qty(v)
		for k := range 3 {
			row[13+2*k], row[14+2*k] = option(p, v, k)
		}
		rows[i] = row
	}
	return rows
}

// attrList is "color=red|material=cotton", names sorted (joinPipes).
func attrList(attrs map[string][]string) string {
	names := make([]string, 0, len(attrs))
	for n := range attrs {
		names = append(names, n)
	}
	slices.Sort(names)
	var parts []string
	for _, n := range names {
		for _, v := range attrs[n] {
			parts = append(parts, attrNameReplacer.Replace(n)+"="+v)
		}
	}
	return joinPipes(parts)
}

// attrNameReplacer escapes a name's '=' (and '\'), which a name may hold
// and which would otherwise end it: parseAttrList undoes it.
var attrNameReplacer = strings.NewReplacer(`\`, `\\`, "=", `\=`)

// --- NDJSON ---

type ndjsonWriter struct{ w *bufio.Writer }

// jsonOut is jsonProduct as written: options go through orderedJSON, which
// keeps the option names' order (a map would sort them).
type jsonOut struct {
	Handle      string              `json:"handle"`
	Title       string              `json:"title"`
	Description string              `json:"description,omitempty"`
	Brand       string              `json:"brand,omitempty"`
	Type        string              `json:"type,omitempty"`
	Status      string              `json:"status"`
	Category    string              `json:"category,omitempty"`
	Tags        []string            `json:"tags,omitempty"`
	Attributes  map[string][]string `json:"attributes,omitempty"`
	Images      []catalog.ImageJSON `json:"images,omitempty"`
	Variants    []jsonVariantOut    `json:"variants"`
}

type jsonVariantOut struct {
	SKU            string      `json:"sku,omitempty"`
	Price          string      `json:"price"`
	CompareAtPrice string      `json:"compare_at_price,omitempty"`
	Currency       string      `json:"currency"`
	Stock          *int64      `json:"stock,omitempty"`
	Options        orderedJSON `json:"options,omitempty"`
}

// orderedJSON is a JSON object of strings in the order given.
type orderedJSON [][2]string

func (o orderedJSON) MarshalJSON() ([]byte, error) {
	b := []byte{'{'}
	for i, kv := range o {
		if i > 0 {
			b = append(b, ',')
		}
		k, _ := json.Marshal(kv[0])
		v, _ := json.Marshal(kv[1])
		b = append(append(append(b, k...), ':'), v...)
	}
	return append(b, '}'), nil
}

func (n *ndjsonWriter) Write(p *catalog.ProductInput) error {
	out := jsonOut{Handle: p.Handle, Title: p.Title, Description: p.DescriptionHTML, Brand: p.Brand,
		Type: p.ProductType, Status: p.Status, Category: strings.Join(p.CategoryPath, " > "),
		Tags: p.Tags, Attributes: p.Attributes, Variants: make([]jsonVariantOut, len(p.Variants))}
	for _, im := range p.Images {
		out.Images = append(out.Images, catalog.ImageJSON(im))
	}
	for i, v := range p.Variants {
		jv := jsonVariantOut{SKU: v.SKU, Currency: v.Currency, Stock: v.InventoryQty}
		jv.Price, jv.CompareAtPrice = price(v)
		for k := range p.OptionNames {
			name, val := option(p, v, k)
			jv.Options = append(jv.Options, [2]string{name, val})
		}
		out.Variants[i] = jv
	}
	b, err := json.Marshal(out)
	if err != nil {
		return err
	}
	if _, err := n.w.Write(append(b, '\n')); err != nil {
		return err
	}
	if n.w.Buffered() > 32<<10 {
		return n.w.Flush()
	}
	return nil
}

func (n *ndjsonWriter) Flush() error { return n.w.Flush() }
