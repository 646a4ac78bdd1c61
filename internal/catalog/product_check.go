package catalog

import (
	"crypto/sha256"
	"database/sql"
	"encoding/binary"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/shelfcommerce/shelf/db"
	"github.com/shelfcommerce/shelf/internal/rules"
)

// checkProduct enforces the column limits the readers do not know about.
func checkProduct(p *ProductInput) []RowError {
	var errs []RowError
	add := func(field, msg string) {
		errs = append(errs, RowError{Line: p.Line, Field: field, Message: msg})
	}
	if utf8.RuneCountInString(p.Title) > 255 {
		add("title", "must be at most 255 characters")
	}
	if len(p.CategoryPath) > MaxCategoryDepth {
		add("category", fmt.Sprintf("has %d levels; categories nest at most %d", len(p.CategoryPath), MaxCategoryDepth))
	}
	for _, name := range p.CategoryPath {
		// A level is a category's name: its rules, checked here so that
		// the product is refused naming the field, not by the database.
		if n := utf8.RuneCountInString(strings.TrimSpace(name)); n > MaxCategoryName {
			add("category", fmt.Sprintf("level %q is %d characters; a category's name is at most %d", name, n, MaxCategoryName))
		} else if msg := rules.Text(name); msg != "" {
			add("category", msg)
		}
	}
	for _, tag := range p.Tags {
		// Tags are kept, and exported, as one comma-separated list, as
		// Shopify's: a tag holding a comma would come back as two.
		if strings.Contains(tag, ",") {
			add("tags", fmt.Sprintf("tag %q must not contain a comma", tag))
		}
	}
	if utf8.RuneCountInString(p.Brand) > 191 {
		add("brand", "must be at most 191 characters")
	}
	if utf8.RuneCountInString(p.ProductType) > 255 {
		add("type", "must be at most 255 characters")
	}
	for i, n := range p.OptionNames {
		if utf8.RuneCountInString(n) > 255 {
			add("option"+strconv.Itoa(i+1)+"_name", "must be at most 255 characters")
		}
	}
	for name, vals := range p.Attributes {
		if !ValidAttrName(name) {
			add("attributes", fmt.Sprintf("name %q must be 1 to %d ASCII characters", name, MaxAttributeName))
		}
		for _, v := range vals {
			if utf8.RuneCountInString(v) > MaxAttributeValue {
				add("attributes", fmt.Sprintf("value of %q must be at most %d characters", name, MaxAttributeValue))
			}
		}
	}
	for _, v := range p.Variants {
		// One currency per product: its listing row, price filters and
		// facets hold one price, the lowest, in one currency.
		if v.Currency != p.Variants[0].Currency {
			errs = append(errs, RowError{Line: v.Line, SKU: v.SKU, Field: "currency",
				Message: fmt.Sprintf("is %s, but the product's first variant is in %s: a product has one currency", v.Currency, p.Variants[0].Currency)})
		}
		for k, o := range v.Options {
			if utf8.RuneCountInString(o) > 255 {
				errs = append(errs, RowError{Line: v.Line, SKU: v.SKU, Field: "option" + strconv.Itoa(k+1) + "_value", Message: "must be at most 255 characters"})
			}
		}
		if len(v.SKU) > 191 {
			errs = append(errs, RowError{Line: v.Line, SKU: v.SKU, Field: "sku", Message: "must be at most 191 bytes"})
		}
	}
	for _, im := range p.Images {
		if len(im.Src) > 2048 || utf8.RuneCountInString(im.Alt) > 512 {
			add("images", "an image URL must be at most 2048 bytes and its alt text 512 characters")
			break
		}
	}
	return errs
}

// numberImages returns p with its images numbered 1, 2, 3... in their
// order (by position, then as given), which is all a position says: the
// stored positions are then what every format writes back, and an export
// imports back unchanged (Shelf's CSV carries the order, not the numbers).
func numberImages(p *ProductInput) *ProductInput {
	in := slices.IsSortedFunc(p.Images, func(a, b ImageInput) int { return a.Position - b.Position })
	for i, im := range p.Images {
		in = in && im.Position == i+1
	}
	if in {
		return p
	}
	cp := *p
	cp.Images = slices.Clone(p.Images)
	slices.SortStableFunc(cp.Images, func(a, b ImageInput) int { return a.Position - b.Position })
	for i := range cp.Images {
		cp.Images[i].Position = i + 1
	}
	return &cp
}

// AttrName is an option or attribute name as it is stored, filtered and
// faceted by: trimmed and lower-cased, British "colour" as "color". Writes
// and storefront queries both go through it.
func AttrName(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	if s == "colour" {
		return "color"
	}
	return s
}

// ValidAttrName reports whether s can name a facet attribute: 1 to
// MaxAttributeName printable ASCII characters.
func ValidAttrName(s string) bool {
	if s == "" || len(s) > MaxAttributeName {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// ContentHash is a digest of everything the writer stores for p. Equal hashes
// mean there is nothing to write. It covers stock as the file states it, so a
// re-run of the same file does not reset stock that orders have taken since.
func ContentHash(p *ProductInput) []byte { return contentHash(p, true) }

// stockFreeHash is what products.stock_free_hash holds for p stored with
// content hash content: the digest of p without any stock (equal for two
// products that differ in their stated stock alone), bound to content. A
// content_hash written without it (by a release before 00201, which knows
// no stock_free_hash, or set NULL) then leaves the pair unmatched, instead
// of letting an older stock-free digest vouch for another content.
func stockFreeHash(content []byte, p *ProductInput) []byte {
	h := sha256.New()
	h.Write(content)
	h.Write(contentHash(p, false))
	return h.Sum(nil)
}

// storedStockFree reports whether a product stored with content_hash
// content and stock_free_hash stockFree is p but for its stated stock.
func storedStockFree(content, stockFree sql.NullString, p *ProductInput) bool {
	return content.Valid && stockFree.Valid && stockFree.String == string(stockFreeHash([]byte(content.String), p))
}

// contentHash is the SHA-256 of p's fields, each string preceded by its
// length and each number as 8 bytes, little-endian. The bytes are gathered
// in one buffer and hashed once (a Write per field through hash.Hash copied
// every string to the heap: a fifth of an unchanged re-import's time).
func contentHash(p *ProductInput, stock bool) []byte {
	buf := make([]byte, 0, 1024)
	str := func(s string) {
		buf = binary.LittleEndian.AppendUint64(buf, uint64(len(s)))
		buf = append(buf, s...)
	}
	num := func(v int64) {
		buf = binary.LittleEndian.AppendUint64(buf, uint64(v))
	}
	list := func(l []string) {
		num(int64(len(l)))
		for _, s := range l {
			str(s)
		}
	}
	str("shelf-product-v1")
	str(p.Handle)
	str(p.Title)
	str(p.DescriptionHTML)
	str(p.Brand)
	str(p.ProductType)
	list(p.Tags)
	str(p.Status)
	list(p.CategoryPath)
	list(p.OptionNames)
	names := make([]string, 0, len(p.Attributes))
	for k := range p.Attributes {
		names = append(names, k)
	}
	slices.Sort(names)
	num(int64(len(names)))
	for _, k := range names {
		str(k)
		list(p.Attributes[k])
	}
	num(int64(len(p.Variants)))
	for _, v := range p.Variants {
		str(v.SKU)
		list(v.Options)
		num(v.Price)
		if v.CompareAtPrice != nil {
			num(1)
			num(*v.CompareAtPrice)
		} else {
			num(0)
		}
		str(v.Currency)
		switch {
		case !stock:
		case v.InventoryQty != nil:
			num(1)
			num(*v.InventoryQty)
		default:
			num(0)
		}
	}
	num(int64(len(p.Images)))
	for _, im := range p.Images {
		str(im.Src)
		str(im.Alt)
		num(int64(im.Position))
	}
	sum := sha256.Sum256(buf)
	return sum[:]
}

// storedAsGiven: the variants' currencies read back as written (CHAR drops
// trailing spaces), and there is at least one variant to take a price from.
func storedAsGiven(vs []VariantInput) bool {
	for _, v := range vs {
		if strings.HasSuffix(v.Currency, " ") {
			return false
		}
	}
	return len(vs) > 0
}

func knownStatus(s string) bool {
	switch db.ProductsStatus(s) {
	case db.ProductsStatusActive, db.ProductsStatusDraft, db.ProductsStatusArchived:
		return true
	}
	return false
}
