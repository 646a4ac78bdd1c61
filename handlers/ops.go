package handlers

import (
	"context"
	_ "embed"
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

// readyz is 200 only when the database answers and its schema is at the
// binary's latest migration, so a load balancer never routes to an instance
// whose queries would fail.
func (a *API) readyz(c echo.Context) error {
	ctx, cancel := context.WithTimeout(c.Request().Context(), 2*time.Second)
	defer cancel()
	if a.cfg.Store == nil {
		return problem.New(problem.Unavailable, "no database configured")
	}
	if err := a.cfg.Store.DB.PingContext(ctx); err != nil {
		return problem.New(problem.Unavailable, "the database does not answer")
	}
	v, err := store.SchemaVersion(ctx, a.cfg.Store.DB)
	if err != nil {
		return problem.New(problem.Unavailable, "the schema version cannot be read")
	}
	if v < a.cfg.SchemaVersion {
		return problem.New(problem.Unavailable, "the schema is at version %d, this binary needs %d: run `shelf migrate up`", v, a.cfg.SchemaVersion)
	}
	return c.JSON(http.StatusOK, map[string]any{"status": "ready", "schema_version": v})
}
