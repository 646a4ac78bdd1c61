package handlers_test

import (
	"sort"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
)

// Tools that generate clients, and gateways, read the document strictly:
// kin-openapi must validate it and its legacy router (which refuses two
// templates for one path) must load it; every operation names itself and its
// security; and every object a response carries lists the members that are
// always there, so generated types are not all-optional.
func TestOpenAPIDocumentIsStrict(t *testing.T) {
	doc, _, err := loadContract()
	if err != nil {
		t.Fatalf("openapi.yaml: %v", err)
	}
	ids := map[string]string{}
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			where := method + " " + path
			switch {
			case op.OperationID == "":
				t.Errorf("%s has no operationId", where)
			case ids[op.OperationID] != "":
				t.Errorf("%s and %s share operationId %s", where, ids[op.OperationID], op.OperationID)
			}
			ids[op.OperationID] = where
			if op.Security == nil {
				t.Errorf("%s has no security (use [] for a public operation)", where)
			}
			for status, resp := range op.Responses.Map() {
				if _, ok := resp.Value.Headers["X-Request-Id"]; !ok {
					t.Errorf("%s → %s does not document X-Request-Id", where, status)
				}
				if status == "503" || status == "429" {
					if _, ok := resp.Value.Headers["Retry-After"]; !ok {
						t.Errorf("%s → %s does not document Retry-After", where, status)
					}
				}
				for _, mt := range resp.Value.Content {
					if mt.Schema != nil {
						checkRequired(t, where+" → "+status, mt.Schema, map[*openapi3.Schema]bool{})
					}
				}
			}
		}
	}
}

// optionalMembers are response objects whose members are each present or
// absent by the request (facets: one member per facet asked for).
var optionalMembers = map[string]bool{"#/components/schemas/Facets": true}

// checkRequired walks a response schema. The members of an allOf part may
// all be optional: they add what some problems carry (short, on_hand, line)
// to a base that lists its required ones.
func checkRequired(t *testing.T, where string, ref *openapi3.SchemaRef, seen map[*openapi3.Schema]bool) {
	t.Helper()
	walkRequired(t, where, ref, seen, false)
}

func walkRequired(t *testing.T, where string, ref *openapi3.SchemaRef, seen map[*openapi3.Schema]bool, extension bool) {
	s := ref.Value
	if s == nil || seen[s] || optionalMembers[ref.Ref] {
		return
	}
	seen[s] = true
	if len(s.Properties) > 0 && len(s.Required) == 0 && !extension {
		names := make([]string, 0, len(s.Properties))
		for n := range s.Properties {
			names = append(names, n)
		}
		sort.Strings(names)
		t.Errorf("%s: an object with %s lists no required members", where, strings.Join(names, ", "))
	}
	for _, p := range s.Properties {
		walkRequired(t, where, p, seen, false)
	}
	if s.Items != nil {
		walkRequired(t, where, s.Items, seen, false)
	}
	for _, sub := range append(s.OneOf, s.AnyOf...) {
		walkRequired(t, where, sub, seen, false)
	}
	for _, sub := range s.AllOf {
		walkRequired(t, where, sub, seen, true)
	}
	if s.AdditionalProperties.Schema != nil {
		walkRequired(t, where, s.AdditionalProperties.Schema, seen, false)
	}
}
