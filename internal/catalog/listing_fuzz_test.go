package catalog

import (
	"strings"
	"testing"
	"time"
)

// FuzzParseListQuery feeds arbitrary query strings to the parser and the
// cursor decoder: neither may panic; an accepted query keeps its invariants;
// a cursor is accepted only if it is one this key signed for this query; and
// every accepted query renders SQL whose placeholders match its arguments.
func FuzzParseListQuery(f *testing.F) {
	for _, s := range []string{
		"", "limit=5", "q=linen+shirt&sort=relevance", "category=shoes&min_price=10&max_price=99.95",
		"brand=Acme&brand=Quill&in_stock=true", "attr.color=red&attr.color=blue&attr.material=wool",
		"facets=category,brand,price,attr.color", "cursor=AAAA", "sort=-price&limit=100", "limit=0",
		"q=%2B%2B%2B--~*%22", "min_price=1.005", "attr.=x", "facets=attr.",
	} {
		f.Add(s)
	}
	key := cursorKey([]byte("fuzz"))
	now := time.Unix(1_800_000_000, 0)
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := ParseListQuery(raw, "USD")
		if err != nil {
			return
		}
		if q.Limit < 1 || q.Limit > MaxLimit {
			t.Fatalf("limit %d accepted", q.Limit)
		}
		if q.HasMin && q.HasMax && q.MinPrice > q.MaxPrice {
			t.Fatal("min > max accepted")
		}
		if q.Sort == SortRelevance && len(q.Terms) == 0 {
			t.Fatal("relevance without terms")
		}
		for _, term := range q.Terms {
			if strings.ContainsAny(term, "+-~*\"()<>@ ") {
				t.Fatalf("term %q carries boolean-mode syntax", term)
			}
		}
		if q.Cursor != "" {
			if _, err := decodeCursor(key, &q, q.Cursor, now); err == nil {
				t.Fatalf("unsigned cursor %q accepted", q.Cursor)
			}
		}
		// A cursor we sign round-trips, and only for this query.
		sk := seek{num: 12345, str: "Title", id: 99}
		c := encodeCursor(key, &q, sk, now)
		got, err := decodeCursor(key, &q, c, now)
		if err != nil || got != sk {
			t.Fatalf("round trip: %v %+v", err, got)
		}
		other := q
		other.InStock = !q.InStock
		if _, err := decodeCursor(key, &other, c, now); err == nil {
			t.Fatal("cursor accepted for another filter")
		}
		if _, err := decodeCursor(key, &q, c, now.Add(CursorTTL+time.Minute)); err == nil {
			t.Fatal("stale cursor accepted")
		}
		for _, walk := range []bool{true, false} {
			query, args := listSQL(&q, 7, &sk, q.Limit+1, 100, walk)
			if n := strings.Count(query, "?"); n != len(args) {
				t.Fatalf("%d placeholders, %d args: %s", n, len(args), query)
			}
		}
		if len(q.Terms) > 0 {
			cq, cargs := searchCountsSQL(q.Terms, 100)
			if n := strings.Count(cq, "?"); n != len(cargs) {
				t.Fatalf("counts: %d placeholders, %d args: %s", n, len(cargs), cq)
			}
		}
		for _, fc := range q.Facets {
			fq, fargs := facetSQL(&q, 7, fc, []uint64{1, 2}, 100)
			if n := strings.Count(fq, "?"); n != len(fargs) {
				t.Fatalf("facet %s: %d placeholders, %d args: %s", fc, n, len(fargs), fq)
			}
		}
	})
}
