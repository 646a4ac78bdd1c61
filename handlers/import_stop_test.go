package handlers_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/shelfcommerce/shelf/handlers"
	"github.com/shelfcommerce/shelf/internal/auth"
)

// A shutdown during a long import writes the batch in flight, then answers
// the client with the report so far (complete: false) instead of dropping
// the connection, and the request is logged.
func TestShutdownEndsAnImportWithItsReport(t *testing.T) {
	t.Parallel()
	stopping := make(chan struct{})
	e, d, logs := newServer(t, func(c *handlers.Config) { c.Shutdown = stopping })
	key := adminKey(t, d, "importer", auth.ScopeImportsWrite)

	body, upload := io.Pipe()
	req := httptest.NewRequest(http.MethodPost, "/v1/admin/imports?format=csv", body)
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "text/csv")
	req.ContentLength = 1 << 26 // a large file, still arriving
	answered := make(chan *httptest.ResponseRecorder)
	go func() { answered <- do(e, req) }()

	fmt.Fprintln(upload, "handle,title,sku,price")
	for i := range 2500 { // more than one batch
		fmt.Fprintf(upload, "p-%d,P %d,SKU-%d,1.00\n", i, i, i)
	}
	for count(t, d, "SELECT COUNT(*) FROM products") == 0 {
		time.Sleep(20 * time.Millisecond) // the first batch is being written
	}
	close(stopping)
	rec := <-answered
	upload.Close()
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	var r importReport
	if err := json.Unmarshal(rec.Body.Bytes(), &r); err != nil {
		t.Fatal(err)
	}
	written := count(t, d, "SELECT COUNT(*) FROM products")
	if r.Complete || r.Created != written || written == 0 || written == 2500 || len(r.Errors) != 1 ||
		!strings.Contains(r.Errors[0].Message, "server stopped") {
		t.Errorf("report %+v, %d products written", r, written)
	}
	if !strings.Contains(logs.String(), `"path":"/v1/admin/imports"`) {
		t.Errorf("the import request was not logged:\n%s", logs)
	}
}
