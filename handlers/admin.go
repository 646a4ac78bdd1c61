package handlers

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/shelfcommerce/shelf/internal/auth"
	"github.com/shelfcommerce/shelf/internal/catalog"
	"github.com/shelfcommerce/shelf/internal/problem"
)

func (a *API) registerAdmin(e *echo.Echo) {
	cat := a.requireScope(auth.ScopeCatalogWrite)
	inv := a.requireScope(auth.ScopeInventoryWrite)
	imp := a.requireScope(auth.ScopeImportsWrite)

	e.POST("/v1/admin/imports", a.importProducts, imp)

	e.POST("/v1/admin/products", a.createProduct, cat)
	e.PUT("/v1/admin/products/:slug", a.putProduct, cat)
	e.PATCH("/v1/admin/products/:id", a.patchProduct, cat)
	e.DELETE("/v1/admin/products/:id", a.archiveProduct, cat)

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

	rep, err := catalog.Import(ctx, a.cfg.Store, req.Body, catalog.ImportOptions{
		Format:   format,
		Currency: a.currency(),
		Actor:    "api key " + APIKey(req.Context()).Name,
		DryRun:   dryRun,
		Atomic:   req.ContentLength < 0,
	})
	var fileErr *catalog.ErrFile
	if errors.As(err, &fileErr) {
		return &problem.Error{Kind: problem.Invalid, Detail: "the file cannot be imported: " + fileErr.Error(),
			Extra: map[string]any{"line": fileErr.Line}}
	}
	if err != nil {
		return err
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.JSON(http.StatusOK, rep)
}

func (a *API) currency() string {
	if a.cfg.Currency != "" {
		return a.cfg.Currency
	}
	return "USD"
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
	res, err := catalog.SetStock(ctx, a.cfg.Store, catalog.StockChange{
		SKU: c.Param("sku"), Delta: *req.Delta, Reason: req.Reason, Actor: "api key " + APIKey(ctx).Name,
	})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, res)
}
