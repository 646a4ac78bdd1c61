package handlers

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/shelfcommerce/shelf/internal/auth"
	"github.com/shelfcommerce/shelf/internal/catalog"
	"github.com/shelfcommerce/shelf/internal/importer"
	"github.com/shelfcommerce/shelf/internal/problem"
)

// productFields are the members a product request may carry. Everything
// else is refused (400), computed members included: id, version, created_at,
// updated_at, price_min, in_stock and a variant's id are the server's.
var productFields = []string{"slug", "title", "description", "brand", "type", "status", "category", "tags", "attributes", "images", "variants"}

// variantFields are the members of one variant in a request. Stock is
// "on_hand" (as the product is shown) or "stock" (as in NDJSON imports).
var variantFields = []string{"sku", "price", "compare_at_price", "currency", "on_hand", "stock", "options"}

// moneyFields and imageFields are the members of a price object and of an
// image: matched exactly, like every other key of a request.
var (
	moneyFields = []string{"amount", "currency"}
	imageFields = []string{"src", "alt", "position"}
)

// onlyKeys reports the keys of raw, when it is an object, that are not in
// allowed (exactly: JSON names are case-sensitive here).
func onlyKeys(raw json.RawMessage, path string, allowed []string, fe *problem.Fields) {
	var m map[string]json.RawMessage
	if json.Unmarshal(raw, &m) != nil {
		return
	}
	for k := range m {
		if !slices.Contains(allowed, k) {
			fe.Add(path+"."+k, "is not a field of this request (fields: "+strings.Join(allowed, ", ")+")")
		}
	}
}

var computedFields = map[string]bool{"id": true, "version": true, "created_at": true, "updated_at": true, "price_min": true, "in_stock": true, "available": true, "option_names": true}

// readProductBody reads a product request, refusing another Content-Type
// (415) and unknown and computed members with a 400 naming them, and returns
// the body and its members. Member names are checked here, exactly (JSON
// names are case-sensitive), so the struct decoding after it cannot match a
// case-folded name.
func readProductBody(c echo.Context) ([]byte, map[string]json.RawMessage, error) {
	if err := requireJSON(c.Request()); err != nil {
		return nil, nil, err
	}
	body, err := io.ReadAll(c.Request().Body)
	if err != nil {
		return nil, nil, err // *http.MaxBytesError: 413
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(body, &m); err != nil || m == nil {
		return nil, nil, problem.New(problem.Invalid, "the request body must be a JSON object")
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
			for k, val := range v {
				if !slices.Contains(variantFields, k) {
					fe.Add("variants["+strconv.Itoa(i)+"]."+k, unknownMsg(k))
				} else if k == "price" || k == "compare_at_price" {
					onlyKeys(val, "variants["+strconv.Itoa(i)+"]."+k, moneyFields, &fe)
				}
			}
		}
	}
	if raw, ok := m["images"]; ok {
		var ims []json.RawMessage
		_ = json.Unmarshal(raw, &ims)
		for i, im := range ims {
			onlyKeys(im, "images["+strconv.Itoa(i)+"]", imageFields, &fe)
		}
	}
	if err := fe.Err(); err != nil {
		return nil, nil, err
	}
	// A status sent as null or "" would mean the default, active: for a
	// PATCH of a draft, that publishes it. A status is only ever named.
	if raw, ok := m["status"]; ok {
		var s *string
		if json.Unmarshal(raw, &s) == nil && (s == nil || strings.TrimSpace(*s) == "") {
			return nil, nil, problem.Field(problem.Unprocessable, "status", "must be active, draft or archived (leave it out for active on a new product)")
		}
	}
	return body, m, nil
}

func unknownMsg(k string) string {
	if computedFields[k] {
		return "is computed by the server and cannot be set"
	}
	return "is not a field of this request"
}

// productRequest is the body of the product writes: an NDJSON import's
// product with the slug for its handle (readProductBody refuses "handle"),
// and variants as variantRequest.
type productRequest struct {
	catalog.ProductJSON
	Slug     string           `json:"slug"`
	Variants []variantRequest `json:"variants"`
}

// variantRequest is one variant of a request. Money may be {"amount":
// "19.99", "currency": "USD"} as the API shows it, or a decimal string;
// stock is "on_hand" (as the product is shown) or "stock" (as in imports).
type variantRequest struct {
	catalog.VariantJSON
	OnHand json.RawMessage `json:"on_hand"`
}

// decodeProduct decodes a body whose members readProductBody checked. A
// member of the wrong JSON type is a 422 naming it.
func decodeProduct(body []byte) (*productRequest, error) {
	var r productRequest
	if err := json.Unmarshal(body, &r); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			return nil, problem.Field(problem.Unprocessable, te.Field, "must not be a JSON "+te.Value)
		}
		return nil, problem.New(problem.Invalid, "the request body is not a valid product")
	}
	return &r, r.oneCurrencyPerVariant()
}

// oneCurrencyPerVariant refuses a variant whose money members name
// different currencies (a price in USD, compare_at_price in EUR): a variant
// has one currency, and neither may silently become the other.
func (r *productRequest) oneCurrencyPerVariant() error {
	var fe problem.Fields
	fe.Kind = problem.Unprocessable
	for i, v := range r.Variants {
		path := "variants[" + strconv.Itoa(i) + "]."
		cur, from := strings.ToUpper(strings.TrimSpace(v.Currency)), "currency"
		for _, m := range []struct {
			name string
			raw  json.RawMessage
		}{{"price", v.Price}, {"compare_at_price", v.CompareAtPrice}} {
			var c string
			amountOf(m.raw, &c)
			c = strings.ToUpper(strings.TrimSpace(c))
			switch {
			case c == "":
			case cur == "":
				cur, from = c, m.name+".currency"
			case c != cur:
				fe.Add(path+m.name+".currency", fmt.Sprintf("is %s, but %s is %s: a variant has one currency", c, path+from, cur))
			}
		}
	}
	return fe.Err()
}

// variants are the request's variants as the import reads them.
func (r *productRequest) variants() []catalog.VariantJSON {
	out := make([]catalog.VariantJSON, len(r.Variants))
	for i, v := range r.Variants {
		jv := v.VariantJSON
		if v.OnHand != nil {
			jv.Stock = v.OnHand
		}
		jv.Price = amountOf(jv.Price, &jv.Currency)
		jv.CompareAtPrice = amountOf(jv.CompareAtPrice, &jv.Currency)
		out[i] = jv
	}
	return out
}

// amountOf is the decimal of a money member: raw itself, or the amount of a
// {"amount", "currency"} object, whose currency (when given) replaces *cur.
func amountOf(raw json.RawMessage, cur *string) json.RawMessage {
	var m struct {
		Amount   json.RawMessage `json:"amount"`
		Currency string          `json:"currency"`
	}
	if bytes.HasPrefix(bytes.TrimSpace(raw), []byte("{")) && json.Unmarshal(raw, &m) == nil {
		if m.Currency != "" {
			*cur = m.Currency
		}
		return m.Amount
	}
	return raw
}

// product is the request as the product to write under slug, checked with
// the NDJSON import's rules.
func (a *API) product(r *productRequest, slug string) (*catalog.ProductInput, error) {
	jp := r.ProductJSON
	jp.Handle, jp.Variants = slug, r.variants()
	return a.parse(&jp)
}

// parse checks a product of the admin API with the NDJSON import's rules
// and returns it to write, or the 422 that names its fields.
func (a *API) parse(jp *catalog.ProductJSON) (*catalog.ProductInput, error) {
	return catalog.ParsedProduct(importer.ParseProductJSON(jp, importer.Options{Currency: a.currency()}))
}

// patch is the request as a patch: the members that were sent.
func (r *productRequest) patch(m map[string]json.RawMessage) catalog.ProductPatch {
	var p catalog.ProductPatch
	str := func(name string, v *string) *string {
		if _, ok := m[name]; ok {
			return v
		}
		return nil
	}
	p.Slug, p.Title, p.Description = str("slug", &r.Slug), str("title", &r.Title), str("description", &r.Description)
	p.Brand, p.Type, p.Status, p.Category = str("brand", &r.Brand), str("type", &r.Type), str("status", &r.Status), str("category", &r.Category)
	if _, ok := m["tags"]; ok {
		p.Tags = &r.Tags
	}
	if _, ok := m["attributes"]; ok {
		p.Attributes = &r.Attributes
	}
	if _, ok := m["images"]; ok {
		p.Images = &r.Images
	}
	if _, ok := m["variants"]; ok {
		vs := r.variants()
		p.Variants = &vs
	}
	return p
}

func (a *API) createProduct(c echo.Context) error {
	body, _, err := readProductBody(c)
	if err != nil {
		return err
	}
	r, err := decodeProduct(body)
	if err != nil {
		return err
	}
	slug := r.Slug
	if slug == "" {
		slug = catalog.Slugify(r.Title)
		// Slugify falls back to "category" for a name with no ASCII letters
		// or digits; a product needs a real slug then.
		// A missing title is reported as such by the validation below.
		if slug == "category" && strings.TrimSpace(r.Title) != "" && !strings.Contains(strings.ToLower(r.Title), "category") {
			return problem.Field(problem.Unprocessable, "slug", "is required when the title has no letters or digits a slug can use")
		}
	}
	return a.writeProduct(c, r, slug, catalog.CreateOnly)
}

func (a *API) putProduct(c echo.Context) error {
	body, m, err := readProductBody(c)
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
	r, err := decodeProduct(body)
	if err != nil {
		return err
	}
	return a.writeProduct(c, r, slug, catalog.Upsert)
}

func (a *API) writeProduct(c echo.Context, r *productRequest, slug string, mode catalog.WriteMode) error {
	p, err := a.product(r, slug)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	// Stock has its own scope: a catalog editor's key cannot change it.
	if catalog.HasStock(p) {
		if err := needInventoryScope(ctx); err != nil {
			return err
		}
	}
	out, outcome, err := catalog.WriteProduct(ctx, a.cfg.Store, p, mode, 0, a.actor(ctx))
	if err != nil {
		return err
	}
	return a.productResponse(c, out, outcome == catalog.Created)
}

// needInventoryScope refuses a write that sets stock for a key without
// inventory:write, with a 403 naming the scope.
func needInventoryScope(ctx context.Context) error {
	if APIKey(ctx).Has(auth.ScopeInventoryWrite) {
		return nil
	}
	return &problem.Error{Kind: problem.Forbidden, Detail: fmt.Sprintf(
		"the API key %q lacks the scope %q, which setting on_hand (or stock) needs; leave it out to edit the product alone", APIKey(ctx).Name, auth.ScopeInventoryWrite),
		Extra: map[string]any{"required_scope": auth.ScopeInventoryWrite}}
}

// actor names the API key in the stock ledger.
func (a *API) actor(ctx context.Context) string { return "api key " + APIKey(ctx).Name }

// productResponse answers a product write with the product and its ETag;
// a created product also gets its Location.
func (a *API) productResponse(c echo.Context, out *catalog.AdminProduct, created bool) error {
	h := c.Response().Header()
	h.Set("ETag", out.ETag())
	h.Set("Cache-Control", "no-store")
	status := http.StatusOK
	if created {
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
	if id, ok := catalog.RefID(ref); ok {
		p, err := catalog.LoadAdminProduct(ctx, a.cfg.Store, id, "")
		if !problem.Is(err, problem.NotFound) || !catalog.ValidSlug(ref) {
			return p, err
		}
	}
	if !catalog.ValidSlug(ref) {
		return nil, problem.New(problem.NotFound, "no such product")
	}
	return catalog.LoadAdminProduct(ctx, a.cfg.Store, 0, ref)
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
	body, m, err := readProductBody(c)
	if err != nil {
		return err
	}
	r, err := decodeProduct(body)
	if err != nil {
		return err
	}
	cur, err := a.productOf(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	for _, v := range r.Variants {
		if v.OnHand != nil || v.Stock != nil {
			if err := needInventoryScope(ctx); err != nil {
				return err
			}
			break
		}
	}
	opts := catalog.PatchOptions{Parse: a.parse, Actor: a.actor(ctx)}
	if im := c.Request().Header.Get("If-Match"); im != "" && strings.TrimSpace(im) != "*" {
		opts.IfMatch = []string{}
		for t := range strings.SplitSeq(im, ",") {
			opts.IfMatch = append(opts.IfMatch, strings.TrimSpace(t))
		}
	}
	out, err := catalog.PatchProduct(ctx, a.cfg.Store, cur.ID, r.patch(m), opts)
	if err != nil {
		return err
	}
	return a.productResponse(c, out, false)
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
