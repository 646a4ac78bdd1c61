package handlers

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/shelfcommerce/shelf/internal/auth"
	"github.com/shelfcommerce/shelf/internal/problem"
	"github.com/shelfcommerce/shelf/internal/webhooks"
)

func (a *API) registerWebhooks(e *echo.Echo) {
	wh := a.requireScope(auth.ScopeWebhooksWrite)
	e.POST("/v1/admin/webhooks", a.createWebhook, wh)
	e.GET("/v1/admin/webhooks", a.listWebhooks, wh)
	e.GET("/v1/admin/webhooks/:id", a.getWebhook, wh)
	e.DELETE("/v1/admin/webhooks/:id", a.deleteWebhook, wh)
	e.GET("/v1/admin/webhooks/:id/deliveries", a.listDeliveries, wh)
}

// webhookRequest is the body of POST /v1/admin/webhooks.
type webhookRequest struct {
	URL         string   `json:"url"`
	Events      []string `json:"events"`
	Description string   `json:"description"`
}

func (a *API) createWebhook(c echo.Context) error {
	var req webhookRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	w, err := a.webhooks.Register(c.Request().Context(), webhooks.Registration{
		URL: req.URL, Events: req.Events, Description: req.Description,
	})
	if err != nil {
		return err
	}
	c.Response().Header().Set("Cache-Control", "no-store") // it carries the secret
	c.Response().Header().Set(echo.HeaderLocation, "/v1/admin/webhooks/"+strconv.FormatUint(w.ID, 10))
	return c.JSON(http.StatusCreated, w)
}

func (a *API) listWebhooks(c echo.Context) error {
	cursor, limit, err := pageParams(c)
	if err != nil {
		return err
	}
	page, err := a.webhooks.List(c.Request().Context(), cursor, limit)
	if err != nil {
		return err
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.JSON(http.StatusOK, page)
}

func (a *API) getWebhook(c echo.Context) error {
	id, err := webhookID(c)
	if err != nil {
		return err
	}
	w, err := a.webhooks.Get(c.Request().Context(), id)
	if err != nil {
		return err
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.JSON(http.StatusOK, w)
}

func (a *API) deleteWebhook(c echo.Context) error {
	id, err := webhookID(c)
	if err != nil {
		return err
	}
	if err := a.webhooks.Delete(c.Request().Context(), id); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

func (a *API) listDeliveries(c echo.Context) error {
	id, err := webhookID(c)
	if err != nil {
		return err
	}
	cursor, limit, err := pageParams(c)
	if err != nil {
		return err
	}
	page, err := a.webhooks.Deliveries(c.Request().Context(), id, cursor, limit)
	if err != nil {
		return err
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.JSON(http.StatusOK, page)
}

// webhookID reads the {id} of a webhook route; anything but a positive
// whole number names no webhook.
func webhookID(c echo.Context) (uint64, error) {
	id, err := strconv.ParseUint(c.Param("id"), 10, 64)
	if err != nil || id == 0 {
		return 0, problem.New(problem.NotFound, "there is no webhook %q", c.Param("id"))
	}
	return id, nil
}

// pageParams reads the query of a list that knows only limit (1 to 100,
// default 24) and cursor; any other parameter is a 400.
func pageParams(c echo.Context) (cursor string, limit int, err error) {
	q := c.QueryParams()
	fe := problem.Fields{Kind: problem.Invalid}
	for name, vs := range q {
		switch {
		case name != "limit" && name != "cursor":
			fe.Add(name, "is not a parameter of this list (limit, cursor)")
		case len(vs) > 1:
			fe.Add(name, "must be given once")
		}
	}
	cursor, limit = listPage(q, &fe)
	return cursor, limit, fe.Err()
}

// listPage reads the limit (1 to 100, default 24) and cursor of an admin
// list, adding what is wrong with them to fe. A parameter given empty
// ("limit=", "cursor=") is an error, as on the storefront, not the default.
func listPage(q url.Values, fe *problem.Fields) (cursor string, limit int) {
	limit = 24
	if vs, ok := q["limit"]; ok {
		n, err := strconv.Atoi(strings.TrimSpace(vs[0]))
		if err != nil || n < 1 || n > 100 {
			fe.Add("limit", "must be a whole number from 1 to 100")
		}
		limit = n
	}
	if vs, ok := q["cursor"]; ok {
		if cursor = vs[0]; cursor == "" {
			fe.Add("cursor", "must be the next_cursor of a previous page")
		}
	}
	return cursor, limit
}
