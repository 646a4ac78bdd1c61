package catalog

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/shelfcommerce/shelf/internal/events"
	"github.com/shelfcommerce/shelf/internal/money"
	"github.com/shelfcommerce/shelf/internal/problem"
	"github.com/shelfcommerce/shelf/internal/store"
)

// StorefrontConfig tunes the public read API.
type StorefrontConfig struct {
	// CursorSecret signs listing cursors; empty means a random key per
	// process, so cursors do not survive a restart or cross instances.
	CursorSecret []byte
	// Currency of the catalog, in which min_price and max_price are read.
	Currency string
	// DetailTTL is how long a rendered product page is served from memory.
	// A page is refreshed in the background when it has expired (the old one
	// is served meanwhile, for at most one more TTL), so a change to a
	// product shows on its page within about 2×DetailTTL. 0 disables.
	DetailTTL time.Duration
	// FacetTTL is how long facet counts for one filter set are reused.
	FacetTTL time.Duration
	// SearchMaxMatches caps how many full-text matches one q considers, so a
	// broad word (in a fifth of the catalog) costs a bounded amount of work.
	SearchMaxMatches int
}

// Storefront serves the public catalog: listings, product pages, categories.
type Storefront struct {
	st        *store.Store
	cfg       StorefrontConfig
	key       []byte
	now       func() time.Time
	detail    *loadingCache[uint64, *RenderedProduct]
	slugIDs   *ttlCache[string, uint64]
	facets    *loadingCache[string, map[string]any]
	searches  *loadingCache[string, *ListPage]
	catBySlug *ttlCache[string, categoryRef]
}

type categoryRef struct {
	id    uint64
	found bool
}

// NewStorefront returns the storefront service on st.
func NewStorefront(st *store.Store, cfg StorefrontConfig) *Storefront {
	if cfg.Currency == "" {
		cfg.Currency = "USD"
	}
	if cfg.SearchMaxMatches <= 0 {
		cfg.SearchMaxMatches = 10000
	}
	return &Storefront{
		st: st, cfg: cfg, key: cursorKey(cfg.CursorSecret), now: time.Now,
		detail:  newLoadingCache[uint64, *RenderedProduct](cfg.DetailTTL, 50000),
		slugIDs: newTTLCache[string, uint64](cfg.DetailTTL, 50000),
		facets:  newLoadingCache[string, map[string]any](cfg.FacetTTL, 5000),
		// Full-text pages cost in proportion to how many products match a
		// word, so the popular searches are kept as long as facets are.
		searches: newLoadingCache[string, *ListPage](cfg.FacetTTL, 5000),
		// A category's slug names the same id for its whole life, unless it is
		// deleted and another takes the slug; a second is plenty.
		catBySlug: newTTLCache[string, categoryRef](time.Second, 10000),
	}
}

// Currency is the catalog currency, in which price filters are read.
func (s *Storefront) Currency() string { return s.cfg.Currency }

// ListItem is one product in a listing.
type ListItem struct {
	ID        uint64      `json:"id"`
	Slug      string      `json:"slug"`
	Title     string      `json:"title"`
	Brand     string      `json:"brand"`
	Price     money.Money `json:"price"`
	InStock   bool        `json:"in_stock"`
	CreatedAt time.Time   `json:"created_at"`
}

// ListPage is one page of a listing.
type ListPage struct {
	Items      []ListItem     `json:"items"`
	NextCursor *string        `json:"next_cursor"`
	Facets     map[string]any `json:"facets,omitempty"`
}

// categoryID resolves the category filter's slug (0: the whole catalog).
func (s *Storefront) categoryID(ctx context.Context, slug string) (uint64, error) {
	if slug == "" {
		return RootCategory, nil
	}
	now := s.now()
	ref, ok := s.catBySlug.get(slug, now)
	if !ok {
		c, err := s.st.Q.GetCategoryBySlug(ctx, slug)
		switch {
		case errors.Is(err, sql.ErrNoRows):
		case err != nil:
			return 0, fmt.Errorf("category by slug: %w", err)
		default:
			ref = categoryRef{id: c.ID, found: true}
		}
		s.catBySlug.put(slug, ref, now)
	}
	if !ref.found {
		return 0, problem.Field(problem.Invalid, "category", "no category has this slug")
	}
	return ref.id, nil
}

// List answers GET /v1/products for a validated query.
func (s *Storefront) List(ctx context.Context, q ListQuery) (*ListPage, error) {
	now := s.now()
	var after *seek
	if q.Cursor != "" {
		sk, err := decodeCursor(s.key, &q, q.Cursor, now)
		if err != nil {
			return nil, err
		}
		after = &sk
	}
	if len(q.Terms) > 0 {
		key := string(q.fingerprint()) + "\x00" + q.Cursor + "\x00" + strconv.Itoa(q.Limit) + "\x00" + strings.Join(q.Facets, ",")
		return s.searches.getOrLoad(ctx, key, now, func(ctx context.Context) (*ListPage, error) {
			return s.list(ctx, q, after, now)
		})
	}
	return s.list(ctx, q, after, now)
}

func (s *Storefront) list(ctx context.Context, q ListQuery, after *seek, now time.Time) (*ListPage, error) {
	catID, err := s.categoryID(ctx, q.Category)
	if err != nil {
		return nil, err
	}
	query, args := listSQL(&q, catID, after, q.Limit+1, s.cfg.SearchMaxMatches)
	page, err := s.readPage(ctx, &q, query, args, now)
	if err != nil {
		return nil, err
	}
	// The page's rows are closed (its connection is back in the pool)
	// before the facets take one: holding one while waiting for another
	// deadlocks a saturated pool.
	if len(q.Facets) > 0 {
		f, err := s.facetCounts(ctx, &q, catID)
		if err != nil {
			return nil, err
		}
		page.Facets = f
	}
	return page, nil
}

// readPage reads the limit+1 rows of a page query (the extra row only says
// there is a next page) and closes them.
func (s *Storefront) readPage(ctx context.Context, q *ListQuery, query string, args []any, now time.Time) (*ListPage, error) {
	rows, err := s.st.DB.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("list products: %w", err)
	}
	defer rows.Close()
	page := &ListPage{Items: make([]ListItem, 0, q.Limit)}
	var last seek
	more := false
	for rows.Next() {
		var it ListItem
		var rel int64
		if err := rows.Scan(&it.ID, &it.Slug, &it.Title, &it.Brand, &it.Price.Amount, &it.Price.Currency, &it.InStock, &it.CreatedAt, &rel); err != nil {
			return nil, fmt.Errorf("scan listing: %w", err)
		}
		if len(page.Items) == q.Limit {
			more = true
			continue
		}
		page.Items = append(page.Items, it)
		last = seekOf(q.Sort, &it, rel)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list products: %w", err)
	}
	if more {
		c := encodeCursor(s.key, q, last, now)
		page.NextCursor = &c
	}
	return page, nil
}

func seekOf(s Sort, it *ListItem, rel int64) seek {
	sk := seek{id: it.ID}
	switch s {
	case SortPrice, SortPriceDesc:
		sk.num = it.Price.Amount
	case SortNewest:
		sk.num = it.CreatedAt.UnixMicro()
	case SortTitle:
		sk.str = it.Title
	case SortRelevance:
		sk.num = rel
	}
	return sk
}

// The listing SQL is built here and only here, from fixed fragments: values
// always travel as placeholders, and column names come from sortColumns.
// Every shape reads product_listing through one of its indexes on
// (category_id, <sort key>, product_id): the category (0 for the whole
// catalog) is an equality, the sort key and id give the order, and the keyset
// seek is written in the expanded form `k > ? OR (k = ? AND id > ?)`, which
// MariaDB turns into an index range (it does not for a row constructor).

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

// ftColumns is the column list of the products_search FULLTEXT index.
const ftColumns = "p.title, p.brand, p.skus, p.description"

// booleanQuery makes the boolean-mode expression: every term required.
func booleanQuery(terms []string) string {
	var b strings.Builder
	for i, t := range terms {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteByte('+')
		b.WriteString(t)
	}
	return b.String()
}

// filterSQL is the FROM and WHERE of every listing and facet query for q.
//
// index, when set, is forced for product_listing: a page then walks the
// sort's index from the seek point and stops after limit matches, whatever
// the filters, instead of letting the optimizer gather every row a filter
// selects (a brand, a price range, an attribute) and filesort them, which on
// a million products costs tens of milliseconds per page. The price of the
// choice: a filter that matches almost nothing in a big category walks much
// of that category's range (bounded by the category, never the table).
func filterSQL(q *ListQuery, catID uint64, maxMatches int, index string) (from string, where []string, args []any) {
	from = "product_listing pl"
	if index != "" && len(q.Terms) == 0 {
		from += " FORCE INDEX (" + index + ")"
	}
	if len(q.Terms) > 0 {
		// Matching products, at most maxMatches of them, each with an integer
		// relevance (so that a cursor can hold it exactly).
		from = "(SELECT p.id, CAST(MATCH(" + ftColumns + ") AGAINST (? IN BOOLEAN MODE) * 1000000 AS SIGNED) AS rel" +
			" FROM products p WHERE MATCH(" + ftColumns + ") AGAINST (? IN BOOLEAN MODE) AND p.status = 'active'" +
			" LIMIT " + strconv.Itoa(maxMatches) + ") m JOIN product_listing pl ON pl.product_id = m.id"
		bq := booleanQuery(q.Terms)
		args = append(args, bq, bq)
	}
	where = append(where, "pl.category_id = ?")
	args = append(args, catID)
	if q.HasMin {
		where = append(where, "pl.price_min >= ?")
		args = append(args, q.MinPrice)
	}
	if q.HasMax {
		where = append(where, "pl.price_min <= ?")
		args = append(args, q.MaxPrice)
	}
	if len(q.Brands) > 0 {
		where = append(where, "pl.brand IN ("+placeholders(len(q.Brands))+")")
		for _, b := range q.Brands {
			args = append(args, b)
		}
	}
	if q.InStock {
		where = append(where, "pl.in_stock = 1")
	}
	for _, a := range q.Attrs {
		where = append(where, "EXISTS (SELECT 1 FROM product_attributes a WHERE a.product_id = pl.product_id AND a.name = ? AND a.value IN ("+placeholders(len(a.Values))+") LIMIT 1)")
		args = append(args, a.Name)
		for _, v := range a.Values {
			args = append(args, v)
		}
	}
	return from, where, args
}

func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?,", n), ",")
}

// listSQL is the page query: filters, then the seek after the previous page,
// then the order and limit.
func listSQL(q *ListQuery, catID uint64, after *seek, limit, maxMatches int) (string, []any) {
	spec := sortColumns[q.Sort]
	from, where, args := filterSQL(q, catID, maxMatches, spec.index)
	cmp, dir := ">", "ASC"
	if spec.desc {
		cmp, dir = "<", "DESC"
	}
	if after != nil {
		where = append(where, "("+spec.col+" "+cmp+" ? OR ("+spec.col+" = ? AND pl.product_id "+cmp+" ?))")
		var key any = after.num
		switch q.Sort {
		case SortTitle:
			key = after.str
		case SortNewest:
			key = time.UnixMicro(after.num).UTC()
		}
		args = append(args, key, key, after.id)
	}
	rel := "0"
	if len(q.Terms) > 0 {
		rel = "m.rel"
	}
	var b strings.Builder
	b.WriteString("SELECT pl.product_id, pl.slug, pl.title, pl.brand, pl.price_min, pl.currency, pl.in_stock, pl.created_at, ")
	b.WriteString(rel)
	b.WriteString(" FROM ")
	b.WriteString(from)
	b.WriteString(" WHERE ")
	b.WriteString(strings.Join(where, " AND "))
	b.WriteString(" ORDER BY " + spec.col + " " + dir + ", pl.product_id " + dir)
	b.WriteString(" LIMIT " + strconv.Itoa(limit))
	return b.String(), args
}

// ListSQL exposes the page query for tests and benchmarks (EXPLAIN, the raw
// SQL baseline). after may be nil.
func ListSQL(q ListQuery, catID uint64, afterKey int64, afterTitle string, afterID uint64, limit int) (string, []any) {
	var after *seek
	if afterID != 0 {
		after = &seek{num: afterKey, str: afterTitle, id: afterID}
	}
	return listSQL(&q, catID, after, limit, 10000)
}

// FacetSQL exposes the facet queries of q for EXPLAIN tests.
func FacetSQL(q ListQuery, catID uint64, children []uint64) []string {
	var out []string
	for _, f := range q.Facets {
		query, _ := facetSQL(&q, catID, f, children)
		out = append(out, query)
	}
	return out
}

// FacetArgs exposes the arguments of one facet query, for EXPLAIN tests.
func FacetArgs(q ListQuery, catID uint64, facet string, children []uint64) []any {
	_, args := facetSQL(&q, catID, facet, children)
	return args
}

// Forget drops what the events make stale: the pages of the products they
// name and, when listings can have changed (a product written or archived, a
// price, a variant sold out or back in stock), every cached facet count and
// search page. It is called with this process's committed events before the
// write returns, and with every instance's from the feed's tail.
func (s *Storefront) Forget(evs []events.Event) {
	listings := false
	for i := range evs {
		e := &evs[i]
		if e.ProductID == 0 {
			continue // order events: nothing cached
		}
		s.detail.forget(e.ProductID)
		if e.Slug != "" && e.Type == events.TypeProductDeleted {
			s.slugIDs.forget(e.Slug)
		}
		if e.Type != events.TypeStockChanged || e.Restock {
			listings = true
		}
	}
	if listings {
		s.facets.forgetAll()
		s.searches.forgetAll()
	}
}
