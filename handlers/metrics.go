package handlers

import (
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	shelfmetrics "github.com/shelfcommerce/shelf/internal/metrics"
	"github.com/shelfcommerce/shelf/internal/store"
)

type metrics struct {
	// routes are the registered route templates; a request whose c.Path()
	// is none of them (echo reports the nearest tree node for a miss) is
	// counted as "unmatched".
	routes   map[string]bool
	registry *prometheus.Registry
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

func newMetrics(reg *prometheus.Registry, st, read *store.Store) *metrics {
	m := &metrics{
		registry: reg,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "shelf_http_requests_total",
			Help: "HTTP requests by method, route template and status.",
		}, []string{"method", "route", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "shelf_http_request_duration_seconds",
			Help:    "HTTP request latency by method, route template and status.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"method", "route", "status"}),
	}
	reg.MustRegister(m.requests, m.duration,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	shelfmetrics.Register(reg)
	if st != nil {
		reg.MustRegister(collectors.NewDBStatsCollector(st.DB, "shelf"), retryCollector(st))
	}
	if read != nil && read != st {
		reg.MustRegister(collectors.NewDBStatsCollector(read.DB, "shelf_read"))
	}
	return m
}

// standardMethods are the methods counted under their own name; anything a
// client invents is "other", so that no request can add a series.
var standardMethods = map[string]bool{
	http.MethodGet: true, http.MethodHead: true, http.MethodPost: true, http.MethodPut: true,
	http.MethodPatch: true, http.MethodDelete: true, http.MethodOptions: true,
	http.MethodConnect: true, http.MethodTrace: true,
}

// methodLabel is the method as a label value: one of the standard set, or
// "other".
func methodLabel(method string) string {
	if standardMethods[method] {
		return method
	}
	return "other"
}

// middleware records each request under its route template (never the raw
// path, which would make one series per product) and its method from a
// closed set: the labels of every series come from the router and this
// file, never from the request, so the number of series is bounded by
// routes x methods x statuses whatever clients send.
func (m *metrics) middleware(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		err := next(c)
		if err != nil {
			c.Error(err)
		}
		route := c.Path()
		if !m.routes[route] {
			route = "unmatched"
		}
		status := strconv.Itoa(c.Response().Status)
		method := methodLabel(c.Request().Method)
		m.requests.WithLabelValues(method, route, status).Inc()
		m.duration.WithLabelValues(method, route, status).Observe(time.Since(start).Seconds())
		return nil
	}
}

// retryCollector exports how often the store's retry policy ran out of
// budget (answered 503); the reruns themselves are counted in
// internal/metrics (shelf_db_retries_total).
func retryCollector(st *store.Store) prometheus.Collector {
	rs := st.RetryStats()
	return collectorFuncs{
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "shelf_db_retry_exhausted_total",
			Help: "Units of database work that kept losing races for the whole retry budget (answered 503).",
		}, func() float64 { return float64(rs.GaveUp.Load()) }),
	}
}

// collectorFuncs registers several collectors as one.
type collectorFuncs []prometheus.Collector

func (cs collectorFuncs) Describe(ch chan<- *prometheus.Desc) {
	for _, c := range cs {
		c.Describe(ch)
	}
}

func (cs collectorFuncs) Collect(ch chan<- prometheus.Metric) {
	for _, c := range cs {
		c.Collect(ch)
	}
}

// setRoutes records the router's templates, once every route is registered.
func (m *metrics) setRoutes(rs []*echo.Route) {
	m.routes = make(map[string]bool, len(rs))
	for _, r := range rs {
		m.routes[r.Path] = true
	}
}

func (m *metrics) handler() echo.HandlerFunc {
	return echo.WrapHandler(MetricsHandler(m.registry))
}

// MetricsHandler serves reg in the Prometheus text format, for a
// deployment that moves /metrics to its own listener (SHELF_METRICS_ADDR).
func MetricsHandler(reg *prometheus.Registry) http.Handler {
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
}
