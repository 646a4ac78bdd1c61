package catalog

import (
	"strconv"
	"strings"
	"time"

	"github.com/shelfcommerce/shelf/internal/money"
)

// The storefront's run-time SQL (listing pages and facets) is built here and
// only here, from fixed fragments: values always travel as placeholders, and
// column names come from sortColumns. Every shape reads product_listing
// through one of its indexes on (category_id, <sort key>, product_id): the
// category (0 for the whole catalog) is an equality, the sort key and id give
// the order, and the keyset seek is written in the expanded form
// `k > ? OR (k = ? AND id > ?)`, which MariaDB turns into an index range (it
// does not for a row constructor).

// selectQuery is a SELECT assembled clause by clause. Each clause is appended
// with its own arguments and SQL lays the clauses out in statement order, so
// placeholders and arguments line up whatever order the clauses were added in.
type selectQuery struct {
	columns, from, where, tail []fragment
}

type fragment struct {
	sql  string
	args []any
}

// Select adds a column (joined with ", ").
func (b *selectQuery) Select(sql string, args ...any) {
	b.columns = append(b.columns, fragment{sql, args})
}

// From adds a table or a join (joined with " ").
func (b *selectQuery) From(sql string, args ...any) { b.from = append(b.from, fragment{sql, args}) }

// Where adds a condition (joined with " AND ").
func (b *selectQuery) Where(sql string, args ...any) { b.where = append(b.where, fragment{sql, args}) }

// Tail adds GROUP BY, ORDER BY or LIMIT text (joined with " ").
func (b *selectQuery) Tail(sql string, args ...any) { b.tail = append(b.tail, fragment{sql, args}) }

// SQL is the statement and its arguments.
func (b *selectQuery) SQL() (string, []any) {
	var s strings.Builder
	var args []any
	part := func(head, sep string, fs []fragment) {
		if len(fs) == 0 {
			return
		}
		s.WriteString(head)
		for i, f := range fs {
			if i > 0 {
				s.WriteString(sep)
			}
			s.WriteString(f.sql)
			args = append(args, f.args...)
		}
	}
	part("SELECT ", ", ", b.columns)
	part(" FROM ", " ", b.from)
	part(" WHERE ", " AND ", b.where)
	part(" ", " ", b.tail)
	return s.String(), args
}

type sortSpec struct {
	col   string // the key column, qualified
	desc  bool
	index string // the product_listing index that holds this order
}

var sortColumns = map[Sort]sortSpec{
	SortNewest:    {"pl.created_at", true, "product_listing_newest"},
	SortPrice:     {"pl.price_min", false, "product_listing_price"},
	SortPriceDesc: {"pl.price_min", true, "product_listing_price"},
	SortTitle:     {"pl.title", false, "product_listing_title"},
	SortRelevance: {"m.rel", true, ""},
}

// Searches read search_words (see search_words.go) in one of two shapes.
//
// A page of one word by relevance walks search_words_rank backwards from
// the word's best product (or the cursor), joins each product's listing row
// by primary key and stops after limit rows that pass the filters: the
// cost is the rows walked, not the word's matches (searchWalk). It also
// stops at the rank of the word's maxMatches-th best product (its floor,
// kept by the storefront until a product write, 10 s at most: searchFloor),
// so every row it reads is among the products a search considers and its
// page is exactly the other shape's, in one statement; with filters that
// let few products through, it reads at most maxMatches rows.
//
// Every other search (several words, another sort, facets) starts from the
// maxMatches best products of its first term, which the storefront puts
// first because it is in the fewest products (searchOrder), and joins each
// further term by primary key: every term must occur, and relevance is the
// sum of the terms' scores.

// searchWalk reports whether q's page is a walk of one word's ranking.
func searchWalk(q *ListQuery) bool { return len(q.Terms) == 1 && q.Sort == SortRelevance }

// searchOrder is q's terms in the order the SQL takes them: the fewest
// matches first, once the storefront has measured them.
func (q *ListQuery) searchOrder() []string {
	if len(q.order) == len(q.Terms) {
		return q.order
	}
	return q.Terms
}

// listingFrom is the FROM of every listing and facet query for q other than
// a walk (see above).
//
// index, when set, is forced for product_listing: a page then walks the
// sort's index from the seek point and stops after limit matches, whatever
// the filters, instead of letting the optimizer gather every row a filter
// selects (a brand, a price range, an attribute) and filesort them, which on
// a million products costs tens of milliseconds per page. The price of the
// choice: a filter that matches almost nothing in a big category walks much
// of that category's range (bounded by the category, never the table).
//
// With search terms, the listing rows are joined to the matching products
// among the first term's maxMatches best, each with its relevance, by
// primary key (category, product): left to itself, the optimizer may
// build a filter of the category's every row first.
func listingFrom(b *selectQuery, q *ListQuery, maxMatches int, index string) {
	if len(q.Terms) == 0 {
		if index != "" {
			b.From("product_listing pl FORCE INDEX (" + index + ")")
		} else {
			b.From("product_listing pl")
		}
		return
	}
	terms := q.searchOrder()
	rel := "w0.score"
	var joins strings.Builder
	args := []any{terms[0]}
	for i, t := range terms[1:] {
		w := "w" + strconv.Itoa(i+1)
		rel += " + " + w + ".score"
		joins.WriteString(" JOIN search_words " + w + " ON " + w + ".product_id = w0.product_id AND " + w + ".word = ?")
		args = append(args, t)
	}
	b.From("(SELECT w0.product_id AS id, CAST("+rel+" AS SIGNED) AS rel FROM"+
		" (SELECT product_id, score FROM search_words FORCE INDEX (search_words_rank) WHERE word = ?"+
		" ORDER BY score DESC, product_id DESC LIMIT "+strconv.Itoa(maxMatches)+") w0"+joins.String()+
		") m JOIN product_listing pl FORCE INDEX (PRIMARY) ON pl.product_id = m.id", args...)
}

// searchFloorSQL reads the rank (score, id) of word's maxMatches-th best
// product: no row when the word is in fewer products.
func searchFloorSQL(word string, maxMatches int) (string, []any) {
	return "SELECT score, product_id FROM search_words FORCE INDEX (search_words_rank) WHERE word = ?" +
		" ORDER BY score DESC, product_id DESC LIMIT 1 OFFSET " + strconv.Itoa(maxMatches-1), []any{word}
}

// searchCountsSQL counts, up to maxMatches+1 each, the products of each of
// terms, in their order.
func searchCountsSQL(terms []string, maxMatches int) (string, []any) {
	var b strings.Builder
	args := make([]any, 0, len(terms))
	for i, t := range terms {
		if i > 0 {
			b.WriteString(" UNION ALL ")
		}
		b.WriteString("SELECT " + strconv.Itoa(i) + ", COUNT(*) FROM (SELECT 1 FROM search_words FORCE INDEX (search_words_rank)" +
			" WHERE word = ? LIMIT " + strconv.Itoa(maxMatches+1) + ") c" + strconv.Itoa(i))
		args = append(args, t)
	}
	return b.String(), args
}

// whereFilters adds q's filters other than the category.
func whereFilters(b *selectQuery, q *ListQuery) {
	if q.HasMin {
		b.Where("pl.price_min >= ?", q.MinPrice)
	}
	if q.HasMax {
		b.Where("pl.price_min <= ?", q.MaxPrice)
	}
	if len(q.Brands) > 0 {
		b.Where("pl.brand IN ("+placeholders(len(q.Brands))+")", anys(q.Brands)...)
	}
	if q.InStock {
		b.Where("pl.in_stock = 1")
	}
	for _, a := range q.Attrs {
		b.Where("EXISTS (SELECT 1 FROM product_attributes a WHERE a.product_id = pl.product_id AND a.name = ? AND a.value IN ("+
			placeholders(len(a.Values))+") LIMIT 1)", append([]any{a.Name}, anys(a.Values)...)...)
	}
}

// filtered starts a query over q's listing rows in category catID.
func filtered(q *ListQuery, catID uint64, maxMatches int, index string) *selectQuery {
	b := &selectQuery{}
	listingFrom(b, q, maxMatches, index)
	b.Where("pl.category_id = ?", catID)
	whereFilters(b, q)
	return b
}

func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?,", n), ",")
}

func anys[T any](vs []T) []any {
	out := make([]any, len(vs))
	for i, v := range vs {
		out[i] = v
	}
	return out
}

// listSQL is the page query: filters, then the seek after the previous page,
// then the order and limit. walk picks the walk for a one-word relevance
// page (see searchWalk); the other shape serves it too.
func listSQL(q *ListQuery, catID uint64, after *seek, limit, maxMatches int, walk bool) (string, []any) {
	spec := sortColumns[q.Sort]
	rel, id := "0", "pl.product_id"
	b := &selectQuery{}
	switch {
	case walk && searchWalk(q):
		// The walk: search_words_rank from the top (or the seek), each row's
		// listing row by primary key, in that order (see listingFrom).
		rel, id = "w.score", "w.product_id"
		spec = sortSpec{col: "w.score", desc: true}
		b.From("search_words w FORCE INDEX (search_words_rank) STRAIGHT_JOIN product_listing pl FORCE INDEX (PRIMARY) ON pl.product_id = w.product_id")
		b.Where("w.word = ?", q.Terms[0])
		if f := q.floor; f != nil {
			b.Where("(w.score > ? OR (w.score = ? AND w.product_id >= ?))", f.num, f.num, f.id)
		}
	case len(q.Terms) > 0:
		rel = "m.rel"
		listingFrom(b, q, maxMatches, "")
	default:
		listingFrom(b, q, maxMatches, spec.index)
	}
	b.Select("pl.product_id, pl.slug, pl.title, pl.brand, pl.price_min, pl.currency, pl.in_stock, pl.created_at, " + rel)
	b.Where("pl.category_id = ?", catID)
	whereFilters(b, q)
	cmp, dir := ">", "ASC"
	if spec.desc {
		cmp, dir = "<", "DESC"
	}
	if after != nil {
		var key any = after.num
		switch q.Sort {
		case SortTitle:
			key = after.str
		case SortNewest:
			key = time.UnixMicro(after.num).UTC()
		}
		b.Where("("+spec.col+" "+cmp+" ? OR ("+spec.col+" = ? AND "+id+" "+cmp+" ?))", key, key, after.id)
	}
	b.Tail("ORDER BY " + spec.col + " " + dir + ", " + id + " " + dir)
	b.Tail("LIMIT " + strconv.Itoa(limit))
	return b.SQL()
}

// facetSQL is the query of one facet of q; children are the categories the
// category facet counts (none: no query).
func facetSQL(q *ListQuery, catID uint64, facet string, children []uint64, maxMatches int) (string, []any) {
	switch {
	case facet == "brand":
		b := filtered(q, catID, maxMatches, "")
		b.Select("pl.brand, COUNT(*) AS n")
		b.Tail("GROUP BY pl.brand ORDER BY n DESC, pl.brand LIMIT " + strconv.Itoa(facetValues))
		return b.SQL()
	case facet == "price":
		exp, _ := money.Exponent(q.Currency)
		unit := pow10(exp)
		b := filtered(q, catID, maxMatches, "")
		b.Select("CAST(COALESCE(MIN(pl.price_min), -1) AS SIGNED)")
		b.Select("CAST(COALESCE(MAX(pl.price_min), -1) AS SIGNED)")
		for i, e := range priceEdges {
			if i+1 < len(priceEdges) {
				b.Select("CAST(COALESCE(SUM(pl.price_min >= ? AND pl.price_min < ?), 0) AS SIGNED)", e*unit, priceEdges[i+1]*unit)
			} else {
				b.Select("CAST(COALESCE(SUM(pl.price_min >= ?), 0) AS SIGNED)", e*unit)
			}
		}
		return b.SQL()
	case facet == "category":
		if len(children) == 0 {
			return "", nil
		}
		// A child's listing rows are exactly the filtered category's products
		// that are in the child or below, and carry the same filter columns:
		// count them in place (index ranges of the children) instead of
		// joining every matching row to its other categories.
		b := &selectQuery{}
		b.Select("pl.category_id, COUNT(*) AS n")
		listingFrom(b, q, maxMatches, "")
		b.Where("pl.category_id IN ("+placeholders(len(children))+")", anys(children)...)
		whereFilters(b, q)
		b.Tail("GROUP BY pl.category_id")
		return b.SQL()
	case strings.HasPrefix(facet, "attr."):
		b := filtered(q, catID, maxMatches, "")
		b.Select("fa.value, COUNT(*) AS n")
		b.From("JOIN product_attributes fa ON fa.product_id = pl.product_id AND fa.name = ?", facet[len("attr."):])
		b.Tail("GROUP BY fa.value ORDER BY n DESC, fa.value LIMIT " + strconv.Itoa(facetValues))
		return b.SQL()
	}
	return "", nil
}

// ListSQL exposes the page query for tests and benchmarks (EXPLAIN, the raw
// SQL baseline), with the default search cap, in the shape List tries
// first (a one-word relevance page walks).
func ListSQL(q ListQuery, catID uint64, afterKey int64, afterTitle string, afterID uint64, limit int) (string, []any) {
	var after *seek
	if afterID != 0 {
		after = &seek{num: afterKey, str: afterTitle, id: afterID}
	}
	return listSQL(&q, catID, after, limit, DefaultSearchMaxMatches, true)
}

// FacetSQL exposes the facet queries of q for EXPLAIN tests.
func FacetSQL(q ListQuery, catID uint64, children []uint64) []string {
	var out []string
	for _, f := range q.Facets {
		query, _ := facetSQL(&q, catID, f, children, DefaultSearchMaxMatches)
		out = append(out, query)
	}
	return out
}

// FacetArgs exposes the arguments of one facet query, for EXPLAIN tests.
func FacetArgs(q ListQuery, catID uint64, facet string, children []uint64) []any {
	_, args := facetSQL(&q, catID, facet, children, DefaultSearchMaxMatches)
	return args
}
