package handlers_test

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"
	"gopkg.in/yaml.v3"

	"github.com/shelfcommerce/shelf/handlers"
	"github.com/shelfcommerce/shelf/internal/dbtest"
	"github.com/shelfcommerce/shelf/internal/store"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

// newServer is the one way handler tests build a server: over a fresh
// database, with every request and response checked against openapi.yaml.
func newServer(t testing.TB, mutate ...func(*handlers.Config)) (*server, *dbtest.DB, *bytes.Buffer) {
	t.Helper()
	d := dbtest.New(t)
	mig, err := store.NewMigrator(d.DB, nil)
	if err != nil {
		t.Fatal(err)
	}
	logs := &bytes.Buffer{}
	cfg := handlers.Config{
		Logger:        slog.New(handlers.ContextHandler{Handler: slog.NewJSONHandler(logs, nil)}),
		Store:         d.Store,
		SchemaVersion: store.LatestVersion(mig),
		BodyLimit:     1 << 10,
	}
	for _, m := range mutate {
		m(&cfg)
	}
	return contractServer(t, handlers.New(cfg)), d, logs
}

func do(e http.Handler, req *http.Request) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, req)
	return rec
}

func decodeProblem(t *testing.T, rec *httptest.ResponseRecorder) map[string]any {
	t.Helper()
	if ct := rec.Header().Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("Content-Type = %q, want application/problem+json (body %s)", ct, rec.Body)
	}
	var m map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &m); err != nil {
		t.Fatalf("problem body is not JSON: %v: %s", err, rec.Body)
	}
	return m
}

func TestHealthAndReadiness(t *testing.T) {
	t.Parallel()
	e, _, _ := newServer(t)
	if rec := do(e, httptest.NewRequest("GET", "/healthz", nil)); rec.Code != 200 {
		t.Fatalf("healthz = %d", rec.Code)
	}
	if rec := do(e, httptest.NewRequest("GET", "/readyz", nil)); rec.Code != 200 {
		t.Fatalf("readyz = %d: %s", rec.Code, rec.Body)
	}
}

func TestReadyzIs503WhenTheSchemaIsBehindTheBinary(t *testing.T) {
	t.Parallel()
	e, _, _ := newServer(t, func(c *handlers.Config) { c.SchemaVersion += 1 })
	rec := do(e, httptest.NewRequest("GET", "/readyz", nil))
	if rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("readyz = %d, want 503", rec.Code)
	}
	if p := decodeProblem(t, rec); !strings.Contains(p["detail"].(string), "migrate up") {
		t.Fatalf("detail %q does not say what to do", p["detail"])
	}
}

func TestRequestIDIsEchoedOrMade(t *testing.T) {
	t.Parallel()
	e, _, logs := newServer(t)
	req := httptest.NewRequest("GET", "/healthz", nil)
	req.Header.Set("X-Request-Id", "storefront-42")
	if got := do(e, req).Header().Get("X-Request-Id"); got != "storefront-42" {
		t.Fatalf("X-Request-Id = %q, want the client's", got)
	}
	for _, id := range []string{"Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", "q+/Ab=="} {
		req := httptest.NewRequest("GET", "/healthz", nil)
		req.Header.Set("X-Request-Id", id)
		if got := do(e, req).Header().Get("X-Request-Id"); got != id {
			t.Errorf("X-Request-Id = %q, want the client's %q", got, id)
		}
	}
	req = httptest.NewRequest("GET", "/healthz", nil)
	req.Header.Set("X-Request-Id", "bad id\nwith newline")
	got := do(e, req).Header().Get("X-Request-Id")
	if got == "" || strings.ContainsAny(got, " \n") {
		t.Fatalf("X-Request-Id = %q, want a fresh safe id", got)
	}
	if !strings.Contains(logs.String(), `"request_id":"storefront-42"`) {
		t.Fatalf("access log lacks the request id:\n%s", logs)
	}
	if !regexp.MustCompile(`"duration_ms":[0-9.]+[,}]`).MatchString(logs.String()) {
		t.Errorf("access log lacks the duration in milliseconds:\n%s", logs)
	}
}

func TestUnknownRouteIsAProblemDocument(t *testing.T) {
	t.Parallel()
	e, _, _ := newServer(t)
	rec := do(e, httptest.NewRequest("GET", "/v1/nothing-here", nil))
	if rec.Code != 404 {
		t.Fatalf("status = %d", rec.Code)
	}
	p := decodeProblem(t, rec)
	if p["status"].(float64) != 404 || p["request_id"] == "" || p["type"] == "" {
		t.Fatalf("problem = %v", p)
	}
}

func TestBodyOverTheLimitIs413(t *testing.T) {
	t.Parallel()
	e, _, _ := newServer(t)
	// Any route will do: the limit applies before routing to a handler.
	rec := do(e, httptest.NewRequest("POST", "/healthz", strings.NewReader(strings.Repeat("x", 4096))))
	if rec.Code != http.StatusRequestEntityTooLarge {
		t.Fatalf("status = %d, want 413", rec.Code)
	}
	decodeProblem(t, rec)
}

func TestPanicsBecomeA500ThatLeaksNothing(t *testing.T) {
	t.Parallel()
	e, _, logs := newServer(t)
	e.GET("/boom", func(echo.Context) error { panic("SELECT secret FROM users") })
	rec := do(e, httptest.NewRequest("GET", "/boom", nil))
	if rec.Code != 500 {
		t.Fatalf("status = %d", rec.Code)
	}
	if strings.Contains(rec.Body.String(), "SELECT") {
		t.Fatalf("500 leaks internals: %s", rec.Body)
	}
	decodeProblem(t, rec)
	if !strings.Contains(logs.String(), "SELECT secret") {
		t.Fatal("the panic was not logged for the operator")
	}
}

func TestForwardedForIsIgnoredUnlessTheProxyIsTrusted(t *testing.T) {
	t.Parallel()
	e, _, logs := newServer(t)
	req := httptest.NewRequest("GET", "/healthz", nil)
	req.RemoteAddr = "203.0.113.9:5555"
	req.Header.Set("X-Forwarded-For", "1.2.3.4")
	do(e, req)
	if strings.Contains(logs.String(), "1.2.3.4") || !strings.Contains(logs.String(), "203.0.113.9") {
		t.Fatalf("client IP taken from an untrusted X-Forwarded-For:\n%s", logs)
	}
}

func TestMetricsCountRequestsByRouteTemplate(t *testing.T) {
	t.Parallel()
	e, _, _ := newServer(t)
	do(e, httptest.NewRequest("GET", "/healthz", nil))
	rec := do(e, httptest.NewRequest("GET", "/metrics", nil))
	body := rec.Body.String()
	for _, want := range []string{
		`shelf_http_requests_total{method="GET",route="/healthz",status="200"} 1`,
		`shelf_http_request_duration_seconds_bucket`,
		`go_sql_max_open_connections{db_name="shelf"}`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

// The OpenAPI document and the router must describe the same API: every
// route is documented and every documented operation is served.
func TestOpenAPIMatchesTheRouter(t *testing.T) {
	t.Parallel()
	e, _, _ := newServer(t)
	rec := do(e, httptest.NewRequest("GET", "/openapi.yaml", nil))
	if rec.Code != 200 {
		t.Fatalf("GET /openapi.yaml = %d", rec.Code)
	}
	body, _ := io.ReadAll(rec.Body)
	var doc struct {
		OpenAPI string                          `yaml:"openapi"`
		Paths   map[string]map[string]yaml.Node `yaml:"paths"`
	}
	if err := yaml.Unmarshal(body, &doc); err != nil {
		t.Fatalf("openapi.yaml is not YAML: %v", err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.1") {
		t.Errorf("openapi = %q, want 3.1.x", doc.OpenAPI)
	}
	methods := map[string]bool{"get": true, "post": true, "put": true, "patch": true, "delete": true, "head": true}
	documented := map[string]bool{}
	for path, ops := range doc.Paths {
		for m := range ops {
			if methods[m] {
				documented[strings.ToUpper(m)+" "+path] = true
			}
		}
	}
	param := regexp.MustCompile(`:([a-zA-Z_]+)`)
	served := map[string]bool{}
	for _, r := range e.Routes() {
		if r.Path == "" || r.Path == "/*" || r.Method == echo.RouteNotFound || strings.HasPrefix(r.Path, "/boom") {
			continue
		}
		served[r.Method+" "+param.ReplaceAllString(r.Path, "{$1}")] = true
	}
	// HEAD is answered on every GET route (the event stream excepted) and
	// documented as such.
	for k := range served {
		if path, ok := strings.CutPrefix(k, "GET "); ok && path != "/v1/events" {
			served["HEAD "+path] = true
		}
	}
	var missing, extra []string
	for k := range served {
		if !documented[k] {
			missing = append(missing, k)
		}
	}
	for k := range documented {
		if !served[k] {
			extra = append(extra, k)
		}
	}
	sort.Strings(missing)
	sort.Strings(extra)
	if len(missing) > 0 {
		t.Errorf("routes missing from openapi.yaml: %v", missing)
	}
	if len(extra) > 0 {
		t.Errorf("openapi.yaml documents operations nobody serves: %v", extra)
	}
}
