package handlers

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"time"

	"github.com/labstack/echo/v4"
)

type ctxKey int

const requestIDKey ctxKey = iota

// RequestID returns the request id stored in ctx, or "".
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey).(string)
	return id
}

func requestIDOf(c echo.Context) string { return RequestID(c.Request().Context()) }

// requestID takes the client's X-Request-Id when it is a sane token (so a
// storefront can correlate its logs with ours), else makes one, and puts it
// in the response header and in the request's context for every log line.
func requestID(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		req := c.Request()
		id := req.Header.Get(echo.HeaderXRequestID)
		if !validRequestID(id) {
			var b [12]byte
			_, _ = rand.Read(b[:])
			id = hex.EncodeToString(b[:])
		}
		c.Response().Header().Set(echo.HeaderXRequestID, id)
		c.SetRequest(req.WithContext(context.WithValue(req.Context(), requestIDKey, id)))
		return next(c)
	}
}

// validRequestID accepts what tracing systems send (UUIDs, W3C
// traceparent, AWS's "Root=1-...;Parent=...", base64): 1 to 128 printable
// ASCII characters, no space at either end. Control characters and
// anything else are replaced, so no log line or header is forged.
func validRequestID(id string) bool {
	if id == "" || len(id) > 128 || id[0] == ' ' || id[len(id)-1] == ' ' {
		return false
	}
	for i := 0; i < len(id); i++ {
		if ch := id[i]; ch < 0x20 || ch > 0x7e {
			return false
		}
	}
	return true
}

// ContextHandler adds the request id from the context to every record, so
// domain code that logs with slog.InfoContext(ctx, ...) is correlated for free.
type ContextHandler struct{ slog.Handler }

func (h ContextHandler) Handle(ctx context.Context, r slog.Record) error {
	if id := RequestID(ctx); id != "" {
		r.AddAttrs(slog.String("request_id", id))
	}
	return h.Handler.Handle(ctx, r)
}

func (h ContextHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return ContextHandler{h.Handler.WithAttrs(attrs)}
}

func (h ContextHandler) WithGroup(name string) slog.Handler {
	return ContextHandler{h.Handler.WithGroup(name)}
}

// accessLog writes one JSON line per request after the error handler has
// decided the status.
func (a *API) accessLog(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		err := next(c)
		if err != nil {
			c.Error(err) // let the error handler write the response now, so we log its status
		}
		req, res := c.Request(), c.Response()
		level := slog.LevelInfo
		if res.Status >= 500 {
			level = slog.LevelError
		}
		a.log.LogAttrs(req.Context(), level, "request",
			slog.String("method", req.Method),
			slog.String("path", req.URL.Path),
			slog.String("route", c.Path()),
			slog.Int("status", res.Status),
			slog.Int64("bytes", res.Size),
			// Milliseconds: what dashboards and people read, where slog's
			// JSON would print nanoseconds.
			slog.Float64("duration_ms", float64(time.Since(start).Microseconds())/1000),
			slog.String("ip", c.RealIP()),
		)
		return nil
	}
}
