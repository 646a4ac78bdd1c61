package handlers

import (
	"strconv"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/shelfcommerce/shelf/internal/store"
)

type metrics struct {
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
	if st != nil {
		reg.MustRegister(collectors.NewDBStatsCollector(st.DB, "shelf"), retryCollector(st))
	}
	if read != nil && read != st {
		reg.MustRegister(collectors.NewDBStatsCollector(read.DB, "shelf_read"))
	}
	return m
}

// middleware records each request under its route template (never the raw
// path, which would make one series per product).
func (m *metrics) middleware(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		err := next(c)
		if err != nil {
			c.Error(err)
		}
		route := c.Path()
		if route == "" {
			route = "unmatched"
		}
		status := strconv.Itoa(c.Response().Status)
		m.requests.WithLabelValues(c.Request().Method, route, status).Inc()
		m.duration.WithLabelValues(c.Request().Method, route, status).Observe(time.Since(start).Seconds())
		return nil
	}
}

// retryCollector exports what the store's retry policy did: how often work
// that lost a lock race or a cluster certification ran again, and how often
// it ran out of budget and was answered 503.
func retryCollector(st *store.Store) prometheus.Collector {
	rs := st.RetryStats()
	return collectorFuncs{
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "shelf_db_retries_total",
			Help: "Transactions and statements run again after a deadlock, lock-wait timeout or certification failure.",
		}, func() float64 { return float64(rs.Retries.Load()) }),
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

func (m *metrics) handler() echo.HandlerFunc {
	return echo.WrapHandler(promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{}))
}
