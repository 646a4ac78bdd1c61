package handlers

import (
	"context"
	_ "embed"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/shelfcommerce/shelf/internal/problem"
	"github.com/shelfcommerce/shelf/internal/store"
)

//go:embed openapi.yaml
var openAPI []byte

// OpenAPI returns the OpenAPI document served at /openapi.yaml.
func OpenAPI() []byte { return openAPI }

func (a *API) registerOps(e *echo.Echo) {
	e.GET("/healthz", healthz)
	e.GET("/readyz", a.readyz)
	if !a.cfg.MetricsElsewhere {
		e.GET("/metrics", a.metrics.handler())
	}
	e.GET("/openapi.yaml", func(c echo.Context) error {
		return c.Blob(http.StatusOK, "application/yaml", openAPI)
	})
}

func healthz(c echo.Context) error {
	return c.JSON(http.StatusOK, map[string]string{"status": "ok"})
}

// Starting is the handler of a process that cannot serve yet: its database
// does not answer, or its schema (or the read node's) is behind the binary.
// /healthz is 200, so a supervisor leaves the process alone; /readyz and
// every other path answer 503 with Retry-After and the reason notReady
// gives, so the balancer sends nothing. `shelf serve` swaps in New's
// handler once Readiness is satisfied.
func Starting(log *slog.Logger, notReady func() error) *echo.Echo {
	a := &API{cfg: Config{Logger: log}, log: log}
	e := echo.New()
	e.HideBanner = true
	e.HidePort = true
	e.HTTPErrorHandler = a.ErrorHandler
	e.Pre(headAsGet)
	e.Use(requestID)
	e.GET("/healthz", healthz)
	e.Any("/*", func(echo.Context) error { return notReady() })
	return e
}

// ReadyCheck reports the schema version of a database that can serve, or
// why it cannot (see store.Store.Ready).
type ReadyCheck func(ctx context.Context) (int64, error)

// Readiness says why a process on the primary cannot serve (a 503 problem
// that names the reason), or nil when it answers (and, on Galera, is
// Synced) with its schema at least at the binary's version want. It
// returns the schema version. A read node is not asked: while it is down
// or behind on migrations, the storefront reads from the primary (see
// store.Store.Watch), so it stops nothing.
func Readiness(ctx context.Context, primary ReadyCheck, want int64) (int64, error) {
	v, err := primary(ctx)
	if err != nil {
		return 0, notReady("the database", err)
	}
	if v < want {
		return v, problem.New(problem.Unavailable, "the schema is at version %d, this binary needs %d: run `shelf migrate up`", v, want)
	}
	return v, nil
}

// readyz is 200 only when Readiness is satisfied, so a load balancer never
// routes to an instance whose queries would fail. Each check dials afresh
// (a pooled connection kept answering while the server refused new ones),
// and is bounded well inside a balancer's usual 2 s check timeout.
func (a *API) readyz(c echo.Context) error {
	ctx, cancel := context.WithTimeout(c.Request().Context(), 1500*time.Millisecond)
	defer cancel()
	if a.cfg.Store == nil {
		return problem.New(problem.Unavailable, "no database configured")
	}
	v, err := Readiness(ctx, a.cfg.Store.Ready, a.cfg.SchemaVersion)
	if err != nil {
		return err
	}
	body := map[string]any{"status": "ready", "schema_version": v}
	if rs := a.cfg.ReadStore; rs != nil && rs != a.cfg.Store {
		// Reported, not required: reads go to the primary while it is down.
		body["read_node"] = "ready"
		if rs.Down() {
			body["read_node"] = "down"
		}
	}
	return c.JSON(http.StatusOK, body)
}

func notReady(what string, err error) error {
	var nr *store.NodeNotReady
	if errors.As(err, &nr) {
		return problem.New(problem.Unavailable, "%s: %s", what, nr.Error())
	}
	return problem.New(problem.Unavailable, "%s does not answer", what)
}
