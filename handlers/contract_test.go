package handlers_test

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
	"github.com/labstack/echo/v4"
	"github.com/santhosh-tekuri/jsonschema/v6"
	"gopkg.in/yaml.v3"

	"github.com/shelfcommerce/shelf/handlers"
)

// The contract: handlers/openapi.yaml, loaded and validated once.
var contract struct {
	once   sync.Once
	doc    *openapi3.T
	router routers.Router
	err    error
	// bodies compiles the document's schemas as JSON Schema 2020-12 once;
	// kin-openapi compiles a validator for every value it checks against a
	// 3.1 document, which made the handler tests several times slower.
	bodies  *jsonschema.Compiler
	mu      sync.Mutex
	schemas map[string]*jsonschema.Schema
}

const contractURL = "file:///openapi.json"

// bodySchema is the compiled schema at a JSON pointer into the document.
func bodySchema(pointer string) (*jsonschema.Schema, error) {
	contract.mu.Lock()
	defer contract.mu.Unlock()
	if sch, ok := contract.schemas[pointer]; ok {
		return sch, nil
	}
	sch, err := contract.bodies.Compile(contractURL + "#" + pointer)
	if err != nil {
		return nil, err
	}
	contract.schemas[pointer] = sch
	return sch, nil
}

// pointerEscape escapes a JSON pointer token.
func pointerEscape(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1")
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
		var tree any
		if err := yaml.Unmarshal(handlers.OpenAPI(), &tree); err != nil {
			contract.err = err
			return
		}
		js, err := json.Marshal(tree)
		if err != nil {
			contract.err = err
			return
		}
		asJSON, err := jsonschema.UnmarshalJSON(bytes.NewReader(js))
		if err != nil {
			contract.err = err
			return
		}
		c := jsonschema.NewCompiler()
		c.DefaultDraft(jsonschema.Draft2020)
		if err := c.AddResource(contractURL, asJSON); err != nil {
			contract.err = err
			return
		}
		// Parameters and request bodies are checked by kin-openapi's own
		// validator (the document read as 3.0: none of them needs a 3.1
		// keyword), response bodies by the compiled 2020-12 schemas.
		doc.OpenAPI = "3.0.3"
		contract.doc, contract.router, contract.bodies = doc, r, c
		contract.schemas = map[string]*jsonschema.Schema{}
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
	_, router, _ := loadContract()
	route, params, err := router.FindRoute(r)
	if err != nil {
		s.Echo.ServeHTTP(w, r)
		return
	}
	// The request body is checked as the handler read it, after the fact:
	// reading it first would hold a streamed upload (an import) until its end.
	var reqBody cappedBuffer
	check := r.Clone(r.Context())
	// The document states once (info.description) that any application/*+json
	// body is read as JSON; its request bodies list application/json only.
	if mt, _, _ := mime.ParseMediaType(check.Header.Get("Content-Type")); strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+json") {
		check.Header.Set("Content-Type", "application/json")
	}
	if r.Body != nil && r.Body != http.NoBody {
		r.Body = struct {
			io.Reader
			io.Closer
		}{io.TeeReader(r.Body, &reqBody), r.Body}
	}
	tee := &teeWriter{ResponseWriter: w, status: http.StatusOK}
	s.Echo.ServeHTTP(tee, r)

	sent, cut := reqBody.snapshot()
	check.Body = io.NopCloser(bytes.NewReader(sent))
	opts := &openapi3filter.Options{
		AuthenticationFunc:    openapi3filter.NoopAuthenticationFunc,
		IncludeResponseStatus: true,
		MultiError:            true,
		ExcludeRequestBody:    cut,
	}
	in := &openapi3filter.RequestValidationInput{Request: check, PathParams: params, Route: route, Options: opts}
	reqErr := openapi3filter.ValidateRequest(context.Background(), in)

	method := r.Method + " " + r.URL.RequestURI()
	if reqErr != nil && (tee.status < 400 || tee.status >= 500) && tee.status != http.StatusServiceUnavailable {
		s.tb.Errorf("contract: %s breaks openapi.yaml but was answered %d:\n%v", method, tee.status, reqErr)
	}
	body, overflow := tee.buf.snapshot()
	if overflow {
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
	// Status and headers by kin-openapi, the body by the compiled schema.
	opts.ExcludeResponseBody = true
	out := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in, Status: tee.status, Header: tee.Header(),
		Body: io.NopCloser(bytes.NewReader(body)), Options: opts,
	}
	if err := openapi3filter.ValidateResponse(context.Background(), out); err != nil {
		s.tb.Errorf("contract: %s → %d does not match openapi.yaml:\n%v\nbody: %.600s", method, tee.status, err, body)
	}
	if r.Method != http.MethodHead && tee.status != http.StatusNotModified && !overflow {
		if err := checkBody(route, tee.status, tee.Header().Get("Content-Type"), body); err != nil {
			s.tb.Errorf("contract: %s → %d: the body does not match openapi.yaml:\n%v\nbody: %.600s", method, tee.status, err, body)
		}
	}
	s.checkHeaders(method, route, tee)
}

// checkBody validates a response body against the schema the document
// gives its status and media type.
func checkBody(route *routers.Route, status int, contentType string, body []byte) error {
	resp := route.Operation.Responses.Status(status)
	if resp == nil || resp.Value == nil {
		return nil // an undocumented status was reported above
	}
	mediaType, _, _ := strings.Cut(contentType, ";")
	mediaType = strings.TrimSpace(mediaType)
	mt := resp.Value.Content.Get(mediaType)
	if len(resp.Value.Content) == 0 {
		if len(body) > 0 {
			return fmt.Errorf("the document gives this response no body, and it has %d bytes", len(body))
		}
		return nil
	}
	if mt == nil {
		return fmt.Errorf("Content-Type %q is not one the document lists", contentType)
	}
	if mt.Schema == nil {
		return nil
	}
	base := resp.Ref
	if base == "" {
		base = "#/paths/" + pointerEscape(route.Path) + "/" + strings.ToLower(route.Method) + "/responses/" + strconv.Itoa(status)
	}
	var key string
	for k := range resp.Value.Content {
		if resp.Value.Content[k] == mt {
			key = k
		}
	}
	sch, err := bodySchema(strings.TrimPrefix(base, "#") + "/content/" + pointerEscape(key) + "/schema")
	if err != nil {
		return err
	}
	var v any
	switch {
	case mediaType == "application/x-ndjson" || strings.HasPrefix(mediaType, "text/"):
		v = string(body)
	case strings.HasSuffix(mediaType, "json"):
		if v, err = jsonschema.UnmarshalJSON(bytes.NewReader(body)); err != nil {
			return fmt.Errorf("not JSON: %w", err)
		}
	default:
		return nil // YAML: the document itself
	}
	return sch.Validate(v)
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

// cappedBuffer keeps the first maxChecked bytes written to it. It is locked:
// an import stopped early leaves its parser reading the body for a while.
type cappedBuffer struct {
	mu       sync.Mutex
	buf      bytes.Buffer
	overflow bool
}

// snapshot is a copy of what was kept, and whether some was not.
func (c *cappedBuffer) snapshot() ([]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return bytes.Clone(c.buf.Bytes()), c.overflow
}

func (c *cappedBuffer) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.buf.Len()+len(p) <= maxChecked {
		c.buf.Write(p)
	} else {
		c.overflow = true
	}
	return len(p), nil
}

// teeWriter passes a response through (streams included) and keeps a copy.
type teeWriter struct {
	http.ResponseWriter
	status      int
	wroteHeader bool
	buf         cappedBuffer
}

func (t *teeWriter) WriteHeader(code int) {
	if !t.wroteHeader {
		t.status, t.wroteHeader = code, true
	}
	t.ResponseWriter.WriteHeader(code)
}

func (t *teeWriter) Write(p []byte) (int, error) {
	t.wroteHeader = true
	_, _ = t.buf.Write(p)
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
