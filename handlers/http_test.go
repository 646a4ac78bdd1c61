package handlers_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/shelfcommerce/shelf/handlers"
)

// HEAD is answered like GET (RFC 9110 9.3.2), over a real connection so
// that net/http drops the body: same status and headers, no body.
func TestHeadIsAnsweredLikeGet(t *testing.T) {
	t.Parallel()
	logs := &lockedBuffer{}
	e, _ := newCatalogServer(t, func(c *handlers.Config) { c.Logger = slog.New(slog.NewJSONHandler(logs, nil)) })
	srv := httptest.NewServer(e)
	defer srv.Close()
	for _, path := range []string{"/v1/products/1", "/v1/products?limit=2", "/v1/categories", "/v1/products?limit=0"} {
		get, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		get.Body.Close()
		head, err := http.Head(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(head.Body)
		head.Body.Close()
		if head.StatusCode != get.StatusCode || len(body) != 0 {
			t.Errorf("HEAD %s = %d with %d body bytes; GET = %d", path, head.StatusCode, len(body), get.StatusCode)
		}
		for _, h := range []string{"Content-Type", "ETag"} {
			if head.Header.Get(h) != get.Header.Get(h) {
				t.Errorf("HEAD %s: %s %q, GET has %q", path, h, head.Header.Get(h), get.Header.Get(h))
			}
		}
	}
	// The access log names the method the client sent.
	if !strings.Contains(logs.String(), `"method":"HEAD"`) {
		t.Errorf("no HEAD request in the access log:\n%s", logs.String())
	}
	req, _ := http.NewRequest("HEAD", srv.URL+"/v1/orders", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed || strings.Contains(resp.Header.Get("Allow"), "HEAD") {
		t.Errorf("HEAD /v1/orders (POST only) = %d, Allow %q, want 405 without HEAD", resp.StatusCode, resp.Header.Get("Allow"))
	}
	// A 405 names HEAD wherever GET is allowed, as it is answered there.
	for path, want := range map[string]bool{"/v1/categories": true, "/v1/products": true, "/v1/events": false} {
		req, _ := http.NewRequest("DELETE", srv.URL+path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		allow := strings.Split(resp.Header.Get("Allow"), ", ")
		if resp.StatusCode != http.StatusMethodNotAllowed || !slices.Contains(allow, "GET") || slices.Contains(allow, "HEAD") != want {
			t.Errorf("DELETE %s = %d, Allow %q (HEAD listed: want %v)", path, resp.StatusCode, resp.Header.Get("Allow"), want)
		}
	}
}

// gzip is sent only to a client that accepts it: "gzip;q=0" refuses it.
func TestGzipOnlyWhenAccepted(t *testing.T) {
	t.Parallel()
	e, _ := newCatalogServer(t)
	get := func(path, accept string) *httptest.ResponseRecorder {
		req := httptest.NewRequest("GET", path, nil)
		if accept != "" {
			req.Header.Set("Accept-Encoding", accept)
		}
		return do(e, req)
	}
	// A product page large enough to be kept gzipped.
	page := ""
	for id := 1; id <= 300 && page == ""; id++ {
		p := fmt.Sprintf("/v1/products/%d", id)
		if get(p, "gzip").Header().Get("Content-Encoding") == "gzip" {
			page = p
		}
	}
	if page == "" {
		t.Fatal("no product page is sent gzipped")
	}
	for _, path := range []string{"/v1/products?limit=50", page} {
		for accept, want := range map[string]string{
			"gzip": "gzip", "br, gzip;q=0.5": "gzip",
			"gzip;q=0": "", "identity, gzip;q=0": "", "*;q=1, gzip;q=0": "", "gzip; q=0.0": "", "": "",
		} {
			rec := get(path, accept)
			if rec.Code != 200 || rec.Header().Get("Content-Encoding") != want {
				t.Errorf("GET %s with Accept-Encoding %q = %d, Content-Encoding %q, want %q",
					path, accept, rec.Code, rec.Header().Get("Content-Encoding"), want)
			}
			if want == "" && !json.Valid(rec.Body.Bytes()) {
				t.Errorf("GET %s with Accept-Encoding %q: body is not plain JSON", path, accept)
			}
		}
	}
}

// lockedBuffer is a log sink a running server and the test may share.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
