// Package handlers is Shelf's HTTP surface on echo v4: the middleware chain,
// one error handler that turns every error into application/problem+json, and
// thin handlers that parse a request, call one domain function and write the
// response. Routes and their shapes are documented in openapi.yaml, which a
// test keeps in step with the router.
package handlers

import (
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/shelfcommerce/shelf/internal/auth"
	"github.com/shelfcommerce/shelf/internal/catalog"
	"github.com/shelfcommerce/shelf/internal/config"
	"github.com/shelfcommerce/shelf/internal/events"
	"github.com/shelfcommerce/shelf/internal/fastgzip"
	"github.com/shelfcommerce/shelf/internal/orders"
	"github.com/shelfcommerce/shelf/internal/store"
	"github.com/shelfcommerce/shelf/internal/webhooks"
)

// Config is everything the HTTP layer needs, wired by cmd/shelf.
type Config struct {
	Logger *slog.Logger
	Store  *store.Store
	// ReadStore serves the storefront's reads (SHELF_MYSQL_READ_DSN); nil
	// means Store. Writes, admin and order reads always use Store, so a
	// client reads its own writes.
	ReadStore *store.Store
	// DBTimeout bounds the time one request spends on the database
	// (imports and event streams excepted); 0 means no deadline of its own.
	DBTimeout time.Duration
	// SchemaVersion is the latest migration embedded in the binary; /readyz
	// answers 503 until the database has reached it.
	SchemaVersion int64
	// CORSOrigins are the storefront origins allowed to call the API from a
	// browser. Empty means no CORS headers at all.
	CORSOrigins []string
	// TrustedProxies are the networks whose X-Forwarded-For is believed. Empty
	// means the client IP is the TCP peer, whatever headers say.
	TrustedProxies []*net.IPNet
	// BodyLimit caps request bodies, except imports (ImportBodyLimit).
	BodyLimit       int64
	ImportBodyLimit int64
	// ImportTimeout bounds one import request; it also extends the server's
	// read and write deadlines for that request.
	ImportTimeout time.Duration
	// Currency is the catalog's currency, for imports whose prices name none.
	Currency string
	// Registry receives Shelf's Prometheus metrics; nil makes a fresh one.
	Registry *prometheus.Registry
	// Orders configures the order service (idempotency TTL, cursor key).
	Orders orders.Config
	// Storefront configures the public catalog (cursor key, currency, caches).
	Storefront catalog.StorefrontConfig
	// Events is the process's change feed hub, which GET /v1/events streams
	// from and the storefront's caches follow. Nil: the stream answers 503.
	Events *events.Hub
	// Heartbeat is how often an idle event stream sends a comment line
	// (default DefaultHeartbeat, the contract's 15 s).
	Heartbeat time.Duration
	// Shutdown, once closed, ends every open event stream, so that the
	// server's Shutdown does not wait for streams that never end, and ends a
	// long import after its batch in flight with its report so far.
	Shutdown <-chan struct{}
	// Webhooks configures webhook registration (which targets are allowed).
	Webhooks webhooks.Config
	// MetricsElsewhere leaves /metrics off this router: cmd/shelf serves
	// MetricsHandler(Registry) on SHELF_METRICS_ADDR instead.
	MetricsElsewhere bool
	// OrderRateLimit is how many anonymous POST /v1/orders one client
	// address may send per minute; AuthFailureLimit how many failed API-key
	// attempts. 0 is no limit.
	OrderRateLimit   int
	AuthFailureLimit int
	// Now is the rate limiters' clock; nil is time.Now.
	Now func() time.Time
}

// API holds the handlers' dependencies.
type API struct {
	cfg     Config
	log     *slog.Logger
	metrics *metrics
	keys    *auth.Keys
	orders  *orders.Service
	// storefront serves the public catalog.
	storefront *catalog.Storefront
	webhooks   *webhooks.Service
	// orderLimit and authFailures are per client address (nil: no limit).
	orderLimit   *limiter
	authFailures *limiter
}

// New builds the echo instance with every middleware and route.
func New(cfg Config) *echo.Echo {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Registry == nil {
		cfg.Registry = prometheus.NewRegistry()
	}
	if cfg.BodyLimit == 0 {
		cfg.BodyLimit = config.DefaultBodyLimit
	}
	if cfg.ImportBodyLimit == 0 {
		cfg.ImportBodyLimit = config.DefaultImportBodyLimit
	}
	if cfg.ReadStore == nil {
		cfg.ReadStore = cfg.Store
	}

	a := &API{cfg: cfg, log: cfg.Logger,
		orderLimit: newLimiter(cfg.OrderRateLimit, cfg.Now), authFailures: newLimiter(cfg.AuthFailureLimit, cfg.Now)}
	if cfg.Store != nil {
		a.keys = auth.NewKeys(cfg.Store.Q).WithRetry(cfg.Store.Retry)
		oc := cfg.Orders
		oc.RenderError = a.renderProblem
		a.orders = orders.NewService(cfg.Store, oc)
		sc := cfg.Storefront
		sc.Primary = cfg.Store // what changed within the read node's lag is read here
		a.storefront = catalog.NewStorefront(cfg.ReadStore, sc)
		// A write clears this instance's cached pages before it answers;
		// the feed's tail clears every instance's.
		events.FollowersOf(cfg.Store).Add(a.storefront.Forget)
		if cfg.Events != nil {
			cfg.Events.Follow(a.storefront.Forget)
		}
		a.webhooks = webhooks.NewService(cfg.Store, cfg.Webhooks)
	}
	a.metrics = newMetrics(cfg.Registry, cfg.Store, cfg.ReadStore)

	e := echo.New()
	e.HideBanner = true
	e.HidePort = true
	e.HTTPErrorHandler = a.ErrorHandler
	e.IPExtractor = ipExtractor(cfg.TrustedProxies)

	e.Pre(nosniff)
	e.Pre(headAsGet)
	e.Use(headAgain)
	e.Use(unescapeParams)
	e.Use(requestID)
	e.Use(a.accessLog) // outermost after the id, so it sees the final status
	e.Use(a.metrics.middleware)
	e.Use(a.recover)
	if len(cfg.CORSOrigins) > 0 {
		e.Use(middleware.CORSWithConfig(middleware.CORSConfig{
			AllowOrigins:  cfg.CORSOrigins,
			AllowMethods:  []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete},
			AllowHeaders:  []string{"Authorization", "Content-Type", "Idempotency-Key", "If-Match", "If-None-Match", "Last-Event-ID", "X-Request-Id"},
			ExposeHeaders: []string{"ETag", "Location", "X-Request-Id", "Idempotent-Replayed", "Retry-After"},
			MaxAge:        600,
		}))
	}
	e.Use(middleware.GzipWithConfig(middleware.GzipConfig{
		// Level 1: on two shared cores, the best level costs several times
		// the CPU for a few percent fewer bytes. Below about one packet,
		// compressing saves no round trip.
		Level:     1,
		MinLength: fastgzip.MinSize,
		// Only GET responses (listings, product pages, the OpenAPI document)
		// are large enough to gain from gzip; preparing a compressor for every
		// small write response costs more CPU than it saves bytes.
		Skipper: func(c echo.Context) bool {
			req := c.Request()
			return (req.Method != http.MethodGet && req.Method != http.MethodHead) ||
				req.URL.Path == "/metrics" || req.URL.Path == "/v1/events" ||
				// Listings and product pages gzip their own bodies
				// (internal/fastgzip, product pages once per cached page).
				req.URL.Path == "/v1/products" || strings.HasPrefix(req.URL.Path, "/v1/products/") ||
				!acceptsGzip(req.Header.Values(echo.HeaderAcceptEncoding))
		},
	}))
	e.Use(a.bodyLimit)
	e.Use(a.dbDeadline)

	a.registerOps(e)
	a.registerCatalog(e)
	a.registerOrders(e)
	a.registerAdmin(e)
	a.registerEvents(e)
	a.registerWebhooks(e)
	a.metrics.setRoutes(e.Routes())
	return e
}

// NewServer wraps the router in an http.Server with timeouts: echo sets none,
// and a server without them can be held open by slow clients forever.
func NewServer(addr string, h http.Handler, t Timeouts) *http.Server {
	return &http.Server{
		Addr:              addr,
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       t.Read,
		WriteTimeout:      t.Write,
		IdleTimeout:       t.Idle,
		MaxHeaderBytes:    64 << 10,
	}
}

// Timeouts of the HTTP server. Imports extend their own deadlines.
type Timeouts struct {
	Read, Write, Idle time.Duration
}

// ipExtractor trusts X-Forwarded-For only from the configured proxies.
func ipExtractor(trusted []*net.IPNet) echo.IPExtractor {
	if len(trusted) == 0 {
		return echo.ExtractIPDirect()
	}
	opts := []echo.TrustOption{
		echo.TrustLoopback(false), echo.TrustLinkLocal(false), echo.TrustPrivateNet(false),
	}
	for _, n := range trusted {
		opts = append(opts, echo.TrustIPRange(n))
	}
	return echo.ExtractIPFromXFFHeader(opts...)
}

// bodyLimit caps request bodies: a declared length over the limit is refused
// before anything is read, and a body that grows past it fails its read with
// *http.MaxBytesError, which the error handler answers with 413. Imports get
// their own, larger limit, because a catalog file is legitimately large.
func (a *API) bodyLimit(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		limit := a.cfg.BodyLimit
		if strings.HasPrefix(c.Request().URL.Path, "/v1/admin/imports") {
			limit = a.cfg.ImportBodyLimit
		}
		req := c.Request()
		if req.ContentLength > limit {
			return &http.MaxBytesError{Limit: limit}
		}
		req.Body = http.MaxBytesReader(c.Response(), req.Body, limit)
		return next(c)
	}
}

// dbDeadline gives every request a deadline for its database work
// (SHELF_DB_TIMEOUT), so that a frozen server or a partition cannot hold a
// request, or its connection, past it: the driver then gives up and the
// error handler answers 503 with Retry-After. Imports and exports run long
// by design and have their own timeout (SHELF_IMPORT_TIMEOUT); the event
// stream never ends.
func (a *API) dbDeadline(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		req := c.Request()
		if a.cfg.DBTimeout <= 0 || strings.HasPrefix(req.URL.Path, "/v1/admin/imports") ||
			strings.HasPrefix(req.URL.Path, "/v1/admin/exports") || req.URL.Path == "/v1/events" {
			return next(c)
		}
		ctx, cancel := a.dbContext(req.Context())
		defer cancel()
		c.SetRequest(req.WithContext(ctx))
		return next(c)
	}
}

// headAsGet answers HEAD on every GET route as that GET (RFC 9110 9.3.2:
// the same status and headers, ETag included) instead of echo's 405. echo
// routes on the request's method before any middleware can swap the
// request, so the method is GET in place while the router looks; headAgain,
// the first middleware after routing, makes it HEAD again (for the access
// log, the metrics and net/http). The body is dropped on the way out. The
// event stream is left out: as a GET it never ends.
func headAsGet(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		req := c.Request()
		if req.Method != http.MethodHead || req.URL.Path == "/v1/events" {
			return next(c)
		}
		req.Method = http.MethodGet
		c.Set(headKey, true)
		res := c.Response()
		res.Writer = discardBody{res.Writer}
		defer func() { req.Method = http.MethodHead }()
		return next(c)
	}
}

const headKey = "shelf.head"

// headAgain restores the method headAsGet changed for routing.
func headAgain(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if head, _ := c.Get(headKey).(bool); head {
			c.Request().Method = http.MethodHead
		}
		return next(c)
	}
}

// discardBody is a response writer that sends headers but drops the body.
type discardBody struct{ http.ResponseWriter }

func (d discardBody) Write(p []byte) (int, error) { return len(p), nil }

func (d discardBody) Unwrap() http.ResponseWriter { return d.ResponseWriter }

// acceptsGzip reports whether Accept-Encoding allows gzip (RFC 9110 12.5.3):
// "gzip" (or "x-gzip") or else "*" listed with a q above 0. "gzip;q=0" is
// a refusal, not a request.
func acceptsGzip(values []string) bool {
	star := false
	for _, v := range values {
		for _, part := range strings.Split(v, ",") {
			coding, params, _ := strings.Cut(part, ";")
			coding = strings.ToLower(strings.TrimSpace(coding))
			if coding != "gzip" && coding != "x-gzip" && coding != "*" {
				continue
			}
			ok := true
			for _, p := range strings.Split(params, ";") {
				name, val, _ := strings.Cut(strings.TrimSpace(p), "=")
				if strings.EqualFold(strings.TrimSpace(name), "q") {
					q, err := strconv.ParseFloat(strings.TrimSpace(val), 64)
					ok = err == nil && q > 0
				}
			}
			if coding == "*" {
				star = ok
				continue
			}
			return ok
		}
	}
	return star
}
