// Package config reads Shelf's settings from the environment, validates them
// at start-up with messages that name the variable, and documents them for
// `shelf serve --help`.
package config

import (
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/shelfcommerce/shelf/internal/money"
	"github.com/shelfcommerce/shelf/internal/store"
)

// Var documents one environment variable.
type Var struct {
	Name, Default, Help string
}

// The request body limits when none is configured: 1 MiB, and 2 GiB for
// imports.
const (
	DefaultBodyLimit       = 1 << 20
	DefaultImportBodyLimit = 2 << 30
)

// Vars lists every variable Shelf reads, in the order `--help` shows them.
var Vars = []Var{
	{"SHELF_MYSQL_DSN", "root@tcp(127.0.0.1:3306)/shelf", "go-sql-driver DSN; parseTime, UTC, utf8mb4 and strict sql_mode are forced"},
	{"SHELF_MYSQL_READ_DSN", "", "optional DSN for storefront reads (a replica, or the local Galera node); writes, admin reads and reads that must see them stay on SHELF_MYSQL_DSN"},
	{"SHELF_MYSQL_READ_LAG", "5s", "how far SHELF_MYSQL_READ_DSN may lag behind: for this long after a change, the storefront reads what it changed from SHELF_MYSQL_DSN, so no cache keeps what the read node had before"},
	{"SHELF_ADDR", ":8080", "listen address"},
	{"SHELF_DB_MAX_OPEN", "8", "max open DB connections (throughput stops growing above ~8 on 2 cores)"},
	{"SHELF_DB_MAX_IDLE", "8", "max idle DB connections"},
	{"SHELF_DB_CONN_LIFETIME", "5m", "max lifetime of a DB connection"},
	{"SHELF_DB_RETRY_BUDGET", "3s", "how long a write that lost a lock race or a Galera certification is retried (jittered exponential backoff) before a 503; at least 5 attempts"},
	{"SHELF_DB_TIMEOUT", "8s", "how long one request may wait for the database in all (imports excepted): past it, and whenever the database is down, frozen or refusing, the answer is 503 with Retry-After"},
	{"SHELF_READ_TIMEOUT", "30s", "HTTP read timeout (imports extend their own)"},
	{"SHELF_WRITE_TIMEOUT", "30s", "HTTP write timeout (imports extend their own)"},
	{"SHELF_IDLE_TIMEOUT", "120s", "HTTP keep-alive idle timeout"},
	{"SHELF_SHUTDOWN_TIMEOUT", "20s", "how long SIGTERM waits for in-flight requests"},
	{"SHELF_BODY_LIMIT", strconv.Itoa(DefaultBodyLimit), "max request body in bytes, except imports"},
	{"SHELF_IMPORT_BODY_LIMIT", strconv.Itoa(DefaultImportBodyLimit), "max import body in bytes (413 above it)"},
	{"SHELF_IMPORT_TIMEOUT", "1h", "how long one import or export request may take"},
	{"SHELF_CORS_ORIGINS", "", "comma-separated storefront origins allowed by CORS (empty: no CORS)"},
	{"SHELF_TRUSTED_PROXIES", "", "comma-separated CIDRs whose X-Forwarded-For is trusted (empty: none)"},
	{"SHELF_CURSOR_SECRET", "(a key kept in the database)", "key that signs listing and order cursors; unset, every instance on the database shares one it creates there on first start"},
	{"SHELF_DETAIL_CACHE_TTL", "5m", "how long a rendered product page may be served from memory; a safety net only: writes clear the pages they change (this instance before answering, others from the change feed within a second); 0 disables"},
	{"SHELF_FACET_CACHE_TTL", "2m", "how long facet counts and full-text pages of one query may be reused; a safety net only, cleared by the change feed like product pages; 0 disables"},
	{"SHELF_SEARCH_MAX_MATCHES", "10000", "most products one q= considers: the highest-scoring of its rarest word (bounds broad searches)"},
	{"SHELF_CURRENCY", money.DefaultCurrency, "the catalog's currency (ISO 4217), used by imports that carry none and by price filters"},
	{"SHELF_IDEMPOTENCY_TTL", "24h", "how long order Idempotency-Keys are remembered"},
	{"SHELF_EVENT_RETENTION", "168h", "how long change-feed events are kept; a client resuming from an older id gets an event: reset"},
	{"SHELF_EVENT_POLL", "25ms", "how often an instance looks for other instances' events (its own wake it at once)"},
	{"SHELF_WEBHOOK_RETRY_SCHEDULE", "5s,30s,2m,15m,1h,6h,24h", "delays between webhook delivery attempts (comma-separated durations); after the last, the webhook is marked failing"},
	{"SHELF_WEBHOOK_ALLOW_PRIVATE", "false", "true allows http and loopback/private webhook targets (development only)"},
	{"SHELF_WEBHOOK_WORKERS", "8", "webhook deliveries one instance sends at once"},
	{"SHELF_LOG_LEVEL", "info", "debug, info, warn or error"},
	{"SHELF_PENDING_ORDER_TTL", "1h", "an order still pending (unpaid) this long is cancelled with cancel_reason \"expired\" and its stock returned; 0 never expires orders, otherwise at least 1m"},
	{"SHELF_ORDER_RATE_LIMIT", "30", "anonymous POST /v1/orders per client address per minute (429 above it; requests with an admin API key are not counted); 0 disables"},
	{"SHELF_AUTH_FAILURE_LIMIT", "10", "failed API-key attempts per client address per minute; above it that address gets 429 for API-key requests until the minute refills; 0 disables"},
	{"SHELF_ORDER_MAX_LINES", "100", "most lines in one order"},
	{"SHELF_ORDER_MAX_LINE_QUANTITY", "1000", "most units of one line"},
	{"SHELF_ORDER_MAX_UNITS", "1000", "most units in one order, all lines together"},
	{"SHELF_MAX_CONNS", "4096", "most open client connections; more wait in the kernel's accept queue (keep it well below the file descriptor limit, ulimit -n)"},
	{"SHELF_MAX_CONNS_PER_IP", "256", "most open connections from one peer address; more are closed at once (trusted proxies are exempt); 0 disables"},
	{"SHELF_METRICS_ADDR", "", "serve /metrics on this address only (e.g. 127.0.0.1:9090) instead of on SHELF_ADDR, for deployments that do not want it public"},
}

// Config is the validated configuration.
type Config struct {
	DSN             string
	ReadDSN         string
	ReadLag         time.Duration
	DBTimeout       time.Duration
	RetryBudget     time.Duration
	Addr            string
	Pool            store.PoolConfig
	ReadTimeout     time.Duration
	WriteTimeout    time.Duration
	IdleTimeout     time.Duration
	ShutdownTimeout time.Duration
	BodyLimit       int64
	ImportBodyLimit int64
	ImportTimeout   time.Duration
	CORSOrigins     []string
	TrustedProxies  []*net.IPNet
	CursorSecret    string
	DetailCacheTTL  time.Duration
	FacetCacheTTL   time.Duration
	SearchMax       int
	Currency        string
	IdempotencyTTL  time.Duration
	EventRetention  time.Duration
	EventPoll       time.Duration
	LogLevel        string
	// WebhookSchedule is the delay before each webhook retry.
	WebhookSchedule     []time.Duration
	WebhookAllowPrivate bool
	WebhookWorkers      int
	Abuse               Abuse
}

// Abuse is what bounds an anonymous client: order expiry, rate limits,
// order caps, connection caps, and where /metrics is served.
type Abuse struct {
	// PendingOrderTTL: 0 means pending orders never expire.
	PendingOrderTTL time.Duration
	// OrderRateLimit and AuthFailureLimit are per client address per
	// minute; 0 disables each.
	OrderRateLimit   int
	AuthFailureLimit int
	OrderMaxLines    int
	OrderMaxLineQty  int
	OrderMaxUnits    int
	MaxConns         int
	MaxConnsPerIP    int
	MetricsAddr      string
}

// Load reads and validates the configuration; the error names every bad
// variable.
func Load(getenv func(string) string) (Config, error) {
	get := func(name string) string {
		if v := strings.TrimSpace(getenv(name)); v != "" {
			return v
		}
		for _, v := range Vars {
			if v.Name == name && !strings.HasPrefix(v.Default, "(") {
				return v.Default
			}
		}
		return ""
	}
	var errs []string
	dur := func(name string) time.Duration {
		d, err := time.ParseDuration(get(name))
		if err != nil || d <= 0 {
			errs = append(errs, fmt.Sprintf("%s=%q: must be a positive duration such as 30s", name, get(name)))
		}
		return d
	}
	ttl := func(name string) time.Duration {
		d, err := time.ParseDuration(get(name))
		if err != nil || d < 0 || d > time.Hour {
			errs = append(errs, fmt.Sprintf("%s=%q: must be a duration from 0 to 1h such as 1s", name, get(name)))
		}
		return d
	}
	// count is a whole number >= 0 (0 turns the feature off).
	count := func(name string) int {
		n, err := strconv.Atoi(get(name))
		if err != nil || n < 0 {
			errs = append(errs, fmt.Sprintf("%s=%q: must be a whole number, 0 or more", name, get(name)))
		}
		return n
	}
	num := func(name string) int64 {
		n, err := strconv.ParseInt(get(name), 10, 64)
		if err != nil || n <= 0 {
			errs = append(errs, fmt.Sprintf("%s=%q: must be a positive integer", name, get(name)))
		}
		return n
	}
	c := Config{
		DSN:         get("SHELF_MYSQL_DSN"),
		ReadDSN:     get("SHELF_MYSQL_READ_DSN"),
		ReadLag:     dur("SHELF_MYSQL_READ_LAG"),
		DBTimeout:   dur("SHELF_DB_TIMEOUT"),
		RetryBudget: dur("SHELF_DB_RETRY_BUDGET"),
		Addr:        get("SHELF_ADDR"),
		Pool: store.PoolConfig{
			MaxOpen:     int(num("SHELF_DB_MAX_OPEN")),
			MaxIdle:     int(num("SHELF_DB_MAX_IDLE")),
			MaxLifetime: dur("SHELF_DB_CONN_LIFETIME"),
		},
		ReadTimeout:     dur("SHELF_READ_TIMEOUT"),
		WriteTimeout:    dur("SHELF_WRITE_TIMEOUT"),
		IdleTimeout:     dur("SHELF_IDLE_TIMEOUT"),
		ShutdownTimeout: dur("SHELF_SHUTDOWN_TIMEOUT"),
		BodyLimit:       num("SHELF_BODY_LIMIT"),
		ImportBodyLimit: num("SHELF_IMPORT_BODY_LIMIT"),
		ImportTimeout:   dur("SHELF_IMPORT_TIMEOUT"),
		CursorSecret:    get("SHELF_CURSOR_SECRET"),
		DetailCacheTTL:  ttl("SHELF_DETAIL_CACHE_TTL"),
		FacetCacheTTL:   ttl("SHELF_FACET_CACHE_TTL"),
		SearchMax:       int(num("SHELF_SEARCH_MAX_MATCHES")),
		Currency:        strings.ToUpper(get("SHELF_CURRENCY")),
		IdempotencyTTL:  dur("SHELF_IDEMPOTENCY_TTL"),
		EventRetention:  dur("SHELF_EVENT_RETENTION"),
		EventPoll:       dur("SHELF_EVENT_POLL"),
		LogLevel:        strings.ToLower(get("SHELF_LOG_LEVEL")),
		WebhookWorkers:  int(num("SHELF_WEBHOOK_WORKERS")),
	}
	c.WebhookSchedule = []time.Duration{}
	for _, p := range strings.Split(get("SHELF_WEBHOOK_RETRY_SCHEDULE"), ",") {
		d, err := time.ParseDuration(strings.TrimSpace(p))
		if err != nil || d <= 0 || d > 7*24*time.Hour {
			errs = append(errs, fmt.Sprintf("SHELF_WEBHOOK_RETRY_SCHEDULE: %q must be a duration from 1ms to 168h, e.g. 5s,30s,2m", p))
			continue
		}
		c.WebhookSchedule = append(c.WebhookSchedule, d)
	}
	if len(c.WebhookSchedule) > 20 {
		errs = append(errs, "SHELF_WEBHOOK_RETRY_SCHEDULE: at most 20 retries")
	}
	if v, err := strconv.ParseBool(get("SHELF_WEBHOOK_ALLOW_PRIVATE")); err != nil {
		errs = append(errs, fmt.Sprintf("SHELF_WEBHOOK_ALLOW_PRIVATE=%q: must be true or false", get("SHELF_WEBHOOK_ALLOW_PRIVATE")))
	} else {
		c.WebhookAllowPrivate = v
	}
	c.Abuse = Abuse{
		OrderRateLimit:   count("SHELF_ORDER_RATE_LIMIT"),
		AuthFailureLimit: count("SHELF_AUTH_FAILURE_LIMIT"),
		OrderMaxLines:    int(num("SHELF_ORDER_MAX_LINES")),
		OrderMaxLineQty:  int(num("SHELF_ORDER_MAX_LINE_QUANTITY")),
		OrderMaxUnits:    int(num("SHELF_ORDER_MAX_UNITS")),
		MaxConns:         int(num("SHELF_MAX_CONNS")),
		MaxConnsPerIP:    count("SHELF_MAX_CONNS_PER_IP"),
		MetricsAddr:      get("SHELF_METRICS_ADDR"),
	}
	if d, err := time.ParseDuration(get("SHELF_PENDING_ORDER_TTL")); err != nil || d < 0 || (d > 0 && d < time.Minute) {
		errs = append(errs, fmt.Sprintf("SHELF_PENDING_ORDER_TTL=%q: must be 0 (never) or a duration of at least 1m such as 1h", get("SHELF_PENDING_ORDER_TTL")))
	} else {
		c.Abuse.PendingOrderTTL = d
	}
	if a := c.Abuse.MetricsAddr; a != "" {
		if _, _, err := net.SplitHostPort(a); err != nil {
			errs = append(errs, fmt.Sprintf("SHELF_METRICS_ADDR=%q: must be host:port or :port", a))
		}
	}
	if _, err := store.NormalizeDSN(c.DSN); err != nil {
		errs = append(errs, err.Error())
	} else if store.DatabaseName(c.DSN) == "" {
		errs = append(errs, fmt.Sprintf("SHELF_MYSQL_DSN=%q: must name a database, e.g. root@tcp(127.0.0.1:3306)/shelf", c.DSN))
	}
	if c.ReadDSN != "" {
		if _, err := store.NormalizeDSN(c.ReadDSN); err != nil {
			errs = append(errs, "SHELF_MYSQL_READ_DSN: "+err.Error())
		} else if store.DatabaseName(c.ReadDSN) == "" {
			errs = append(errs, fmt.Sprintf("SHELF_MYSQL_READ_DSN=%q: must name a database", c.ReadDSN))
		}
	}
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		errs = append(errs, fmt.Sprintf("SHELF_ADDR=%q: must be host:port or :port", c.Addr))
	}
	for _, o := range splitList(get("SHELF_CORS_ORIGINS")) {
		if o != "*" && !strings.HasPrefix(o, "http://") && !strings.HasPrefix(o, "https://") {
			errs = append(errs, fmt.Sprintf("SHELF_CORS_ORIGINS: %q must be an origin such as https://shop.example.com", o))
		}
		c.CORSOrigins = append(c.CORSOrigins, o)
	}
	for _, p := range splitList(get("SHELF_TRUSTED_PROXIES")) {
		if !strings.Contains(p, "/") {
			if strings.Contains(p, ":") {
				p += "/128"
			} else {
				p += "/32"
			}
		}
		_, n, err := net.ParseCIDR(p)
		if err != nil {
			errs = append(errs, fmt.Sprintf("SHELF_TRUSTED_PROXIES: %q is not an IP or CIDR", p))
			continue
		}
		c.TrustedProxies = append(c.TrustedProxies, n)
	}
	if _, ok := money.Exponent(c.Currency); !ok {
		errs = append(errs, fmt.Sprintf("SHELF_CURRENCY=%q: must be a current ISO 4217 currency code such as USD", c.Currency))
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		errs = append(errs, fmt.Sprintf("SHELF_LOG_LEVEL=%q: must be debug, info, warn or error", c.LogLevel))
	}
	if len(errs) > 0 {
		return c, fmt.Errorf("configuration:\n  %s", strings.Join(errs, "\n  "))
	}
	return c, nil
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// Help renders the variables for `shelf serve --help`.
func Help() string {
	var b strings.Builder
	b.WriteString("Environment:\n")
	for _, v := range Vars {
		def := v.Default
		if def == "" {
			def = `""`
		}
		fmt.Fprintf(&b, "  %-24s %s\n  %-24s default: %s\n", v.Name, v.Help, "", def)
	}
	return b.String()
}
