// Package metrics holds Shelf's business counters: what an operator watches
// besides request rates and latency (which handlers/metrics.go records per
// route). They are package-level so that the code that knows an outcome
// counts it where it happens, without a registry threaded through every
// call; Register adds them all to a registry (handlers.New does, for the
// registry it serves at /metrics), and a collector may sit in any number of
// registries, so each test's fresh registry works too.
//
// Who increments what (every label value is from a fixed, small set):
//
//	shelf_build_info{version,commit,goversion}    1, set once here from internal/version
//	shelf_orders_placed_total{outcome}            orders.Service.Place: "placed", "replayed" (a retry
//	                                              answered from its Idempotency-Key), or the problem kind
//	                                              that refused it ("insufficient-stock", "unprocessable",
//	                                              "idempotency-key-in-use", ...), or "error"
//	shelf_import_rows_total{outcome}              catalog.Import, per committed batch (never for a dry run):
//	                                              variant rows of created, updated and unchanged products,
//	                                              and "failed" rows (not written)
//	shelf_cache_requests_total{cache,result}      the storefront's caches in catalog/cache.go: result
//	                                              "hit" (fresh or stale-while-refreshing) or "miss"
//	shelf_db_retries_total                        store's retry policy (every transaction and retried
//	                                              statement): work rerun after a deadlock, lock-wait
//	                                              timeout or cluster certification failure
//	shelf_unavailable_responses_total             handlers' error handler: every 503 answered
//	shelf_event_feed_lag_seconds                  the change feed: how far behind the newest committed
//	                                              event the event streams are
//	shelf_webhook_deliveries_total{outcome}       the webhook sender, per attempt: "delivered", "failed"
//	                                              (will be retried), "abandoned" (the schedule ran out)
package metrics

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/shelfcommerce/shelf/internal/version"
)

var (
	// OrdersPlaced counts POST /v1/orders outcomes.
	OrdersPlaced = counterVec("shelf_orders_placed_total",
		"Order placements by outcome: placed, replayed, or the problem kind that refused it.",
		"outcome")

	// ImportRows counts imported variant rows by outcome.
	ImportRows = counterVec("shelf_import_rows_total",
		"Imported variant rows by outcome (created, updated, unchanged, failed), committed imports only.",
		"outcome")

	// CacheRequests counts lookups of the in-process caches.
	CacheRequests = counterVec("shelf_cache_requests_total",
		"In-process cache lookups by cache and result (hit, miss).",
		"cache", "result")

	// DBRetries counts transactions rerun after a lost lock race.
	DBRetries = prometheus.NewCounter(prometheus.CounterOpts{Name: "shelf_db_retries_total",
		Help: "Transactions and statements rerun after a deadlock, lock-wait timeout or certification failure."})

	// Unavailable counts 503 answers.
	Unavailable = prometheus.NewCounter(prometheus.CounterOpts{Name: "shelf_unavailable_responses_total",
		Help: "Requests answered 503 (database unreachable, busy or behind the binary's schema)."})

	// EventFeedLag is how far the event streams are behind the newest event.
	EventFeedLag = prometheus.NewGauge(prometheus.GaugeOpts{Name: "shelf_event_feed_lag_seconds",
		Help: "Seconds between the newest committed event and the newest one sent to event streams."})

	// WebhookDeliveries counts webhook delivery attempts by outcome.
	WebhookDeliveries = counterVec("shelf_webhook_deliveries_total",
		"Webhook delivery attempts by outcome: delivered, failed (to be retried), abandoned.",
		"outcome")

	buildInfo = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "shelf_build_info",
		Help: "Always 1; the labels say which build is running.",
	}, []string{"version", "commit", "goversion"})
)

// Cache names, the values of shelf_cache_requests_total's cache label.
const (
	CacheDetail      = "product_detail"
	CacheSlug        = "product_slug"
	CacheFacets      = "facets"
	CacheSearch      = "search"
	CacheCategories  = "category_slug"
	CacheSearchFloor = "search_floor"
)

func init() {
	v := version.Get()
	buildInfo.WithLabelValues(v.Version, v.Commit, v.GoVersion).Set(1)
	// Series that exist from the start, so rate() and absent() work before
	// the first event of each kind.
	for _, o := range []string{"placed", "replayed", "insufficient-stock", "error"} {
		OrdersPlaced.WithLabelValues(o)
	}
	for _, o := range []string{"created", "updated", "unchanged", "failed"} {
		ImportRows.WithLabelValues(o)
	}
	for _, c := range []string{CacheDetail, CacheSlug, CacheFacets, CacheSearch, CacheCategories} {
		CacheRequests.WithLabelValues(c, "hit")
		CacheRequests.WithLabelValues(c, "miss")
	}
	for _, o := range []string{"delivered", "failed", "abandoned"} {
		WebhookDeliveries.WithLabelValues(o)
	}
}

func counterVec(name, help string, labels ...string) *prometheus.CounterVec {
	return prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labels)
}

// Register adds every business metric to reg.
func Register(reg prometheus.Registerer) {
	reg.MustRegister(OrdersPlaced, ImportRows, CacheRequests, DBRetries, Unavailable,
		EventFeedLag, WebhookDeliveries, buildInfo)
}

// CacheLookup counts one lookup of the named cache.
func CacheLookup(cache string, hit bool) {
	if hit {
		CacheRequests.WithLabelValues(cache, "hit").Inc()
		return
	}
	CacheRequests.WithLabelValues(cache, "miss").Inc()
}
