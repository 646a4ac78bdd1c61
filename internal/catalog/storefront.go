package catalog

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/shelfcommerce/shelf/internal/cursor"
	"github.com/shelfcommerce/shelf/internal/events"
	"github.com/shelfcommerce/shelf/internal/metrics"
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
	// DetailTTL is the longest a rendered product page is served from
	// memory. It is a safety net only: Forget drops the pages a write
	// changed (this instance's writes before they answer, every instance's
	// from the change feed's tail). 0 disables.
	DetailTTL time.Duration
	// FacetTTL is the longest facet counts and full-text pages of one query
	// are reused; Forget drops them whenever a listing can have changed.
	FacetTTL time.Duration
	// SearchMaxMatches caps how many products one q considers: the
	// highest-scoring of its rarest word (see listing_sql.go), so a broad
	// word (in a fifth of the catalog) costs a bounded amount of work, in
	// pages and facets alike. 0 means DefaultSearchMaxMatches.
	SearchMaxMatches int
	// Primary is the store writes commit on, when the storefront's own
	// store is a read node that may lag behind it (SHELF_MYSQL_READ_DSN);
	// nil when the storefront reads the primary itself.
	Primary *store.Store
	// ReadLag is how far the read node may lag behind Primary: for this
	// long after the feed reports a change, loads of the product pages it
	// changed (and, after a change to listings, of listings and facets)
	// read Primary, so that no cache keeps what the read node had before
	// the change. 0 means DefaultReadLag.
	ReadLag time.Duration
}

// DefaultSearchMaxMatches is SearchMaxMatches when none is configured.
const DefaultSearchMaxMatches = 10000

// Storefront serves the public catalog: listings, product pages, categories.
type Storefront struct {
	st        *store.Store
	cfg       StorefrontConfig
	key       cursor.Key
	now       func() time.Time
	recent    *recentChanges
	detail    *loadingCache[uint64, *RenderedProduct]
	slugIDs   *ttlCache[string, uint64]
	facets    *loadingCache[string, map[string]any]
	searches  *loadingCache[string, *ListPage]
	catBySlug *loadingCache[string, categoryRef]
	floors    *loadingCache[string, *seek] // searchFloor's, by word (nil: the word needs none)
}

type categoryRef struct {
	id    uint64
	found bool
}

// NewStorefront returns the storefront service on st.
func NewStorefront(st *store.Store, cfg StorefrontConfig) *Storefront {
	if cfg.Currency == "" {
		cfg.Currency = money.DefaultCurrency
	}
	if cfg.SearchMaxMatches <= 0 {
		cfg.SearchMaxMatches = DefaultSearchMaxMatches
	}
	if cfg.ReadLag <= 0 {
		cfg.ReadLag = DefaultReadLag
	}
	if cfg.Primary == st {
		cfg.Primary = nil
	}
	return &Storefront{
		st: st, cfg: cfg, key: cursorKey(cfg.CursorSecret), now: time.Now,
		recent:  newRecentChanges(cfg.ReadLag),
		detail:  newLoadingCache[uint64, *RenderedProduct](metrics.CacheDetail, cfg.DetailTTL, 50000),
		slugIDs: newTTLCache[string, uint64](metrics.CacheSlug, cfg.DetailTTL, 50000),
		facets:  newLoadingCache[string, map[string]any](metrics.CacheFacets, cfg.FacetTTL, 5000),
		// Full-text pages cost in proportion to how many products match a
		// word, so the popular searches are kept as long as facets are.
		searches: newLoadingCache[string, *ListPage](metrics.CacheSearch, cfg.FacetTTL, 5000),
		// Slugs, and slugs that name no category, are kept a second: this
		// instance forgets them whenever it changes categories (or writes
		// products, which may create some) and on every product write of the
		// feed; another instance's change to a category alone shows here
		// within that second.
		catBySlug: newLoadingCache[string, categoryRef](metrics.CacheCategories, time.Second, 10000),
		// A word's floor is forgotten on every product write (Forget), as
		// a page would be; it is a statistic of the word index rather than
		// an answer (no cached page), so it is kept whatever the configured
		// TTLs, for searchFloorTTL at most.
		floors: newLoadingCache[string, *seek](metrics.CacheSearchFloor, searchFloorTTL, 10000),
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
// A lookup that started before a category write is not kept after it.
func (s *Storefront) categoryID(ctx context.Context, slug string) (uint64, error) {
	if slug == "" {
		return RootCategory, nil
	}
	ref, err := s.catBySlug.getOrLoad(ctx, slug, s.now(), func(ctx context.Context) (categoryRef, error) {
		// The node is chosen when the load starts, after any forget.
		c, err := s.reader(s.recent.listing(s.now())).Q.GetCategoryBySlug(ctx, slug)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			return categoryRef{}, nil
		case err != nil:
			return categoryRef{}, fmt.Errorf("category by slug: %w", err)
		}
		return categoryRef{id: c.ID, found: true}, nil
	})
	if err != nil {
		return 0, err
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
		// The slug first: a cached page must not outlive its category.
		if _, err := s.categoryID(ctx, q.Category); err != nil {
			return nil, err
		}
		key := string(q.fingerprint()) + "\x00" + q.Cursor + "\x00" + strconv.Itoa(q.Limit) + "\x00" + strings.Join(q.Facets, ",")
		return s.searches.getOrLoad(ctx, key, now, func(ctx context.Context) (*ListPage, error) {
			return s.list(ctx, q, after, now)
		})
	}
	return s.list(ctx, q, after, now)
}

func (s *Storefront) list(ctx context.Context, q ListQuery, after *seek, now time.Time) (*ListPage, error) {
	st := s.reader(s.recent.listing(s.now()))
	catID, err := s.categoryID(ctx, q.Category)
	if err != nil {
		return nil, err
	}
	if len(q.Terms) > 1 {
		if q.order, err = s.searchOrder(ctx, st, q.Terms); err != nil {
			return nil, err
		}
	}
	walk := searchWalk(&q)
	if walk {
		// The walk stops at the word's floor, so every row it reads is among
		// the word's SearchMaxMatches best: its page is the bounded shape's.
		word := q.Terms[0]
		if q.floor, err = s.floors.getOrLoad(ctx, word, now, func(ctx context.Context) (*seek, error) {
			// The node is chosen when the load starts, as for cached pages:
			// a load that starts after a write's Forget reads the primary.
			return s.searchFloor(ctx, s.reader(s.recent.listing(s.now())), word)
		}); err != nil {
			return nil, err
		}
	}
	query, args := listSQL(&q, catID, after, q.Limit+1, s.cfg.SearchMaxMatches, walk)
	page, err := s.readPage(ctx, st, &q, query, args, now)
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

// searchFloorTTL is the longest a word's floor is kept (see searchFloor).
// Every product write forgets them all; the TTL bounds what a write that
// emits no event leaves stale (a reindex: shelf reindex, or migrate up when
// it adds search words), and costs a read of SearchMaxMatches index
// entries per searched word per period.
const searchFloorTTL = 10 * time.Second

// searchFloor is the rank of word's SearchMaxMatches-th best product, or
// nil when the word is in fewer products (a walk then stops at the word's
// end anyway). Product writes move it (a word's products and scores are
// those of active products' text), so Forget drops the floors on product
// events: from this instance's writes before they answer, from other
// instances' as the feed brings them, as every cached page is. A reindex
// rewrites the words without events: searches follow it within
// searchFloorTTL.
func (s *Storefront) searchFloor(ctx context.Context, st *store.Store, word string) (*seek, error) {
	var f seek
	fq, fargs := searchFloorSQL(word, s.cfg.SearchMaxMatches)
	switch err := st.DB.QueryRowContext(ctx, fq, fargs...).Scan(&f.num, &f.id); {
	case errors.Is(err, sql.ErrNoRows):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("search floor: %w", err)
	}
	return &f, nil
}

// readPage reads the limit+1 rows of a page query (the extra row only says
// there is a next page) and closes them.
func (s *Storefront) readPage(ctx context.Context, st *store.Store, q *ListQuery, query string, args []any, now time.Time) (*ListPage, error) {
	rows, err := st.DB.QueryContext(ctx, query, args...)
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

// searchOrder is terms with the one in the fewest products first (ties,
// and words in more than SearchMaxMatches products, by the word's bytes),
// so that a search starts from its rarest word: the order listingFrom
// takes them in.
func (s *Storefront) searchOrder(ctx context.Context, st *store.Store, terms []string) ([]string, error) {
	query, args := searchCountsSQL(terms, s.cfg.SearchMaxMatches)
	rows, err := st.DB.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("search word counts: %w", err)
	}
	defer rows.Close()
	counts := make([]int, len(terms))
	for rows.Next() {
		var i, n int
		if err := rows.Scan(&i, &n); err != nil {
			return nil, fmt.Errorf("search word counts: %w", err)
		}
		counts[i] = n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("search word counts: %w", err)
	}
	idx := make([]int, len(terms))
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(a, b int) int {
		if c := cmp.Compare(counts[a], counts[b]); c != 0 {
			return c
		}
		return strings.Compare(terms[a], terms[b])
	})
	out := make([]string, len(terms))
	for i, k := range idx {
		out[i] = terms[k]
	}
	return out, nil
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

// Forget drops what the events make stale: the pages of the products they
// name and, when listings can have changed (a product written or archived, a
// price, a variant sold out or back in stock), every cached facet count and
// search page. It is called with this process's committed events before the
// write returns, and with every instance's from the feed's tail. What they
// changed is read from the primary for the read node's lag (see ReadLag).
func (s *Storefront) Forget(evs []events.Event) {
	listings := false
	var products []uint64
	for i := range evs {
		e := &evs[i]
		if e.ProductID == 0 {
			continue // order events: nothing cached
		}
		products = append(products, e.ProductID)
		if e.Type != events.TypeStockChanged || e.Restock {
			listings = true
		}
	}
	if len(products) == 0 {
		return
	}
	// Noted before the caches are cleared: a load that starts after the
	// clearing reads the primary, and one that started before is not kept.
	if s.cfg.Primary != nil {
		s.recent.note(s.now(), products, listings)
	}
	for i := range evs {
		e := &evs[i]
		if e.ProductID == 0 {
			continue
		}
		s.detail.forget(e.ProductID)
		if e.Slug != "" && e.Type == events.TypeProductDeleted {
			s.slugIDs.forget(e.Slug)
		}
	}
	if listings {
		s.facets.forgetAll()
		s.searches.forgetAll()
		s.floors.forgetAll()
		s.catBySlug.forgetAll() // a product write may have created categories
	}
}

// ForgetCategories drops the slugs of categories it has looked up: call it
// once a write to categories has committed, before it answers.
func (s *Storefront) ForgetCategories() {
	if s.cfg.Primary != nil {
		s.recent.note(s.now(), nil, true)
	}
	s.catBySlug.forgetAll()
}
