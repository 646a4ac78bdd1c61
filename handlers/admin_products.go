package handlers

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/shelfcommerce/shelf/internal/catalog"
	"github.com/shelfcommerce/shelf/internal/importer"
	"github.com/shelfcommerce/shelf/internal/money"
	"github.com/shelfcommerce/shelf/internal/problem"
)

// productFields are the members a product request may carry. Everything
// else is refused (400), computed members included: id, version, created_at,
// updated_at, price_min, in_stock and a variant's id are the server's.
var productFields = []string{"slug", "title", "description", "brand", "type", "status", "category", "tags", "attributes", "images", "variants"}

// variantFields are the members of one variant in a request. Stock is
// "on_hand" (as the product is shown) or "stock" (as in NDJSON imports).
var variantFields = []string{"sku", "price", "compare_at_price", "currency", "on_hand", "stock", "options"}

var computedFields = map[string]bool{"id": true, "version": true, "created_at": true, "updated_at": true, "price_min": true, "in_stock": true, "available": true, "option_names": true}

// readProductBody reads a product request into a member map, refusing
// unknown and computed members with a 400 naming them.
func readProductBody(c echo.Context) (map[string]json.RawMessage, error) {
	body, err := io.ReadAll(c.Request().Body)
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return nil, err
	} else if err != nil {
		return nil, err
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(body, &m); err != nil || m == nil {
		return nil, problem.New(problem.Invalid, "the request body must be a JSON object")
	}
	var fe problem.Fields
	fe.Kind = problem.Invalid
	for k := range m {
		if !slices.Contains(productFields, k) {
			fe.Add(k, unknownMsg(k))
		}
	}
	if raw, ok := m["variants"]; ok {
		var vs []map[string]json.RawMessage
		if err := json.Unmarshal(raw, &vs); err != nil {
			fe.Add("variants", "must be an array of objects")
		}
		for i, v := range vs {
			for k := range v {
				if !slices.Contains(variantFields, k) {
					fe.Add("variants["+strconv.Itoa(i)+"]."+k, unknownMsg(k))
				}
			}
		}
	}
	return m, fe.Err()
}

func unknownMsg(k string) string {
	if computedFields[k] {
		return "is computed by the server and cannot be set"
	}
	return "is not a field of this request"
}

// toImporterProduct validates a member map with the NDJSON import's rules
// (one definition of a valid product for imports and the API) and returns
// the product. Money may be {"amount": "19.99", "currency": "USD"} as the API
// shows it, or a decimal string.
func (a *API) toImporterProduct(m map[string]json.RawMessage, slug string) (*importer.Product, error) {
	line := map[string]any{}
	for k, v := range m {
		line[k] = v
	}
	delete(line, "slug")
	line["handle"] = slug
	if raw, ok := m["variants"]; ok {
		var vs []map[string]json.RawMessage
		_ = json.Unmarshal(raw, &vs)
		out := make([]map[string]json.RawMessage, len(vs))
		for i, v := range vs {
			o := map[string]json.RawMessage{}
			for k, val := range v {
				switch k {
				case "price", "compare_at_price":
					var mon struct {
						Amount   json.RawMessage `json:"amount"`
						Currency string          `json:"currency"`
					}
					if bytes.HasPrefix(bytes.TrimSpace(val), []byte("{")) && json.Unmarshal(val, &mon) == nil {
						o[k] = mon.Amount
						if mon.Currency != "" {
							o["currency"], _ = json.Marshal(mon.Currency)
						}
						continue
					}
					o[k] = val
				case "on_hand":
					o["stock"] = val
				default:
					if _, set := o[k]; !set || k != "currency" {
						o[k] = val
					}
				}
			}
			out[i] = o
		}
		line["variants"] = out
	}
	data, err := json.Marshal(line)
	if err != nil {
		return nil, problem.New(problem.Invalid, "the request body is not valid JSON")
	}
	rd, err := importer.NewReader("ndjson", bytes.NewReader(data), importer.Options{Currency: a.currency()})
	if err != nil {
		return nil, err
	}
	p, err := rd.Next()
	var pe *importer.ProductError
	if errors.As(err, &pe) {
		return nil, fieldsOf(pe.Errors)
	} else if err != nil {
		return nil, problem.New(problem.Invalid, "the request body is not a valid product")
	}
	if len(p.Errors) > 0 {
		return nil, fieldsOf(p.Errors)
	}
	return p, nil
}

func fieldsOf(errs []importer.RowError) error {
	var fe problem.Fields
	for _, e := range errs {
		f := e.Field
		switch f {
		case "handle":
			f = "slug"
		case "":
			f = "variants" // "has no valid variant", the one product-level error without a field
		}
		if e.Variant > 0 {
			f = "variants[" + strconv.Itoa(e.Variant-1) + "]." + f
		}
		fe.Add(strings.TrimSuffix(f, "."), e.Message)
	}
	if len(fe.Errors) == 0 {
		fe.Add("", "is not a valid product")
	}
	return fe.Err()
}

func (a *API) createProduct(c echo.Context) error {
	m, err := readProductBody(c)
	if err != nil {
		return err
	}
	var slug string
	if raw, ok := m["slug"]; ok {
		_ = json.Unmarshal(raw, &slug)
	}
	if slug == "" {
		var title string
		_ = json.Unmarshal(m["title"], &title)
		slug = catalog.Slugify(title)
		// Slugify falls back to "category" for a name with no ASCII letters
		// or digits; a product needs a real slug then.
		// A missing title is reported as such by the validation below.
		if slug == "category" && strings.TrimSpace(title) != "" && !strings.Contains(strings.ToLower(title), "category") {
			return problem.Field(problem.Unprocessable, "slug", "is required when the title has no letters or digits a slug can use")
		}
	}
	return a.writeProduct(c, m, slug, catalog.CreateOnly, 0)
}

func (a *API) putProduct(c echo.Context) error {
	m, err := readProductBody(c)
	if err != nil {
		return err
	}
	slug := c.Param("product")
	if raw, ok := m["slug"]; ok {
		var s string
		if json.Unmarshal(raw, &s) != nil || s != slug {
			return problem.Field(problem.Unprocessable, "slug", "must equal the slug in the path (or be left out)")
		}
	}
	return a.writeProduct(c, m, slug, catalog.Upsert, 0)
}

func (a *API) writeProduct(c echo.Context, m map[string]json.RawMessage, slug string, mode catalog.WriteMode, ifVersion uint64) error {
	p, err := a.toImporterProduct(m, slug)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	out, outcome, err := catalog.WriteProduct(ctx, a.cfg.Store, p, mode, ifVersion, "api key "+APIKey(ctx).Name)
	if err != nil {
		return err
	}
	h := c.Response().Header()
	h.Set("ETag", out.ETag())
	h.Set("Cache-Control", "no-store")
	status := http.StatusOK
	if outcome == catalog.Created {
		status = http.StatusCreated
		h.Set(echo.HeaderLocation, "/v1/admin/products/"+strconv.FormatUint(out.ID, 10))
	}
	return c.JSON(status, out)
}

// productOf is the product that the path's {product} names, drafts and
// archived ones included: its id, or else its slug, as on the storefront (an
// all-digit value is tried as an id first, then as a slug such as "1984").
func (a *API) productOf(c echo.Context) (*catalog.AdminProduct, error) {
	ref := c.Param("product")
	ctx := c.Request().Context()
	if id, err := strconv.ParseUint(ref, 10, 64); err == nil && id > 0 {
		p, err := catalog.LoadAdminProduct(ctx, a.cfg.Store.Q, id, "")
		if !problem.Is(err, problem.NotFound) || !catalog.ValidSlug(ref) {
			return p, err
		}
	}
	if !catalog.ValidSlug(ref) {
		return nil, problem.New(problem.NotFound, "no such product")
	}
	return catalog.LoadAdminProduct(ctx, a.cfg.Store.Q, 0, ref)
}

// getAdminProduct is the product as the writes return it, with its ETag for
// If-Match: the target of a created product's Location, and the only way to
// read a draft or archived product.
func (a *API) getAdminProduct(c echo.Context) error {
	p, err := a.productOf(c)
	if err != nil {
		return err
	}
	h := c.Response().Header()
	h.Set("ETag", p.ETag())
	h.Set("Cache-Control", "no-store")
	return c.JSON(http.StatusOK, p)
}

// patchProduct applies a partial update: the members sent replace the
// product's (variants, images, tags and attributes as whole lists); the
// slug cannot change here (PUT the new slug instead). If-Match with the
// product's ETag makes it conditional: a stale tag is a 412.
func (a *API) patchProduct(c echo.Context) error {
	m, err := readProductBody(c)
	if err != nil {
		return err
	}
	cur, err := a.productOf(c)
	if err != nil {
		return err
	}
	var ifVersion uint64
	if im := c.Request().Header.Get("If-Match"); im != "" && strings.TrimSpace(im) != "*" {
		if !ifMatchHolds(im, cur) {
			return problem.New(problem.PreconditionFailed, "If-Match %s does not match the product's current ETag: read it again and re-apply your change", im)
		}
		ifVersion = cur.Version
	}
	if raw, ok := m["slug"]; ok {
		var s string
		if json.Unmarshal(raw, &s) != nil || s != cur.Slug {
			return problem.Field(problem.Unprocessable, "slug", "cannot be changed by PATCH; PUT the product under its new slug")
		}
	}
	base := baseOf(cur)
	for k, v := range m {
		base[k] = v
	}
	return a.writeProduct(c, base, cur.Slug, catalog.Replace, ifVersion)
}

// ifMatchHolds reports whether an If-Match header (a list of entity tags)
// names the product's current version.
func ifMatchHolds(header string, p *catalog.AdminProduct) bool {
	for t := range strings.SplitSeq(header, ",") {
		if p.HasVersionOf(strings.TrimSpace(t)) {
			return true
		}
	}
	return false
}

// baseOf is the stored product as a request, for PATCH to merge into.
// Attributes that come from option values are left out: they follow the
// variants. Stock is left out too, so the writer leaves it alone: it was read
// outside the write's transaction, and writing it back would undo the orders
// and adjustments made in between.
func baseOf(p *catalog.AdminProduct) map[string]json.RawMessage {
	enc := func(v any) json.RawMessage { b, _ := json.Marshal(v); return b }
	attrs := map[string][]string{}
	optNames := map[string]bool{}
	for _, v := range p.Variants {
		for n := range v.Options {
			optNames[strings.ToLower(n)] = true
		}
	}
	for k, v := range p.Attributes {
		if !optNames[k] && !(k == "color" && optNames["colour"]) {
			attrs[k] = v
		}
	}
	type reqVariant struct {
		SKU            *string         `json:"sku,omitempty"`
		Price          string          `json:"price"`
		CompareAtPrice *string         `json:"compare_at_price,omitempty"`
		Currency       string          `json:"currency"`
		Options        json.RawMessage `json:"options,omitempty"`
	}
	names := p.OptionNames
	vs := make([]reqVariant, 0, len(p.Variants))
	for _, v := range p.Variants {
		rv := reqVariant{SKU: v.SKU, Price: money.Format(v.Price.Amount, v.Price.Currency), Currency: v.Price.Currency}
		if v.CompareAtPrice != nil {
			s := money.Format(v.CompareAtPrice.Amount, v.Price.Currency)
			rv.CompareAtPrice = &s
		}
		if len(v.Options) > 0 {
			// The option order is the product's; rebuild the object in it.
			var b bytes.Buffer
			b.WriteByte('{')
			for i, n := range names {
				if i > 0 {
					b.WriteByte(',')
				}
				b.Write(enc(n))
				b.WriteByte(':')
				b.Write(enc(v.Options[n]))
			}
			b.WriteByte('}')
			rv.Options = b.Bytes()
		}
		vs = append(vs, rv)
	}
	return map[string]json.RawMessage{
		"title": enc(p.Title), "description": enc(p.Description), "brand": enc(p.Brand), "type": enc(p.Type),
		"status": enc(p.Status), "category": enc(p.Category), "tags": enc(p.Tags), "attributes": enc(attrs),
		"images": enc(p.Images), "variants": enc(vs),
	}
}

func (a *API) archiveProduct(c echo.Context) error {
	p, err := a.productOf(c)
	if err != nil {
		return err
	}
	if err := catalog.ArchiveProduct(c.Request().Context(), a.cfg.Store, p.ID); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}
