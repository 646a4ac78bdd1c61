package handlers

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/shelfcommerce/shelf/internal/auth"
	"github.com/shelfcommerce/shelf/internal/problem"
)

const keyCtx ctxKey = iota + 100

// APIKey returns the admin key that authenticated this request, if any.
func APIKey(ctx context.Context) *auth.Key {
	k, _ := ctx.Value(keyCtx).(*auth.Key)
	return k
}

// bearer returns the token of an "Authorization: Bearer ..." header.
func bearer(r *http.Request) string {
	h := r.Header.Get(echo.HeaderAuthorization)
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:])
	}
	return ""
}

// optionalAPIKey authenticates the bearer as an admin key when it is one,
// and returns nil (not an error) when it is not: endpoints that also accept
// another kind of bearer (an order's access token) use it.
func (a *API) optionalAPIKey(c echo.Context) (*auth.Key, error) {
	tok := bearer(c.Request())
	if tok == "" || a.keys == nil {
		return nil, nil
	}
	k, err := a.authenticate(c, tok)
	if errors.Is(err, auth.ErrUnknownKey) {
		return nil, nil
	}
	return k, err
}

// authenticate looks tok up under SHELF_DB_TIMEOUT, also on the routes that
// dbDeadline leaves without a deadline (imports, exports, the stream): a
// database that does not answer is a 503 there too, not a request that
// waits for it.
func (a *API) authenticate(c echo.Context, tok string) (*auth.Key, error) {
	ctx, cancel := a.dbContext(c.Request().Context())
	defer cancel()
	return a.keys.Authenticate(ctx, tok)
}

// dbContext is ctx bounded by SHELF_DB_TIMEOUT (unbounded when it is 0):
// the one deadline for database work, which dbDeadline gives whole
// requests and the long-running ones take for their first steps.
func (a *API) dbContext(ctx context.Context) (context.Context, context.CancelFunc) {
	if a.cfg.DBTimeout <= 0 {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, a.cfg.DBTimeout)
}

// keyOf authenticates tok, a bearer that can only be an API key: an address
// that has sent too many unknown keys is refused (429) before the lookup,
// so guessing costs a minute per handful of tries and no database work,
// and an unknown key counts against it and is a 401.
func (a *API) keyOf(c echo.Context, tok string) (*auth.Key, error) {
	ip := c.RealIP()
	if d := a.authFailures.wait(ip); d > 0 {
		return nil, tooManyRequests(c, d, "failed API-key attempts")
	}
	var k *auth.Key
	err := auth.ErrUnknownKey
	if a.keys != nil {
		k, err = a.authenticate(c, tok)
	}
	if errors.Is(err, auth.ErrUnknownKey) {
		a.authFailures.take(ip)
		c.Response().Header().Set("WWW-Authenticate", `Bearer realm="shelf", error="invalid_token"`)
		return nil, problem.New(problem.Unauthorized, "the API key is unknown or revoked")
	}
	return k, err
}

// requireScope admits requests whose bearer is an active API key holding
// scope, or one of the other scopes listed: 401 for a missing or unknown
// key, 403 for a key without any. Every admin write is logged with the
// key's name.
func (a *API) requireScope(scope string, or ...string) echo.MiddlewareFunc {
	scopes := append([]string{scope}, or...)
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			tok := bearer(c.Request())
			if tok == "" {
				c.Response().Header().Set("WWW-Authenticate", `Bearer realm="shelf"`)
				return problem.New(problem.Unauthorized, "an API key is required: Authorization: Bearer <key>")
			}
			k, err := a.keyOf(c, tok)
			if err != nil {
				return err
			}
			if !slices.ContainsFunc(scopes, k.Has) {
				if len(scopes) > 1 {
					return problem.New(problem.Forbidden, "the API key %q has none of the scopes %q", k.Name, strings.Join(scopes, ", "))
				}
				return problem.New(problem.Forbidden, "the API key %q lacks the scope %q", k.Name, scope)
			}
			req := c.Request()
			c.SetRequest(req.WithContext(context.WithValue(req.Context(), keyCtx, k)))
			err = next(c)
			if req.Method != http.MethodGet && req.Method != http.MethodHead {
				if err != nil {
					c.Error(err)
				}
				a.log.InfoContext(c.Request().Context(), "admin write",
					"api_key", k.Name, "api_key_id", k.ID, "method", req.Method, "path", req.URL.Path,
					"status", c.Response().Status)
				return nil
			}
			return err
		}
	}
}

// databaseAnswers pings the database under SHELF_DB_TIMEOUT: the first
// step of the requests that then run without it (imports, exports), so
// that a database that does not answer is a 503 at once rather than a
// request that waits up to SHELF_IMPORT_TIMEOUT for it.
func (a *API) databaseAnswers(c echo.Context) error {
	if a.cfg.DBTimeout <= 0 {
		return nil
	}
	ctx, cancel := a.dbContext(c.Request().Context())
	defer cancel()
	return a.cfg.Store.DB.PingContext(ctx)
}
