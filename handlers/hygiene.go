package handlers

import (
	"net/url"

	"github.com/labstack/echo/v4"

	"github.com/shelfcommerce/shelf/internal/problem"
)

// nosniff tells browsers to believe every response's Content-Type, so
// that no JSON document (which may echo a buyer's or an importer's text)
// is ever sniffed and run as HTML or script.
func nosniff(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		c.Response().Header().Set("X-Content-Type-Options", "nosniff")
		return next(c)
	}
}

// unescapeParams decodes path parameters. echo routes on the escaped path
// whenever it holds an escape that is not the default one (a "%2F" in a
// SKU), and then hands the parameters over still escaped; unescaped here,
// every SKU or slug is addressable: "A B" as A%20B, "A/B" as A%2FB.
func unescapeParams(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if c.Request().URL.RawPath == "" {
			return next(c) // routed on the decoded path: nothing is escaped
		}
		vals := c.ParamValues()
		out := make([]string, len(vals))
		for i, v := range vals {
			u, err := url.PathUnescape(v)
			if err != nil {
				return problem.New(problem.Invalid, "the path has a malformed %%-escape")
			}
			out[i] = u
		}
		c.SetParamValues(out...)
		return next(c)
	}
}
