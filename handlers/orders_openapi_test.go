package handlers

import (
	"regexp"
	"strings"
	"testing"
)

// TestOpenAPIDocumentsOrderRoutes keeps openapi.yaml in step with the order
// routes: each one registered on the router has its path and method there.
func TestOpenAPIDocumentsOrderRoutes(t *testing.T) {
	t.Parallel()
	doc := string(OpenAPI())
	param := regexp.MustCompile(`:([a-z_]+)`)
	n := 0
	for _, r := range New(Config{}).Routes() {
		if !strings.HasPrefix(r.Path, "/v1/orders") && !strings.HasPrefix(r.Path, "/v1/admin/orders") {
			continue
		}
		n++
		path := param.ReplaceAllString(r.Path, "{$1}")
		i := strings.Index(doc, "\n  "+path+":\n")
		if i < 0 {
			t.Errorf("%s %s: path not in openapi.yaml", r.Method, path)
			continue
		}
		block := doc[i+1:]
		if j := regexp.MustCompile(`\n  [^ ]`).FindStringIndex(block[1:]); j != nil {
			block = block[:j[0]+1]
		}
		if !strings.Contains(block, "\n    "+strings.ToLower(r.Method)+":\n") {
			t.Errorf("%s %s: method not documented", r.Method, path)
		}
	}
	if n < 8 {
		t.Fatalf("found %d order routes, want 8", n)
	}
}
