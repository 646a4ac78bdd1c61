package handlers

import (
	"context"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/shelfcommerce/shelf/internal/catalog"
	"github.com/shelfcommerce/shelf/internal/importer"
	"github.com/shelfcommerce/shelf/internal/problem"
)

// exportFormats are the export formats with their media type and file
// name extension.
var exportFormats = map[string]struct{ mediaType, ext string }{
	"shopify": {"text/csv; charset=utf-8", "shopify.csv"},
	"csv":     {"text/csv; charset=utf-8", "csv"},
	"ndjson":  {"application/x-ndjson", "ndjson"},
}

// exportProducts is GET /v1/admin/exports: the whole catalog, streamed as
// it is read (memory stays at one page of products), as a file the import
// takes back. Once the first byte is out the status cannot change, so a
// failure midway aborts the connection: the client sees a cut transfer,
// never a short file that looks whole.
func (a *API) exportProducts(c echo.Context) error {
	q := c.QueryParams()
	var fe problem.Fields
	fe.Kind = problem.Invalid
	for name := range q {
		if name != "format" {
			fe.Add(name, "is not a parameter of exports (format)")
		}
	}
	format := q.Get("format")
	kind, ok := exportFormats[format]
	switch {
	case format == "":
		fe.Add("format", "is required: shopify, csv or ndjson")
	case !ok:
		fe.Add("format", "must be shopify, csv or ndjson")
	}
	if err := fe.Err(); err != nil {
		return err
	}
	h := c.Response().Header()
	h.Set(echo.HeaderContentType, kind.mediaType)
	h.Set("Content-Disposition", `attachment; filename="shelf-products-`+time.Now().UTC().Format("20060102-150405")+"."+kind.ext+`"`)
	h.Set("Cache-Control", "no-store")
	// An error before the file's first byte is a problem document, not a file.
	notAFile := func(err error) error {
		h.Del("Content-Disposition")
		h.Del(echo.HeaderContentType)
		return err
	}
	if c.Request().Method == http.MethodHead {
		c.Response().WriteHeader(http.StatusOK)
		return nil
	}
	if err := a.databaseAnswers(c); err != nil {
		return notAFile(err)
	}
	timeout := a.cfg.ImportTimeout
	if timeout <= 0 {
		timeout = time.Hour
	}
	rc := http.NewResponseController(c.Response())
	_ = rc.SetWriteDeadline(time.Now().Add(timeout))
	ctx, cancel := context.WithTimeout(c.Request().Context(), timeout)
	defer cancel()
	// The 200 goes out with the first bytes of the file, once the export's
	// snapshot is open and read from: a database that is not there before
	// then is an ordinary 503 with Retry-After, not a cut download.
	var stats catalog.ExportStats
	fw, err := importer.NewWriter(format, c.Response())
	if err == nil {
		stats, err = catalog.Export(ctx, a.cfg.Store, fw, catalog.ExportOptions{
			Currency: a.cfg.Currency,
			// Flushed only once echo has written: a flush before would send
			// the 200 behind its back (NDJSON buffers its first 64 KiB).
			Progress: func(int, int) {
				if c.Response().Committed {
					_ = rc.Flush()
				}
			},
		})
	}
	switch {
	case err != nil && !c.Response().Committed:
		return notAFile(err)
	case err != nil:
		a.log.ErrorContext(ctx, "export failed midway", "format", format, "products", stats.Products, "err", err.Error())
		panic(http.ErrAbortHandler)
	case !c.Response().Committed: // an empty catalog
		c.Response().WriteHeader(http.StatusOK)
	}
	return nil
}
