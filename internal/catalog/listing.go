package catalog

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/shelfcommerce/shelf/internal/cursor"
	"github.com/shelfcommerce/shelf/internal/money"
	"github.com/shelfcommerce/shelf/internal/problem"
)

// Sort is a listing order. Every order ends with the product id as a
// tie-breaker, in the same direction as the key, so that keyset paging is
// total and one index range serves it.
type Sort string

const (
	SortRelevance Sort = "relevance"
	SortPrice     Sort = "price"
	SortPriceDesc Sort = "-price"
	SortNewest    Sort = "newest"
	SortTitle     Sort = "title"
)

// Listing limits.
const (
	DefaultLimit = 24
	MaxLimit     = 100
	maxBrands    = 20
	maxAttrs     = 10
	maxFacets    = 10
	maxQLen      = 200
	// maxCursor bounds a cursor's text: the largest a listing makes ends on
	// a 255-character title of four-byte UTF-8 (1,020 bytes, about 1,400
	// once sealed and encoded).
	maxCursor = 2048
	// CursorTTL is how long a cursor is honoured: an older one is "stale"
	// (400), so a client that kept a page open for a day starts again.
	CursorTTL = 24 * time.Hour
)

// AttrFilter is attr.NAME=VALUE; several values of one name are alternatives
// (color=red or color=blue), different names must all hold.
type AttrFilter struct {
	Name   string
	Values []string
}

// ListQuery is a validated GET /v1/products request.
type ListQuery struct {
	Category string
	MinPrice int64 // minor units; valid when HasMin
	MaxPrice int64
	HasMin   bool
	HasMax   bool
	Q        string   // as given
	Terms    []string // the words of Q that search uses (SearchTerms)
	Brands   []string
	InStock  bool
	Attrs    []AttrFilter // sorted by name
	Sort     Sort
	Facets   []string // "category", "brand", "price", "attr.NAME"
	Cursor   string
	Limit    int
	Currency string

	order []string // Terms with the fewest matches first, once measured (searchOrder)
	floor *seek    // where a one-word walk stops: its word's SearchMaxMatches-th best (searchFloor)
}

var singleParams = map[string]bool{
	"category": true, "min_price": true, "max_price": true, "q": true, "in_stock": true,
	"sort": true, "cursor": true, "limit": true,
}

// ParseListQuery validates the query string of GET /v1/products. Unknown
// parameters, malformed values, repeated single-valued parameters and
// impossible combinations are all reported at once, each naming its
// parameter, as one Invalid (400) problem. currency is the catalog's, in
// which min_price and max_price are read.
func ParseListQuery(raw, currency string) (ListQuery, error) {
	fe := problem.Fields{Kind: problem.Invalid}
	q := ListQuery{Limit: DefaultLimit, Currency: currency}
	vals, err := url.ParseQuery(raw)
	if err != nil {
		fe.Add("query", "is not a valid URL query string")
		return q, fe.Err()
	}
	keys := make([]string, 0, len(vals))
	for k := range vals {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	attrs := map[string][]string{}
	nattr := 0
	for _, k := range keys {
		vs := vals[k]
		if singleParams[k] && len(vs) > 1 {
			fe.Add(k, "must be given at most once")
			continue
		}
		v := vs[0]
		switch {
		case k == "category":
			if !ValidSlug(v) {
				fe.Add(k, "must be a category slug (lower-case letters, digits and hyphens)")
			}
			q.Category = v
		case k == "min_price" || k == "max_price":
			n, err := money.Parse(v, currency)
			if err != nil {
				fe.Add(k, err.Error())
				continue
			}
			if k == "min_price" {
				q.MinPrice, q.HasMin = n, true
			} else {
				q.MaxPrice, q.HasMax = n, true
			}
		case k == "q":
			v = strings.TrimSpace(v)
			switch {
			case v == "":
				fe.Add(k, "must not be empty")
			case utf8.RuneCountInString(v) > maxQLen || !utf8.ValidString(v):
				fe.Add(k, "must be valid UTF-8 of at most 200 characters")
			default:
				q.Q = v
				q.Terms = SearchTerms(v)
				if len(q.Terms) == 0 {
					fe.Add(k, "must contain a word of at least 3 letters or digits that is not a common word such as \"the\"")
				}
			}
		case k == "brand":
			if len(vs) > maxBrands {
				fe.Add(k, "may be given at most 20 times")
				continue
			}
			q.Brands = appendFilterValues(&fe, k, q.Brands, vs)
		case k == "in_stock":
			switch v {
			case "true":
				q.InStock = true
			case "false":
			default:
				fe.Add(k, "must be true or false")
			}
		case strings.HasPrefix(k, "attr."):
			name := AttrName(k[len("attr."):]) // as names are stored
			if !ValidAttrName(name) {
				fe.Add(k, "attribute names are 1 to 64 printable ASCII characters")
				continue
			}
			before := len(attrs[name])
			attrs[name] = appendFilterValues(&fe, k, attrs[name], vs)
			nattr += len(attrs[name]) - before
		case k == "sort":
			switch s := Sort(v); s {
			case SortRelevance, SortPrice, SortPriceDesc, SortNewest, SortTitle:
				q.Sort = s
			default:
				fe.Add(k, "must be one of relevance, price, -price, newest, title")
			}
		case k == "facets":
			seen := map[string]bool{}
			for _, v := range vs {
				for _, f := range strings.Split(v, ",") {
					f = strings.TrimSpace(f)
					if strings.HasPrefix(f, "attr.") {
						f = "attr." + AttrName(f[len("attr."):])
					}
					ok := f == "category" || f == "brand" || f == "price" ||
						(strings.HasPrefix(f, "attr.") && ValidAttrName(f[len("attr."):]))
					if !ok {
						fe.Add(k, "each facet must be category, brand, price or attr.NAME")
						continue
					}
					if !seen[f] {
						seen[f] = true
						q.Facets = append(q.Facets, f)
					}
				}
			}
			if len(q.Facets) > maxFacets {
				fe.Add(k, "at most 10 facets")
			}
		case k == "cursor":
			if v == "" || len(v) > maxCursor {
				fe.Add(k, "is not a cursor from this listing; start again without it")
			}
			q.Cursor = v
		case k == "limit":
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > MaxLimit {
				fe.Add(k, "must be an integer from 1 to 100")
				continue
			}
			q.Limit = n
		default:
			fe.Add(k, "is not a parameter of this listing")
		}
	}
	if nattr > maxAttrs {
		fe.Add("attr", "at most 10 attribute filters")
	}
	for name, vs := range attrs {
		slices.Sort(vs)
		q.Attrs = append(q.Attrs, AttrFilter{Name: name, Values: slices.Compact(vs)})
	}
	slices.SortFunc(q.Attrs, func(a, b AttrFilter) int { return strings.Compare(a.Name, b.Name) })
	slices.Sort(q.Brands)
	q.Brands = slices.Compact(q.Brands)
	if q.HasMin && q.HasMax && q.MinPrice > q.MaxPrice {
		fe.Add("max_price", "must not be less than min_price")
	}
	if q.Sort == "" {
		q.Sort = SortNewest
		if q.Q != "" {
			q.Sort = SortRelevance
		}
	}
	if q.Sort == SortRelevance && len(vals["q"]) == 0 {
		fe.Add("sort", "relevance needs q")
	}
	return q, fe.Err()
}

// appendFilterValues appends the values of filter k to dst, up to the first
// that is empty, longer than 191 bytes or not UTF-8, which is reported.
func appendFilterValues(fe *problem.Fields, k string, dst, vs []string) []string {
	for _, v := range vs {
		if v == "" || len(v) > 191 || !utf8.ValidString(v) {
			fe.Add(k, "must be 1 to 191 bytes of UTF-8")
			break
		}
		dst = append(dst, v)
	}
	return dst
}

// fingerprint identifies the filters and order a cursor belongs to (not the
// limit, which may change from page to page).
func (q *ListQuery) fingerprint() []byte {
	var b strings.Builder
	field := func(s string) { b.WriteString(strconv.Quote(s)); b.WriteByte(0) }
	field(q.Category)
	if q.HasMin {
		field(strconv.FormatInt(q.MinPrice, 10))
	} else {
		field("-")
	}
	if q.HasMax {
		field(strconv.FormatInt(q.MaxPrice, 10))
	} else {
		field("-")
	}
	field(strings.Join(q.Terms, " "))
	for _, br := range q.Brands {
		field(br)
	}
	field("|")
	field(strconv.FormatBool(q.InStock))
	for _, a := range q.Attrs {
		field(a.Name)
		for _, v := range a.Values {
			field(v)
		}
		field("|")
	}
	field(string(q.Sort))
	h := sha256.Sum256([]byte(b.String()))
	return h[:8]
}

// seek is the position after the last row of a page: the sort key of that
// row and its product id.
type seek struct {
	num int64  // price_min, created_at in µs, or relevance
	str string // title
	id  uint64
}

// Cursors are: version, sort, issued-at (s), filter fingerprint, product id,
// numeric key, title key; then an HMAC-SHA256 (truncated to 16 bytes) over
// all of it, base64url. A cursor that was altered, forged, signed with
// another key (before SHELF_CURSOR_SECRET changed), made for other
// filters or sort, or older than CursorTTL is refused with a 400.
const (
	cursorVersion = 1
	cursorHead    = 1 + 1 + 8 + 8 + 8 + 8
)

var sortCode = map[Sort]byte{SortRelevance: 1, SortPrice: 2, SortPriceDesc: 3, SortNewest: 4, SortTitle: 5}

func cursorKey(secret []byte) cursor.Key { return cursor.NewKey(secret, "shelf/listing-cursor") }

func encodeCursor(key cursor.Key, q *ListQuery, s seek, now time.Time) string {
	b := make([]byte, cursorHead, cursorHead+len(s.str))
	b[0] = cursorVersion
	b[1] = sortCode[q.Sort]
	binary.BigEndian.PutUint64(b[2:], uint64(now.Unix()))
	copy(b[10:18], q.fingerprint())
	binary.BigEndian.PutUint64(b[18:], s.id)
	binary.BigEndian.PutUint64(b[26:], uint64(s.num))
	return key.Seal(append(b, s.str...))
}

// decodeCursor verifies c for q and returns its position.
func decodeCursor(key cursor.Key, q *ListQuery, c string, now time.Time) (seek, error) {
	bad := func(why string) error {
		return problem.Field(problem.Invalid, "cursor", why+"; start again without it")
	}
	body, err := key.Open(c)
	if errors.Is(err, cursor.ErrMalformed) || (err == nil && len(body) < cursorHead) {
		return seek{}, bad("is not a cursor from this listing (pass next_cursor exactly as it was returned)")
	}
	if err != nil || body[0] != cursorVersion {
		return seek{}, bad("has a signature this service does not recognise: it was altered, or signed with a key since changed (SHELF_CURSOR_SECRET)")
	}
	if body[1] != sortCode[q.Sort] || !hmac.Equal(body[10:18], q.fingerprint()) {
		return seek{}, bad("was made for other filters or another sort")
	}
	issued := time.Unix(int64(binary.BigEndian.Uint64(body[2:])), 0)
	if now.Sub(issued) > CursorTTL || issued.Sub(now) > time.Minute {
		return seek{}, bad("has expired")
	}
	s := seek{
		id:  binary.BigEndian.Uint64(body[18:]),
		num: int64(binary.BigEndian.Uint64(body[26:])),
		str: string(body[cursorHead:]),
	}
	return s, nil
}
