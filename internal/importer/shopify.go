package importer

import (
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/shelfcommerce/shelf/internal/catalog"
)

// shopifyDialect is the "shopify" format: Shopify's product CSV, classic and
// current column names, read by the CSV reader of csv.go.
var shopifyDialect = &dialect{
	columns: map[string]int{
		"handle": cHandle, "url handle": cHandle,
		"title":       cTitle,
		"body (html)": cDesc, "description": cDesc,
		"vendor":           cVendor,
		"product category": cCategory,
		"type":             cType,
		"tags":             cTags,
		"published":        cPublished, "published on online store": cPublished,
		"status":       cStatus,
		"option1 name": cOpt1Name, "option1 value": cOpt1Val,
		"option2 name": cOpt2Name, "option2 value": cOpt2Val,
		"option3 name": cOpt3Name, "option3 value": cOpt3Val,
		"variant sku": cSKU, "sku": cSKU,
		"variant price": cPrice, "price": cPrice,
		"variant compare at price": cCompare, "compare-at price": cCompare, "compare at price": cCompare,
		"variant inventory qty": cQty, "inventory quantity": cQty,
		"image src": cImgSrc, "product image url": cImgSrc,
		"image position": cImgPos,
		"image alt text": cImgAlt,
		// Shelf's own: the attributes options do not give (see write.go).
		"shelf attributes": cAttributes,
	},
	required: []int{cHandle, cTitle, cPrice},
	names: [nCols]string{
		cHandle: `"Handle" (or "URL handle")`,
		cTitle:  `"Title"`,
		cPrice:  `"Variant Price" (or "Price")`,
	},
	normHandle: func(s string) string { return strings.ToLower(s) },
	first:      shopifyFirst,
	row:        shopifyRow,
}

func shopifyFirst(r *csvReader, b *builder, rec []string, line int) {
	r.productFields(b, rec, line, ",")
	p := b.p
	if attrs, msg := parseAttrList(r.get(rec, cAttributes)); msg != "" {
		b.productErr(line, "attributes", msg)
	} else {
		for i := 0; i+1 < len(attrs); i += 2 {
			b.addAttr(attrs[i], attrs[i+1])
		}
	}
	if len(p.CategoryPath) == 1 && strings.EqualFold(p.CategoryPath[0], "Uncategorized") {
		p.CategoryPath = nil
	}
	if st := r.get(rec, cStatus); st != "" {
		s, ok := normStatus(st)
		if !ok {
			b.productErr(line, "status", "must be active, draft or archived")
		}
		p.Status = s
	} else {
		switch strings.ToLower(r.get(rec, cPublished)) {
		case "", "true":
			p.Status = "active"
		case "false":
			p.Status = "draft"
		default:
			b.productErr(line, "status", `"Published" must be TRUE or FALSE`)
		}
	}
	n1 := r.get(rec, cOpt1Name)
	if strings.EqualFold(n1, "Title") && strings.EqualFold(r.get(rec, cOpt1Val), "Default Title") &&
		r.get(rec, cOpt2Name) == "" && r.get(rec, cOpt3Name) == "" {
		b.defaultTitle = true
		return
	}
	names := [3]string{n1, r.get(rec, cOpt2Name), r.get(rec, cOpt3Name)}
	b.setOptionNames(line, names[:])
}

func shopifyRow(r *csvReader, b *builder, rec []string, line int) {
	var vals [3]string
	hasOpt := false
	for k, c := range optValCols {
		vals[k] = r.get(rec, c)
		if b.defaultTitle && k == 0 && strings.EqualFold(vals[k], "Default Title") {
			vals[k] = ""
		}
		hasOpt = hasOpt || vals[k] != ""
	}
	sku, price := r.get(rec, cSKU), r.get(rec, cPrice)
	if hasOpt || sku != "" || price != "" {
		v := catalog.VariantInput{Line: line, SKU: sku, Currency: r.opts.Currency}
		var errs []catalog.RowError
		if !utf8.ValidString(sku) {
			v.SKU = strings.ToValidUTF8(sku, "\uFFFD")
			errs = append(errs, catalog.RowError{Line: line, Field: "sku", Message: "is not valid UTF-8 text"})
		}
		errs = readOptions(b, &v, vals, errs, line, "Option%d Name")
		errs = parsePrices(&v, price, r.get(rec, cCompare), errs, line)
		if q, msg := parseQty(r.get(rec, cQty)); msg != "" {
			errs = append(errs, catalog.RowError{Line: line, Field: "stock", Message: msg})
		} else {
			v.InventoryQty = q
		}
		b.addVariant(v, errs)
	}
	if src := r.get(rec, cImgSrc); src != "" {
		pos, err := strconv.Atoi(r.get(rec, cImgPos))
		if err != nil {
			pos = 0
		}
		b.addImage(src, r.get(rec, cImgAlt), pos)
	}
}
