package handlers

import (
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/shelfcommerce/shelf/internal/auth"
	"github.com/shelfcommerce/shelf/internal/orders"
	"github.com/shelfcommerce/shelf/internal/problem"
)

func (a *API) registerOrders(e *echo.Echo) {
	e.POST("/v1/orders", a.placeOrder)
	e.GET("/v1/orders/:id", a.getOrder)
	e.POST("/v1/orders/:id/cancel", a.cancelOrder)

	read := a.requireScope(auth.ScopeOrdersRead)
	write := a.requireScope(auth.ScopeOrdersWrite)
	e.GET("/v1/admin/orders", a.listOrders, read)
	e.POST("/v1/admin/orders/:id/pay", a.moveOrder(orders.Pay), write)
	e.POST("/v1/admin/orders/:id/fulfill", a.moveOrder(orders.Fulfill), write)
	e.POST("/v1/admin/orders/:id/cancel", a.moveOrder(orders.Cancel), write)
	e.POST("/v1/admin/orders/:id/refund", a.moveOrder(orders.Refund), write)
}

// placeOrderRequest is the body of POST /v1/orders. It is request-only: it
// has no id, price, total or status for a client to set.
type placeOrderRequest struct {
	Email string `json:"email"`
	Lines []struct {
		SKU      string `json:"sku"`
		Quantity int    `json:"quantity"`
	} `json:"lines"`
	ShippingAddress *orders.Address `json:"shipping_address"`
}

func (a *API) placeOrder(c echo.Context) error {
	key := c.Request().Header.Get("Idempotency-Key")
	if key == "" {
		return problem.Field(problem.Invalid, "Idempotency-Key", "header is required: send a new random key (e.g. a UUID) per order, and the same one on a retry")
	}
	if !orders.ValidKey(key) {
		return problem.Field(problem.Invalid, "Idempotency-Key", "header must be 1 to 255 visible ASCII characters")
	}
	k, err := a.optionalAPIKey(c)
	if err != nil {
		return err
	}
	var req placeOrderRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	in := orders.PlaceInput{Email: req.Email}
	for _, l := range req.Lines {
		in.Lines = append(in.Lines, orders.LineInput{SKU: l.SKU, Quantity: l.Quantity})
	}
	if req.ShippingAddress != nil {
		in.ShippingAddress = *req.ShippingAddress
	}
	scope := orders.ScopeForEmail(req.Email)
	if k != nil {
		scope = orders.ScopeForAPIKey(k.ID)
	}
	p := orders.PlaceParams{Scope: scope, Key: key, Input: in}
	// Anonymous placements are limited per client address, so that no one
	// can reserve the shop's stock with a script; staff and server-side
	// integrations with an API key are not. A refused request whose key
	// already has an answer (a buyer retrying through an outage) gets that
	// answer: the limit holds back new orders, never the replay of one.
	if k == nil {
		if ok, d := a.orderLimit.take(c.RealIP()); !ok {
			placed, err := a.orders.Replay(c.Request().Context(), p)
			if err != nil || placed == nil {
				return tooManyRequests(c, d, "orders")
			}
			return replayable(c, placed)
		}
	}
	placed, err := a.orders.Place(c.Request().Context(), p)
	if err != nil {
		return err
	}
	return replayable(c, placed)
}

// replayable sends the answer of a request with an Idempotency-Key, first
// sent or replayed, as it was stored.
func replayable(c echo.Context, placed *orders.Placed) error {
	h := c.Response().Header()
	if placed.Replayed {
		h.Set("Idempotent-Replayed", "true")
	}
	h.Set("Cache-Control", "no-store")
	contentType := "application/problem+json"
	if placed.Status < 300 {
		contentType = echo.MIMEApplicationJSON
		if placed.OrderID != "" {
			h.Set(echo.HeaderLocation, "/v1/orders/"+placed.OrderID)
		}
	}
	return c.Blob(placed.Status, contentType, placed.Body)
}

func (a *API) getOrder(c echo.Context) error {
	access, _, err := a.orderAccess(c, auth.ScopeOrdersRead)
	if err != nil {
		return err
	}
	o, err := a.orders.Get(c.Request().Context(), c.Param("id"), access)
	if err != nil {
		return err
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.JSON(http.StatusOK, o)
}

func (a *API) cancelOrder(c echo.Context) error {
	access, k, err := a.orderAccess(c, auth.ScopeOrdersWrite)
	if err != nil {
		return err
	}
	// A buyer cancels an unpaid order (cancel_reason "customer"); staff
	// using this path cancel as on the admin API ("admin").
	action, actor := orders.CustomerCancel, "buyer"
	if access.Admin {
		action, actor = orders.Cancel, "api key "+k.Name
	}
	o, err := a.orders.Transition(c.Request().Context(), c.Param("id"), action, access, actor)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, o)
}

// orderAccess reads the bearer of a buyer's request: the order's access
// token, or an admin key holding scope. Anything else simply does not match,
// and the order answers 404.
func (a *API) orderAccess(c echo.Context, scope string) (orders.Access, *auth.Key, error) {
	access := orders.Access{Token: bearer(c.Request())}
	k, err := a.optionalAPIKey(c)
	if err != nil {
		return access, nil, err
	}
	access.Admin = k.Has(scope)
	return access, k, nil
}

func (a *API) moveOrder(action orders.Action) echo.HandlerFunc {
	return func(c echo.Context) error {
		ctx := c.Request().Context()
		o, err := a.orders.Transition(ctx, c.Param("id"), action, orders.Access{Admin: true}, "api key "+APIKey(ctx).Name)
		if err != nil {
			return err
		}
		return c.JSON(http.StatusOK, o)
	}
}

// listOrdersParams are the query parameters GET /v1/admin/orders knows; any
// other is a 400, so a typo never silently widens the filter.
var listOrdersParams = map[string]bool{
	"status": true, "email": true, "created_after": true, "created_before": true, "limit": true, "cursor": true,
}

func (a *API) listOrders(c echo.Context) error {
	q := c.QueryParams()
	var fe problem.Fields
	fe.Kind = problem.Invalid
	for name, vs := range q {
		if !listOrdersParams[name] {
			fe.Add(name, "is not a parameter of this list (status, email, created_after, created_before, limit, cursor)")
		} else if len(vs) > 1 {
			fe.Add(name, "must be given once")
		}
	}
	var f orders.Filter
	if v := q.Get("status"); v != "" {
		f.Status = orders.Status(v)
		if !f.Status.Valid() {
			fe.Add("status", "must be one of pending, paid, fulfilled, cancelled, refunded")
		}
	}
	f.Email = strings.TrimSpace(q.Get("email"))
	if len(f.Email) > 254 {
		fe.Add("email", "must be at most 254 characters")
	}
	for _, p := range []struct {
		name string
		dst  *time.Time
	}{{"created_after", &f.CreatedAfter}, {"created_before", &f.CreatedBefore}} {
		if v := q.Get(p.name); v != "" {
			t, err := time.Parse(time.RFC3339, v)
			if err != nil {
				fe.Add(p.name, "must be an RFC 3339 timestamp such as 2026-01-31T00:00:00Z")
			}
			*p.dst = t
		}
	}
	cursor, limit := listPage(q, &fe)
	if err := fe.Err(); err != nil {
		return err
	}
	page, err := a.orders.List(c.Request().Context(), f, cursor, limit)
	if err != nil {
		return err
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.JSON(http.StatusOK, page)
}
