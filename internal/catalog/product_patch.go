package catalog

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"strings"

	"github.com/shelfcommerce/shelf/internal/money"
	"github.com/shelfcommerce/shelf/internal/problem"
	"github.com/shelfcommerce/shelf/internal/store"
)

// ProductPatch is a partial update of a product (PATCH): each member that is
// not nil replaces the product's, lists (tags, attributes, images, variants)
// whole. Slug, when set, must be the product's: PATCH cannot change it.
type ProductPatch struct {
	Slug        *string
	Title       *string
	Description *string
	Brand       *string
	Type        *string
	Status      *string
	Category    *string
	Tags        *[]string
	Attributes  *map[string]json.RawMessage
	Images      *[]ImageJSON
	Variants    *[]VariantJSON
}

// PatchOptions says who patches and with what precondition.
type PatchOptions struct {
	// IfMatch holds the entity tags of an If-Match header (nil: no
	// precondition); the product must be at the version one of them names.
	IfMatch []string
	// Parse turns the merged product into the one to write, or the 422 that
	// refuses it: ParsedProduct of internal/importer's ParseProductJSON, as
	// for a PUT.
	Parse func(*ProductJSON) (*ProductInput, error)
	Actor string // who, in the stock ledger
}

// PatchProduct applies patch to product id in one transaction: the product
// is locked, read, checked against the precondition, merged with the patch
// and written back through the same writer and the same rules as a PUT, so
// nothing written in between is lost or overwritten unseen. Stock is not
// written back unless the patch's variants carry it: what was on hand when
// the product was read is not a value the client asked for.
func PatchProduct(ctx context.Context, st *store.Store, id uint64, patch ProductPatch, opts PatchOptions) (*AdminProduct, error) {
	// The slug never changes, so it can be read before the transaction; the
	// product is then locked by slug, in the order every writer takes.
	row, err := st.Q.AdminProductByID(ctx, id)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, problem.New(problem.NotFound, "no such product")
	} else if err != nil {
		return nil, err
	}
	var out *AdminProduct
	err = st.InTx(ctx, func(tx *store.Tx) error {
		locked, err := tx.Q.WriterProductsBySlug(ctx, []string{row.Slug})
		if err != nil {
			return err
		}
		if len(locked) == 0 || locked[0].ID != id {
			return problem.New(problem.NotFound, "no such product")
		}
		// The category read below, kept by id, stays until this commits.
		if _, err := tx.Q.ShareCategoryTree(ctx); err != nil {
			return err
		}
		cur, err := loadAdminProduct(ctx, tx.Q, id, "")
		if err != nil {
			return err
		}
		if opts.IfMatch != nil && !slices.ContainsFunc(opts.IfMatch, cur.HasVersionOf) {
			return problem.New(problem.PreconditionFailed, "If-Match %s does not match the product's current ETag: read it again and re-apply your change", strings.Join(opts.IfMatch, ", "))
		}
		if patch.Slug != nil && *patch.Slug != cur.Slug {
			return problem.Field(problem.Unprocessable, "slug", "cannot be changed by PATCH; PUT the product under its new slug")
		}
		jp := patch.apply(baseOf(cur))
		p, err := opts.Parse(&jp)
		if err != nil {
			return err
		}
		if patch.Category == nil && cur.categoryID != 0 {
			p.CategoryID, p.CategoryPath = cur.categoryID, cur.categoryPath
		}
		w := &Writer{Actor: opts.Actor, Reason: "admin"}
		out, _, err = writeOne(ctx, tx, w, p, Replace, cur.Version)
		return err
	})
	return out, err
}

// ParsedProduct takes what internal/importer's ParseProductJSON made of a
// product sent to the admin API (the rules of the NDJSON import: one
// definition of a valid product for both) and returns it to write; any
// problem is a 422 naming the request's fields.
func ParsedProduct(p *ProductInput, err error) (*ProductInput, error) {
	var pe *ProductError
	if errors.As(err, &pe) {
		return nil, rowProblem(pe.Errors, "is not a valid product")
	} else if err != nil {
		return nil, problem.New(problem.Invalid, "the request body is not a valid product")
	}
	if len(p.Errors) > 0 {
		return nil, rowProblem(p.Errors, "is not a valid product")
	}
	return p, nil
}

// rowProblem names import row errors as the admin API's fields: the handle
// is the slug, a variant's field is variants[i].field, and the one
// product-level error without a field ("has no valid variant") is the
// variants'. Without errors it is fallback, for the whole product.
func rowProblem(errs []RowError, fallback string) error {
	var fe problem.Fields
	for _, e := range errs {
		f := e.Field
		switch f {
		case "handle":
			f = "slug"
		case "":
			f = "variants"
		}
		if e.Variant > 0 {
			f = "variants[" + strconv.Itoa(e.Variant-1) + "]." + f
		}
		fe.Add(strings.TrimSuffix(f, "."), e.Message)
	}
	if len(fe.Errors) == 0 {
		fe.Add("", fallback)
	}
	return fe.Err()
}

// apply returns base with the patch's members in place of its own.
func (p ProductPatch) apply(base ProductJSON) ProductJSON {
	replace(&base.Title, p.Title)
	replace(&base.Description, p.Description)
	replace(&base.Brand, p.Brand)
	replace(&base.Type, p.Type)
	replace(&base.Status, p.Status)
	replace(&base.Category, p.Category)
	replace(&base.Tags, p.Tags)
	replace(&base.Attributes, p.Attributes)
	replace(&base.Images, p.Images)
	replace(&base.Variants, p.Variants)
	return base
}

// replace sets *dst to *v when v is not nil.
func replace[T any](dst, v *T) {
	if v != nil {
		*dst = *v
	}
}

// baseOf is the stored product as a write, for a patch to merge into.
// Attributes that come from option values are left out: they follow the
// variants. Stock is left out too, so the writer leaves it alone.
func baseOf(p *AdminProduct) ProductJSON {
	enc := func(v any) json.RawMessage { b, _ := json.Marshal(v); return b }
	optNames := map[string]bool{}
	for _, v := range p.Variants {
		for n := range v.Options {
			optNames[strings.ToLower(n)] = true
		}
	}
	attrs := map[string]json.RawMessage{}
	for k, v := range p.Attributes {
		if !optNames[k] && !(k == "color" && optNames["colour"]) {
			attrs[k] = enc(v)
		}
	}
	images := make([]ImageJSON, 0, len(p.Images))
	for _, im := range p.Images {
		images = append(images, ImageJSON(im))
	}
	vs := make([]VariantJSON, 0, len(p.Variants))
	for _, v := range p.Variants {
		jv := VariantJSON{Price: enc(money.Format(v.Price.Amount, v.Price.Currency)), Currency: v.Price.Currency}
		if v.SKU != nil {
			jv.SKU = *v.SKU
		}
		if v.CompareAtPrice != nil {
			jv.CompareAtPrice = enc(money.Format(v.CompareAtPrice.Amount, v.Price.Currency))
		}
		if len(v.Options) > 0 {
			// The option order is the product's; rebuild the object in it.
			var b bytes.Buffer
			b.WriteByte('{')
			for i, n := range p.OptionNames {
				if i > 0 {
					b.WriteByte(',')
				}
				b.Write(enc(n))
				b.WriteByte(':')
				b.Write(enc(v.Options[n]))
			}
			b.WriteByte('}')
			jv.Options = b.Bytes()
		}
		vs = append(vs, jv)
	}
	return ProductJSON{
		Handle: p.Slug, Title: p.Title, Description: p.Description, Brand: p.Brand, Type: p.Type,
		Status: p.Status, Category: p.Category, Tags: p.Tags, Attributes: attrs, Images: images, Variants: vs,
	}
}
