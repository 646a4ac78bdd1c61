package config

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestDefaultsAreUsable(t *testing.T) {
	t.Parallel()
	c, err := Load(env(nil))
	if err != nil {
		t.Fatalf("defaults rejected: %v", err)
	}
	if c.Addr != ":8080" || c.Pool.MaxOpen != 8 || c.IdempotencyTTL != 24*time.Hour || c.Currency != "USD" {
		t.Fatalf("unexpected defaults: %+v", c)
	}
	if c.CursorSecret != "" {
		t.Fatalf("the cursor secret must default to empty (the key kept in the database), got %q", c.CursorSecret)
	}
}

func TestEveryBadVariableIsNamed(t *testing.T) {
	t.Parallel()
	_, err := Load(env(map[string]string{
		"SHELF_MYSQL_DSN":       "root@tcp(127.0.0.1:3306)/",
		"SHELF_READ_TIMEOUT":    "soon",
		"SHELF_CORS_ORIGINS":    "shop.example.com",
		"SHELF_TRUSTED_PROXIES": "10.0.0.0/8, not-an-ip",
		"SHELF_LOG_LEVEL":       "loud",
		"SHELF_CURRENCY":        "dollars",
	}))
	if err == nil {
		t.Fatal("bad configuration accepted")
	}
	for _, name := range []string{"SHELF_MYSQL_DSN", "SHELF_READ_TIMEOUT", "SHELF_CORS_ORIGINS", "SHELF_TRUSTED_PROXIES", "SHELF_LOG_LEVEL", "SHELF_CURRENCY"} {
		if !strings.Contains(err.Error(), name) {
			t.Errorf("error does not name %s:\n%v", name, err)
		}
	}
}

// A currency code of the right shape that is no currency (or one the
// money package would not know the digits of) stops the server at start,
// not its first import with a 500.
func TestCurrenciesAreCurrent(t *testing.T) {
	t.Parallel()
	for code, ok := range map[string]bool{"PHP": true, "idr": true, "XCG": true, "MYR": true, "KWD": true, "JPY": true, "XXX": false, "ABC": false, "BTC": false} {
		_, err := Load(env(map[string]string{"SHELF_MYSQL_DSN": "root@tcp(127.0.0.1:3306)/shelf", "SHELF_CURRENCY": code}))
		if ok && err != nil {
			t.Errorf("SHELF_CURRENCY=%s refused: %v", code, err)
		}
		if !ok && (err == nil || !strings.Contains(err.Error(), "SHELF_CURRENCY")) {
			t.Errorf("SHELF_CURRENCY=%s: %v, want it refused by name", code, err)
		}
	}
}

func TestListsAreParsed(t *testing.T) {
	t.Parallel()
	c, err := Load(env(map[string]string{
		"SHELF_CORS_ORIGINS":    "https://a.example, https://b.example",
		"SHELF_TRUSTED_PROXIES": "10.0.0.0/8,192.0.2.7",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.CORSOrigins) != 2 || len(c.TrustedProxies) != 2 || c.TrustedProxies[1].String() != "192.0.2.7/32" {
		t.Fatalf("origins %v proxies %v", c.CORSOrigins, c.TrustedProxies)
	}
}

func TestStorefrontCachesAndSearchCap(t *testing.T) {
	t.Parallel()
	c, err := Load(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.DetailCacheTTL != 5*time.Minute || c.FacetCacheTTL != 2*time.Minute || c.SearchMax != 10000 {
		t.Fatalf("storefront defaults: %v %v %d", c.DetailCacheTTL, c.FacetCacheTTL, c.SearchMax)
	}
	if c, err := Load(env(map[string]string{"SHELF_DETAIL_CACHE_TTL": "0", "SHELF_FACET_CACHE_TTL": "0s"})); err != nil || c.DetailCacheTTL != 0 {
		t.Fatalf("0 must disable the caches: %v", err)
	}
	_, err = Load(env(map[string]string{"SHELF_DETAIL_CACHE_TTL": "-1s", "SHELF_FACET_CACHE_TTL": "2h", "SHELF_SEARCH_MAX_MATCHES": "lots"}))
	for _, name := range []string{"SHELF_DETAIL_CACHE_TTL", "SHELF_FACET_CACHE_TTL", "SHELF_SEARCH_MAX_MATCHES"} {
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("error does not name %s: %v", name, err)
		}
	}
}

func TestWebhookSettings(t *testing.T) {
	c, err := Load(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	want := []time.Duration{5 * time.Second, 30 * time.Second, 2 * time.Minute, 15 * time.Minute, time.Hour, 6 * time.Hour, 24 * time.Hour}
	if !slices.Equal(c.WebhookSchedule, want) || c.WebhookAllowPrivate || c.WebhookWorkers != 8 {
		t.Fatalf("webhook defaults: %v %v %d", c.WebhookSchedule, c.WebhookAllowPrivate, c.WebhookWorkers)
	}
	c, err = Load(env(map[string]string{"SHELF_WEBHOOK_RETRY_SCHEDULE": "10ms, 1s", "SHELF_WEBHOOK_ALLOW_PRIVATE": "true"}))
	if err != nil || !slices.Equal(c.WebhookSchedule, []time.Duration{10 * time.Millisecond, time.Second}) || !c.WebhookAllowPrivate {
		t.Fatalf("got %v %v, %v", c.WebhookSchedule, c.WebhookAllowPrivate, err)
	}
	_, err = Load(env(map[string]string{"SHELF_WEBHOOK_RETRY_SCHEDULE": "5s,soon,-1s", "SHELF_WEBHOOK_ALLOW_PRIVATE": "yes please"}))
	for _, s := range []string{`"soon"`, `"-1s"`, "SHELF_WEBHOOK_ALLOW_PRIVATE"} {
		if err == nil || !strings.Contains(err.Error(), s) {
			t.Errorf("error %v does not name %s", err, s)
		}
	}
}

func TestAbuseLimitsDefaultsAndBadValues(t *testing.T) {
	c, err := Load(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	a := c.Abuse
	if a.PendingOrderTTL != time.Hour || a.OrderRateLimit != 30 || a.AuthFailureLimit != 10 ||
		a.OrderMaxLines != 100 || a.OrderMaxLineQty != 1000 || a.OrderMaxUnits != 1000 ||
		a.MaxConns != 4096 || a.MaxConnsPerIP != 256 || a.MetricsAddr != "" {
		t.Fatalf("defaults %+v", a)
	}
	c, err = Load(env(map[string]string{"SHELF_PENDING_ORDER_TTL": "0", "SHELF_ORDER_RATE_LIMIT": "0", "SHELF_METRICS_ADDR": "127.0.0.1:9090"}))
	if err != nil || c.Abuse.PendingOrderTTL != 0 || c.Abuse.OrderRateLimit != 0 || c.Abuse.MetricsAddr != "127.0.0.1:9090" {
		t.Fatalf("0 must turn expiry and the rate limit off: %+v %v", c.Abuse, err)
	}
	_, err = Load(env(map[string]string{
		"SHELF_PENDING_ORDER_TTL": "5s", "SHELF_ORDER_RATE_LIMIT": "-1", "SHELF_ORDER_MAX_UNITS": "0", "SHELF_METRICS_ADDR": "9090",
	}))
	for _, name := range []string{"SHELF_PENDING_ORDER_TTL", "SHELF_ORDER_RATE_LIMIT", "SHELF_ORDER_MAX_UNITS", "SHELF_METRICS_ADDR"} {
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("error does not name %s: %v", name, err)
		}
	}
}
