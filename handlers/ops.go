package handlers

import (
	"context"
	_ "embed"
	"errors"
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
	e.GET("/healthz", func(c echo.Context) error {
		return c.JSON(http.StatusOK, map[string]string{"status": "ok"})
	})
	e.GET("/readyz", a.readyz)
	if !a.cfg.MetricsElsewhere {
		e.GET("/metrics", a.metrics.handler())
	}
	e.GET("/openapi.yaml", func(c echo.Context) error {
		return c.Blob(http.StatusOK, "application/yaml", openAPI)
	})
}

// readyz is 200 only when the database accepts a new connection and answers
// (and, on Galera, the node is ready and Synced) and its schema is at the
// binary's latest migration, so a load balancer never routes to an instance
// whose queries would fail. Each check dials afresh (a pooled connection
// kept answering while the server refused new ones), and is bounded well
// inside a balancer's usual 2 s check timeout.
func (a *API) readyz(c echo.Context) error {
	ctx, cancel := context.WithTimeout(c.Request().Context(), 1500*time.Millisecond)
	defer cancel()
	if a.cfg.Store == nil {
		return problem.New(problem.Unavailable, "no database configured")
	}
	v, err := a.cfg.Store.Ready(ctx)
	if err != nil {
		return notReady("the database", err)
	}
	if rs := a.cfg.ReadStore; rs != nil && rs != a.cfg.Store {
		if _, err := rs.Ready(ctx); err != nil {
			return notReady("the read database (SHELF_MYSQL_READ_DSN)", err)
		}
	}
	if v < a.cfg.SchemaVersion {
		return problem.New(problem.Unavailable, "the schema is at version %d, this binary needs %d: run `shelf migrate up`", v, a.cfg.SchemaVersion)
	}
	return c.JSON(http.StatusOK, map[string]any{"status": "ready", "schema_version": v})
}

func notReady(what string, err error) error {
	var nr *store.NodeNotReady
	if errors.As(err, &nr) {
		return problem.New(problem.Unavailable, "%s: %s", what, nr.Error())
	}
	return problem.New(problem.Unavailable, "%s does not answer", what)
}
