package handlers

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/shelfcommerce/shelf/internal/auth"
	"github.com/shelfcommerce/shelf/internal/catalog"
	"github.com/shelfcommerce/shelf/internal/importer"
	"github.com/shelfcommerce/shelf/internal/money"
	"github.com/shelfcommerce/shelf/internal/orders"
	"github.com/shelfcommerce/shelf/internal/problem"
	"github.com/shelfcommerce/shelf/internal/store"
)

func (a *API) registerAdmin(e *echo.Echo) {
	read := a.requireScope(auth.ScopeCatalogRead)
	cat := a.requireScope(auth.ScopeCatalogWrite)
	inv := a.requireScope(auth.ScopeInventoryWrite)
	imp := a.requireScope(auth.ScopeImportsWrite)

	e.POST("/v1/admin/imports", a.importProducts, imp)
	e.GET("/v1/admin/exports", a.exportProducts, read)

	e.POST("/v1/admin/products", a.createProduct, cat)
	// {product} is the id or the slug; PUT creates or replaces by slug. A
	// read-only key reads any product (drafts too), a writer what it wrote.
	e.GET("/v1/admin/products/:product", a.getAdminProduct, a.requireScope(auth.ScopeCatalogRead, auth.ScopeCatalogWrite))
	e.PUT("/v1/admin/products/:product", a.putProduct, cat)
	e.PATCH("/v1/admin/products/:product", a.patchProduct, cat)
	e.DELETE("/v1/admin/products/:product", a.archiveProduct, cat)

	e.POST("/v1/admin/categories", a.createCategory, cat)
	e.PATCH("/v1/admin/categories/:id", a.patchCategory, cat)
	e.DELETE("/v1/admin/categories/:id", a.deleteCategory, cat)

	e.PUT("/v1/admin/inventory/:sku", a.setStock, inv)
	e.POST("/v1/admin/inventory/:sku/adjust", a.adjustStock, inv)
}

// importProducts streams the request body through the importer into the
// catalog writer. A body with a Content-Length is written batch by batch as
// it is parsed (a length over the limit was refused with 413 before any
// read); a chunked body, whose size is unknown until its end, is imported in
// one transaction that commits only once the whole body was read, so a body
// cut off at the limit (413) writes nothing either.
func (a *API) importProducts(c echo.Context) error {
	q := c.QueryParams()
	var fe problem.Fields
	fe.Kind = problem.Invalid
	for name := range q {
		if name != "format" && name != "dry_run" {
			fe.Add(name, "is not a parameter of imports (format, dry_run)")
		}
	}
	format := q.Get("format")
	switch format {
	case "shopify", "csv", "ndjson":
	case "":
		fe.Add("format", "is required: shopify, csv or ndjson")
	default:
		fe.Add("format", "must be shopify, csv or ndjson")
	}
	dryRun := false
	if v := q.Get("dry_run"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			fe.Add("dry_run", "must be true or false")
		}
		dryRun = b
	}
	if err := fe.Err(); err != nil {
		return err
	}
	if err := a.databaseAnswers(c); err != nil {
		return err
	}
	req := c.Request()
	timeout := a.cfg.ImportTimeout
	if timeout <= 0 {
		timeout = time.Hour
	}
	// The server's read and write timeouts are sized for small requests; an
	// import of a large catalog legitimately takes minutes.
	rc := http.NewResponseController(c.Response())
	_ = rc.SetReadDeadline(time.Now().Add(timeout))
	_ = rc.SetWriteDeadline(time.Now().Add(timeout + 30*time.Second))
	ctx, cancel := context.WithTimeout(req.Context(), timeout)
	defer cancel()

	rd, err := importer.NewReader(format, req.Body, importer.Options{Currency: a.currency()})
	if err != nil {
		return err
	}
	rep, err := catalog.Import(ctx, a.cfg.Store, rd, catalog.ImportOptions{
		Actor:   "api key " + APIKey(req.Context()).Name,
		DryRun:  dryRun,
		Atomic:  req.ContentLength < 0,
		NoStock: !APIKey(req.Context()).Has(auth.ScopeInventoryWrite),
		Stop:    a.cfg.Shutdown,
	})
	switch {
	case errors.Is(err, catalog.ErrStopped):
		return problem.New(problem.Unavailable, "the server is shutting down and this import commits only at its end: nothing was written; send it again")
	case err != nil && rep != nil:
		// Earlier batches were committed: the client learns what was written
		// (complete: false) rather than a bare failure.
		a.log.ErrorContext(ctx, "import cut short", "err", err.Error(), "rows_written", rep.Rows)
	case err != nil:
		return err
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.JSON(http.StatusOK, rep)
}

func (a *API) currency() string {
	if a.cfg.Currency != "" {
		return a.cfg.Currency
	}
	return money.DefaultCurrency
}

// stockRequest is the body of PUT /v1/admin/inventory/{sku}.
type stockRequest struct {
	OnHand *int64 `json:"on_hand"`
	Note   string `json:"note"`
}

// adjustRequest is the body of POST /v1/admin/inventory/{sku}/adjust.
type adjustRequest struct {
	Delta  *int64 `json:"delta"`
	Reason string `json:"reason"`
}

func (a *API) setStock(c echo.Context) error {
	var req stockRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	if req.OnHand == nil {
		return problem.Field(problem.Unprocessable, "on_hand", "is required")
	}
	ctx := c.Request().Context()
	res, err := catalog.SetStock(ctx, a.cfg.Store, catalog.StockChange{
		SKU: c.Param("sku"), OnHand: req.OnHand, Reason: "set", Note: req.Note, Actor: "api key " + APIKey(ctx).Name,
	})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, res)
}

func (a *API) adjustStock(c echo.Context) error {
	var req adjustRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	var fe problem.Fields
	if req.Delta == nil {
		fe.Add("delta", "is required (a whole number, negative to remove stock)")
	}
	if req.Reason == "" || len(req.Reason) > 64 {
		fe.Add("reason", "is required: 1 to 64 characters, e.g. \"damaged\" or \"recount\"")
	}
	if err := fe.Err(); err != nil {
		return err
	}
	ctx := c.Request().Context()
	ch := catalog.StockChange{SKU: c.Param("sku"), Delta: *req.Delta, Reason: req.Reason, Actor: "api key " + APIKey(ctx).Name}
	key := c.Request().Header.Get("Idempotency-Key")
	if key == "" {
		res, err := catalog.SetStock(ctx, a.cfg.Store, ch)
		if err != nil {
			return err
		}
		return c.JSON(http.StatusOK, res)
	}
	// A delta applied twice is stock that is not there: with a key, a
	// retry after a lost answer gets the first answer instead.
	request, _ := json.Marshal([]any{"inventory.adjust", ch.SKU, ch.Delta, ch.Reason})
	answer, err := a.orders.Keyed(ctx, orders.ScopeForAPIKey(APIKey(ctx).ID), key, request,
		func(ctx context.Context, save orders.SaveAnswer) (int, []byte, error) {
			var body []byte
			ch.Last = func(ctx context.Context, tx *store.Tx, level catalog.StockLevel) error {
				body, _ = json.Marshal(level)
				body = append(body, '\n') // as c.JSON sends it without a key
				return save(ctx, tx, http.StatusOK, body)
			}
			_, err := catalog.SetStock(ctx, a.cfg.Store, ch)
			return http.StatusOK, body, err
		})
	if err != nil {
		return err
	}
	return replayable(c, answer)
}

// categoryRequest is the body of POST and PATCH /v1/admin/categories. The
// computed fields (id, depth, product_count, version, timestamps) are not in
// it, so a request cannot set them (unknown fields are a 400).
type categoryRequest struct {
	Name     *string         `json:"name"`
	Slug     *string         `json:"slug"`
	ParentID json.RawMessage `json:"parent_id"` // absent: unchanged; null: top level
	Position *int32          `json:"position"`
}

func parentOf(raw json.RawMessage) (move bool, id uint64, err error) {
	if len(raw) == 0 {
		return false, 0, nil
	}
	if string(raw) == "null" {
		return true, 0, nil
	}
	if err := json.Unmarshal(raw, &id); err != nil || id == 0 {
		return false, 0, problem.Field(problem.Unprocessable, "parent_id", "must be a category id, or null for the top level")
	}
	return true, id, nil
}

func (a *API) createCategory(c echo.Context) error {
	var req categoryRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	_, parent, err := parentOf(req.ParentID)
	if err != nil {
		return err
	}
	in := catalog.CategoryInput{ParentID: parent}
	if req.Name != nil {
		in.Name = *req.Name
	}
	if req.Slug != nil {
		in.Slug = *req.Slug
	}
	if req.Position != nil {
		in.Position = *req.Position
	}
	out, err := catalog.AddCategory(c.Request().Context(), a.cfg.Store, in)
	if err != nil {
		return err
	}
	a.storefront.ForgetCategories()
	c.Response().Header().Set(echo.HeaderLocation, "/v1/categories/"+out.Slug)
	return c.JSON(http.StatusCreated, out)
}

func (a *API) patchCategory(c echo.Context) error {
	id, err := strconv.ParseUint(c.Param("id"), 10, 64)
	if err != nil || id == 0 {
		return problem.New(problem.NotFound, "no such category")
	}
	var req categoryRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	move, parent, err := parentOf(req.ParentID)
	if err != nil {
		return err
	}
	out, err := catalog.UpdateCategory(c.Request().Context(), a.cfg.Store, id, catalog.CategoryPatch{
		Name: req.Name, Slug: req.Slug, Position: req.Position, MoveTo: move, ParentID: parent,
	})
	if err != nil {
		return err
	}
	a.storefront.ForgetCategories()
	return c.JSON(http.StatusOK, out)
}

func (a *API) deleteCategory(c echo.Context) error {
	id, err := strconv.ParseUint(c.Param("id"), 10, 64)
	if err != nil || id == 0 {
		return problem.New(problem.NotFound, "no such category")
	}
	if err := catalog.DeleteCategory(c.Request().Context(), a.cfg.Store, id); err != nil {
		return err
	}
	a.storefront.ForgetCategories()
	return c.NoContent(http.StatusNoContent)
}
