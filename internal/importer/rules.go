package importer

import (
	"fmt"
	"strconv"

	"github.com/shelfcommerce/shelf/internal/catalog"
	"github.com/shelfcommerce/shelf/internal/rules"
)

// The readers of every format (and so the admin API, which reads a product
// request through the NDJSON reader) apply package rules here, to each
// variant as it is added, each image, and the product's own text when it is
// finished: a control character in a SKU drops that variant with a row
// error, one in a product field or an image that is not http(s) rejects the
// product.

// variantRules are the rule violations of one variant's text.
func variantRules(v catalog.VariantInput) []catalog.RowError {
	var errs []catalog.RowError
	if msg := rules.Text(v.SKU); msg != "" {
		errs = append(errs, catalog.RowError{Line: v.Line, Field: "sku", Message: msg})
	}
	for k, o := range v.Options {
		if msg := rules.Text(o); msg != "" {
			errs = append(errs, catalog.RowError{Line: v.Line, Field: "option" + strconv.Itoa(k+1) + "_value", Message: msg})
		}
	}
	return errs
}

// imageRules checks the idx-th image the file gave the product (0-based).
func (b *builder) imageRules(idx int, src, alt string) bool {
	ok := true
	if msg := rules.ImageURL(src); msg != "" {
		b.productErr(b.p.Line, fmt.Sprintf("images[%d].src", idx), msg)
		ok = false
	}
	if msg := rules.Text(alt); msg != "" {
		b.productErr(b.p.Line, fmt.Sprintf("images[%d].alt", idx), msg)
		ok = false
	}
	return ok
}

// productRules checks the product's own text fields.
func (b *builder) productRules() {
	p := b.p
	check := func(field, msg string) {
		if msg != "" {
			b.productErr(p.Line, field, msg)
		}
	}
	check("title", rules.Text(p.Title))
	check("description", rules.Multiline(p.DescriptionHTML))
	check("brand", rules.Text(p.Brand))
	check("type", rules.Text(p.ProductType))
	for _, t := range p.Tags {
		check("tags", rules.Text(t))
	}
	for _, c := range p.CategoryPath {
		check("category", rules.Text(c))
	}
	for k, n := range p.OptionNames {
		check("option"+strconv.Itoa(k+1)+"_name", rules.Text(n))
	}
	for name, vals := range p.Attributes {
		check("attributes", rules.Text(name))
		for _, v := range vals {
			if msg := rules.Text(v); msg != "" {
				check("attributes", "value of "+strconv.Quote(name)+" "+msg)
			}
		}
	}
}
