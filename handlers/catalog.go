package handlers

import (
	"net/http"
	"net/url"
	"strings"
	"sync"

	"github.com/labstack/echo/v4"

	"github.com/shelfcommerce/shelf/internal/catalog"
	"github.com/shelfcommerce/shelf/internal/fastgzip"
	"github.com/shelfcommerce/shelf/internal/problem"
)

func (a *API) registerCatalog(e *echo.Echo) {
	e.GET("/v1/products", a.listProducts)
	e.GET("/v1/products/:id_or_slug", a.getProduct)
	e.GET("/v1/categories", a.listCategories)
	e.GET("/v1/categories/:slug", a.getCategory)
}

// listProducts is GET /v1/products: the query string is validated whole
// (unknown parameters are a 400), then one listing page is read, encoded
// and, for a client that takes gzip, gzipped here (internal/fastgzip; the
// gzip middleware skips this route).
func (a *API) listProducts(c echo.Context) error {
	q, err := catalog.ParseListQuery(c.Request().URL.RawQuery, a.storefront.Currency())
	if err != nil {
		return err
	}
	page, err := a.storefront.List(c.Request().Context(), q)
	if err != nil {
		return err
	}
	buf := jsonBuffers.Get().(*[]byte)
	defer jsonBuffers.Put(buf)
	b, err := page.AppendJSON((*buf)[:0])
	if err != nil {
		return err
	}
	// The newline c.JSON's encoder writes, so the body is what it was.
	b = append(b, '\n')
	*buf = b
	c.Response().Header().Add(echo.HeaderVary, echo.HeaderAcceptEncoding)
	if len(b) >= fastgzip.MinSize && acceptsGzip(c.Request().Header.Values(echo.HeaderAcceptEncoding)) {
		zbuf := jsonBuffers.Get().(*[]byte)
		defer jsonBuffers.Put(zbuf)
		*zbuf = fastgzip.Append((*zbuf)[:0], b)
		c.Response().Header().Set(echo.HeaderContentEncoding, "gzip")
		b = *zbuf
	}
	return c.Blob(http.StatusOK, echo.MIMEApplicationJSON, b)
}

// jsonBuffers keeps the buffers listing pages are encoded and gzipped into:
// the response is written before the handler returns them.
var jsonBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 16<<10); return &b }}

// getProduct is GET /v1/products/{id_or_slug}. The body comes rendered (and
// gzipped once) from the storefront's short-lived cache; this handler only
// answers If-None-Match and picks the encoding, so the gzip middleware skips
// this route.
func (a *API) getProduct(c echo.Context) error {
	r, err := a.storefront.ProductPage(c.Request().Context(), c.Param("id_or_slug"))
	if err != nil {
		return err
	}
	h := c.Response().Header()
	h.Set("ETag", r.ETag)
	h.Set("Cache-Control", "public, max-age=0, must-revalidate")
	h.Set(echo.HeaderVary, echo.HeaderAcceptEncoding)
	if etagMatches(c.Request().Header.Get("If-None-Match"), r.ETag) {
		return c.NoContent(http.StatusNotModified)
	}
	body := r.Body
	if acceptsGzip(c.Request().Header.Values(echo.HeaderAcceptEncoding)) {
		if gz := r.Gzip(); gz != nil {
			h.Set(echo.HeaderContentEncoding, "gzip")
			body = gz
		}
	}
	return c.Blob(http.StatusOK, echo.MIMEApplicationJSON, body)
}

// etagMatches implements If-None-Match's weak comparison (RFC 9110 13.1.2):
// any listed tag equal to ours, ignoring W/, or "*".
func etagMatches(header, etag string) bool {
	if header == "" {
		return false
	}
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimSpace(t)
		if t == "*" || strings.TrimPrefix(t, "W/") == etag {
			return true
		}
	}
	return false
}

func (a *API) listCategories(c echo.Context) error {
	if err := noQuery(c); err != nil {
		return err
	}
	t, err := a.storefront.Categories(c.Request().Context())
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, t)
}

func (a *API) getCategory(c echo.Context) error {
	v, err := a.storefront.Category(c.Request().Context(), c.Param("slug"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, v)
}

// noQuery refuses any query parameter on a list endpoint that takes none, so
// a typo never silently means "everything".
func noQuery(c echo.Context) error {
	vals, err := url.ParseQuery(c.Request().URL.RawQuery)
	if err != nil {
		return problem.Field(problem.Invalid, "query", "is not a valid URL query string")
	}
	fe := problem.Fields{Kind: problem.Invalid}
	for k := range vals {
		fe.Add(k, "is not a parameter of this endpoint")
	}
	return fe.Err()
}
