package handlers_test

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
	"github.com/labstack/echo/v4"

	"github.com/shelfcommerce/shelf/handlers"
)

// The contract: handlers/openapi.yaml, loaded and validated once.
var contract struct {
	once   sync.Once
	doc    *openapi3.T
	router routers.Router
	err    error
}

func loadContract() (*openapi3.T, routers.Router, error) {
	contract.once.Do(func() {
		loader := openapi3.NewLoader()
		doc, err := loader.LoadFromData(handlers.OpenAPI())
		if err != nil {
			contract.err = err
			return
		}
		if err := doc.Validate(context.Background()); err != nil {
			contract.err = err
			return
		}
		// The legacy router is the strict one: it refuses two templates
		// for one path, which tools generating clients cannot tell apart.
		r, err := legacy.NewRouter(doc)
		if err != nil {
			contract.err = err
			return
		}
		contract.doc, contract.router = doc, r
	})
	return contract.doc, contract.router, contract.err
}

func init() {
	// Bodies the contract names that kin-openapi has no decoder for.
	openapi3filter.RegisterBodyDecoder("text/event-stream", openapi3filter.PlainBodyDecoder)
	openapi3filter.RegisterBodyDecoder("application/x-ndjson", openapi3filter.PlainBodyDecoder)
	openapi3filter.RegisterBodyDecoder("text/csv", openapi3filter.PlainBodyDecoder)
}

// server is the router every handler test talks to. It checks each request
// and response against the contract, so a handler and the document cannot
// drift apart without a test failing:
//   - a request the document allows gets a response the document describes
//     (status, headers, body);
//   - a request the document forbids is refused with a 4xx, which must be
//     documented too: the document never promises less than the server
//     enforces... except the rules it cannot express (a category that must
//     exist), which the server enforces on top.
//
// Requests to paths the document does not know (a test's own route, a
// deliberate 404) are passed through unchecked; the router-vs-document test
// keeps the served routes documented.
type server struct {
	*echo.Echo
	tb testing.TB
}

func contractServer(tb testing.TB, e *echo.Echo) *server {
	tb.Helper()
	if _, _, err := loadContract(); err != nil {
		tb.Fatalf("openapi.yaml: %v", err)
	}
	return &server{Echo: e, tb: tb}
}

// with is s reporting to tb (a fuzz target's own *testing.T).
func (s *server) with(tb testing.TB) *server {
	c := *s
	c.tb = tb
	return &c
}

// maxChecked bounds how much of a response body is kept for the check.
const maxChecked = 16 << 20

func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	doc, router, _ := loadContract()
	route, params, err := router.FindRoute(r)
	if err != nil {
		s.Echo.ServeHTTP(w, r)
		return
	}
	var reqBody []byte
	if r.Body != nil && r.Body != http.NoBody {
		reqBody, _ = io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(reqBody))
	}
	check := r.Clone(r.Context())
	check.Body = io.NopCloser(bytes.NewReader(reqBody))
	opts := &openapi3filter.Options{
		AuthenticationFunc:    openapi3filter.NoopAuthenticationFunc,
		IncludeResponseStatus: true,
		MultiError:            true,
	}
	in := &openapi3filter.RequestValidationInput{Request: check, PathParams: params, Route: route, Options: opts}
	reqErr := openapi3filter.ValidateRequest(context.Background(), in)

	tee := &teeWriter{ResponseWriter: w, status: http.StatusOK}
	s.Echo.ServeHTTP(tee, r)

	method := r.Method + " " + r.URL.RequestURI()
	if reqErr != nil && (tee.status < 400 || tee.status >= 500) && tee.status != http.StatusServiceUnavailable {
		s.tb.Errorf("contract: %s breaks openapi.yaml but was answered %d:\n%v", method, tee.status, reqErr)
	}
	body := tee.buf.Bytes()
	if tee.overflow {
		opts.ExcludeResponseBody = true
	} else if strings.EqualFold(tee.Header().Get("Content-Encoding"), "gzip") && len(body) > 0 {
		zr, err := gzip.NewReader(bytes.NewReader(body))
		if err != nil {
			s.tb.Errorf("contract: %s: gzip body: %v", method, err)
			return
		}
		if body, err = io.ReadAll(zr); err != nil {
			s.tb.Errorf("contract: %s: gzip body: %v", method, err)
			return
		}
	}
	out := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in, Status: tee.status, Header: tee.Header(),
		Body: io.NopCloser(bytes.NewReader(body)), Options: opts,
	}
	if err := openapi3filter.ValidateResponse(context.Background(), out); err != nil {
		s.tb.Errorf("contract: %s → %d does not match openapi.yaml:\n%v\nbody: %.600s", method, tee.status, err, body)
	}
	s.checkHeaders(method, route, tee)
	_ = doc
}

// checkHeaders: every response carries X-Request-Id, and the document must
// list the headers the server sends that a client acts on.
func (s *server) checkHeaders(method string, route *routers.Route, tee *teeWriter) {
	if tee.Header().Get("X-Request-Id") == "" {
		s.tb.Errorf("contract: %s → %d has no X-Request-Id", method, tee.status)
	}
	resp := route.Operation.Responses.Status(tee.status)
	if resp == nil || resp.Value == nil {
		return
	}
	for _, h := range []string{"ETag", "Retry-After", "Idempotent-Replayed", "Location", "Content-Disposition"} {
		if tee.Header().Get(h) == "" {
			continue
		}
		if _, ok := resp.Value.Headers[h]; !ok {
			s.tb.Errorf("contract: %s → %d sends %s, which openapi.yaml does not document for it", method, tee.status, h)
		}
	}
}

// teeWriter passes a response through (streams included) and keeps a copy.
type teeWriter struct {
	http.ResponseWriter
	status      int
	wroteHeader bool
	buf         bytes.Buffer
	overflow    bool
}

func (t *teeWriter) WriteHeader(code int) {
	if !t.wroteHeader {
		t.status, t.wroteHeader = code, true
	}
	t.ResponseWriter.WriteHeader(code)
}

func (t *teeWriter) Write(p []byte) (int, error) {
	t.wroteHeader = true
	if t.buf.Len()+len(p) <= maxChecked {
		t.buf.Write(p)
	} else {
		t.overflow = true
	}
	return t.ResponseWriter.Write(p)
}

func (t *teeWriter) Flush() {
	if f, ok := t.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (t *teeWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	if h, ok := t.ResponseWriter.(http.Hijacker); ok {
		return h.Hijack()
	}
	return nil, nil, errors.New("not a hijacker")
}

func (t *teeWriter) Unwrap() http.ResponseWriter { return t.ResponseWriter }

var _ http.Handler = (*server)(nil)
var _ = httptest.NewRecorder
