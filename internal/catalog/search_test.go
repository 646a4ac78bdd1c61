package catalog_test

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shelfcommerce/shelf/internal/catalog"
	"github.com/shelfcommerce/shelf/internal/dbtest"
	"github.com/shelfcommerce/shelf/internal/events"
	"github.com/shelfcommerce/shelf/internal/seed"
	"github.com/shelfcommerce/shelf/internal/store"
)

// searchProduct is what the brute-force ranking knows of a product.
type searchProduct struct {
	id       uint64
	active   bool
	words    map[string]int // ProductWords of its title, brand, SKUs, description
	listed   map[uint64]bool
	price    int64
	brand    string
	inStock  bool
	category uint64 // a category it is listed under (0: none but the root)
}

// loadSearchProducts reads every product as the brute force needs it.
func loadSearchProducts(t *testing.T, st *store.Store) map[uint64]*searchProduct {
	t.Helper()
	ps := map[uint64]*searchProduct{}
	rows, err := st.DB.Query("SELECT id, status, title, brand, skus, description FROM products")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var p searchProduct
		var status, title, brand, skus, desc string
		if err := rows.Scan(&p.id, &status, &title, &brand, &skus, &desc); err != nil {
			t.Fatal(err)
		}
		p.active = status == "active"
		p.words = catalog.ProductWords(title, brand, skus, desc)
		p.listed = map[uint64]bool{}
		ps[p.id] = &p
	}
	rows.Close()
	rows, err = st.DB.Query("SELECT category_id, product_id, price_min, brand, in_stock FROM product_listing")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var cat, id uint64
		var price int64
		var brand string
		var in bool
		if err := rows.Scan(&cat, &id, &price, &brand, &in); err != nil {
			t.Fatal(err)
		}
		p := ps[id]
		p.listed[cat] = true
		p.price, p.brand, p.inStock = price, brand, in
		if cat != 0 {
			p.category = cat
		}
	}
	rows.Close()
	return ps
}

// bruteSearch is the documented ranking, evaluated over every product: the
// considered products are the maxMatches best (score, then id, descending)
// of the term in the fewest active products (ties by the word's bytes; a
// count is capped at maxMatches+1), those that contain every term and pass
// the filters; by relevance (the sum of scores) they come in relevance,
// then id, descending order; by price in price, then id, ascending.
func bruteSearch(ps map[uint64]*searchProduct, q catalog.ListQuery, catID uint64, maxMatches int) []uint64 {
	terms := slices.Clone(q.Terms)
	count := func(w string) int {
		n := 0
		for _, p := range ps {
			if p.active && p.words[w] > 0 {
				n++
			}
		}
		return min(n, maxMatches+1)
	}
	slices.SortFunc(terms, func(a, b string) int {
		if c := cmp.Compare(count(a), count(b)); c != 0 {
			return c
		}
		return strings.Compare(a, b)
	})
	var postings []*searchProduct
	for _, p := range ps {
		if p.active && p.words[terms[0]] > 0 {
			postings = append(postings, p)
		}
	}
	slices.SortFunc(postings, func(a, b *searchProduct) int {
		if c := cmp.Compare(b.words[terms[0]], a.words[terms[0]]); c != 0 {
			return c
		}
		return cmp.Compare(b.id, a.id)
	})
	postings = postings[:min(len(postings), maxMatches)]
	type hit struct {
		p   *searchProduct
		rel int
	}
	var hits []hit
	for _, p := range postings {
		rel := 0
		for _, w := range terms {
			if p.words[w] == 0 {
				rel = -1
				break
			}
			rel += p.words[w]
		}
		if rel < 0 || !p.listed[catID] || (q.HasMin && p.price < q.MinPrice) || (q.HasMax && p.price > q.MaxPrice) ||
			(len(q.Brands) > 0 && !slices.Contains(q.Brands, p.brand)) || (q.InStock && !p.inStock) {
			continue
		}
		hits = append(hits, hit{p, rel})
	}
	slices.SortFunc(hits, func(a, b hit) int {
		if q.Sort == catalog.SortPrice {
			if c := cmp.Compare(a.p.price, b.p.price); c != 0 {
				return c
			}
			return cmp.Compare(a.p.id, b.p.id)
		}
		if c := cmp.Compare(b.rel, a.rel); c != 0 {
			return c
		}
		return cmp.Compare(b.p.id, a.p.id)
	})
	out := make([]uint64, len(hits))
	for i, h := range hits {
		out[i] = h.p.id
	}
	return out
}

// listAll follows a listing's cursors to its end and returns every id.
func listAll(t *testing.T, sf *catalog.Storefront, raw string) []uint64 {
	t.Helper()
	var ids []uint64
	cursor := ""
	for range 1000 {
		q, err := catalog.ParseListQuery(raw+cursor, "USD")
		if err != nil {
			t.Fatalf("%s: %v", raw, err)
		}
		page, err := sf.List(context.Background(), q)
		if err != nil {
			t.Fatalf("%s: %v", raw, err)
		}
		for _, it := range page.Items {
			ids = append(ids, it.ID)
		}
		if page.NextCursor == nil {
			return ids
		}
		cursor = "&cursor=" + url.QueryEscape(*page.NextCursor)
	}
	t.Fatalf("%s: more than 1000 pages", raw)
	return nil
}

// searchCatalog is a seeded catalog plus products written to test the
// words: repeats, HTML, case, non-ASCII letters, a word only in a SKU.
func searchCatalog(t *testing.T) *dbtest.DB {
	t.Helper()
	d := dbtest.New(t)
	ctx := context.Background()
	if _, err := seed.Load(ctx, d.Store, seed.Options{Products: 1500, Seed: 21, Chunk: 500}); err != nil {
		t.Fatal(err)
	}
	qty := int64(3)
	for i, p := range []struct{ title, brand, desc, sku string }{
		{"Linen Linen Linen Tablecloth", "Weaver", "Pure linen.", "TC-1"},
		{"Plain Tablecloth", "Weaver", "<p class=\"linen\">Not <strong>linen</strong> at all: LINEN, linen.</p>", "TC-2"},
		{"Café Crème Mug", "Ståhl", "Stoneware for café au lait.", "MUG-42"},
		{"Mystery Box", "Acme", "Nothing to see.", "QX-ZEBRA99"},
		{"Linen Shirt", "Linen Co", "A shirt of linen, for the summer.", "LS-1"},
	} {
		in := &catalog.ProductInput{
			Handle: fmt.Sprintf("search-test-%d", i), Title: p.title, Brand: p.brand, DescriptionHTML: p.desc,
			Status: "active", Variants: []catalog.VariantInput{{SKU: p.sku, Price: int64(1000 + 700*i), Currency: "USD", InventoryQty: &qty}},
		}
		if _, _, err := catalog.WriteProduct(ctx, d.Store, in, catalog.CreateOnly, 0, "test"); err != nil {
			t.Fatal(err)
		}
	}
	return d
}

// TestSearchIsTheDocumentedRanking: every search, walked page by page to
// its end, returns exactly the products the documented ranking gives, in
// its order: one word and several, common and rare words, with and without
// filters that let few products through, sorted by relevance and by price,
// with a cap smaller than a common word's matches and with the default.
func TestSearchIsTheDocumentedRanking(t *testing.T) {
	t.Parallel()
	d := searchCatalog(t)
	ps := loadSearchProducts(t, d.Store)
	var catID uint64
	var catSlug string
	if err := d.DB.QueryRow("SELECT id, slug FROM categories WHERE depth = 1 ORDER BY id LIMIT 1").Scan(&catID, &catSlug); err != nil {
		t.Fatal(err)
	}
	queries := []string{
		"q=linen", "q=LINEN", "q=the+linen", "q=durable", "q=linen+shirt", "q=shirt+linen", "q=northwind+linen+classic",
		"q=café", "q=CAFÉ+crème", "q=zebra99", "q=strong", "q=tablecloth", "q=durable+comfortable+lightweight",
		"q=zzqqxx", "q=linen+zzqqxx", "q=" + url.QueryEscape("linen' OR '1'='1"), "q=" + url.QueryEscape(`"linen" +wool -oak*`),
		"q=linen&brand=Acme", "q=durable&in_stock=true&brand=Quill", "q=linen&category=" + catSlug,
		"q=linen&sort=price", "q=durable+linen&sort=price&min_price=100",
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 6 {
		queries = append(queries, fmt.Sprintf("q=linen&min_price=%d", 5+r.IntN(900)),
			fmt.Sprintf("q=durable&min_price=%d&max_price=%d", 5+r.IntN(500), 600+r.IntN(400)))
	}
	for _, maxMatches := range []int{40, catalog.DefaultSearchMaxMatches} {
		sf := catalog.NewStorefront(d.Store, catalog.StorefrontConfig{Currency: "USD", SearchMaxMatches: maxMatches})
		for _, raw := range queries {
			raw += "&limit=7"
			q, err := catalog.ParseListQuery(raw, "USD")
			if err != nil {
				t.Fatalf("%s: %v", raw, err)
			}
			cat := uint64(catalog.RootCategory)
			if q.Category != "" {
				cat = catID
			}
			want := bruteSearch(ps, q, cat, maxMatches)
			got := listAll(t, sf, raw)
			if !slices.Equal(got, want) {
				t.Errorf("cap %d, %s: got %d products %v,\nwant %d %v", maxMatches, raw, len(got), got, len(want), want)
			}
		}
	}
	// The checks above must have compared something: common words match
	// more products than the small cap, and the custom products rank.
	linen := bruteSearch(ps, catalog.ListQuery{Terms: []string{"linen"}, Sort: catalog.SortRelevance}, 0, catalog.DefaultSearchMaxMatches)
	if len(linen) <= 40 {
		t.Fatalf("linen matches %d products: the cap of 40 is not exercised", len(linen))
	}
}

// TestSearchFacetsCountTheConsideredMatches: a search's brand facet counts
// the same products its pages list.
func TestSearchFacetsCountTheConsideredMatches(t *testing.T) {
	t.Parallel()
	d := searchCatalog(t)
	ps := loadSearchProducts(t, d.Store)
	sf := catalog.NewStorefront(d.Store, catalog.StorefrontConfig{Currency: "USD", SearchMaxMatches: 40})
	for _, raw := range []string{"q=linen", "q=durable+linen&min_price=50", "q=linen&sort=price"} {
		q, err := catalog.ParseListQuery(raw+"&facets=brand&limit=1", "USD")
		if err != nil {
			t.Fatal(err)
		}
		page, err := sf.List(context.Background(), q)
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]int64{}
		for _, id := range bruteSearch(ps, q, 0, 40) {
			want[ps[id].brand]++
		}
		got := map[string]int64{}
		for _, v := range page.Facets["brand"].([]catalog.ValueCount) {
			got[v.Value] = v.Count
		}
		if !maps.Equal(got, want) {
			t.Errorf("%s: brand facet %v, want %v", raw, got, want)
		}
	}
}

// TestSearchFollowsWrites: a product is found by its words as soon as the
// write that gives them returns, and no longer by the words it lost, nor
// at all once archived; the stored words are what ProductWords gives.
func TestSearchFollowsWrites(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	ctx := context.Background()
	sf := catalog.NewStorefront(d.Store, catalog.StorefrontConfig{Currency: "USD"})
	find := func(raw string) []uint64 { return listAll(t, sf, raw) }
	qty := int64(1)
	in := &catalog.ProductInput{Handle: "lamp", Title: "Zanzibar Lamp", Brand: "Lumen", DescriptionHTML: "A lamp.",
		Status: "active", Variants: []catalog.VariantInput{{SKU: "LAMP-7781", Price: 1999, Currency: "USD", InventoryQty: &qty}}}
	p, _, err := catalog.WriteProduct(ctx, d.Store, in, catalog.CreateOnly, 0, "test")
	if err != nil {
		t.Fatal(err)
	}
	if got := find("q=zanzibar"); !slices.Equal(got, []uint64{p.ID}) {
		t.Fatalf("q=zanzibar after create = %v, want [%d]", got, p.ID)
	}
	if got := find("q=7781+lumen"); !slices.Equal(got, []uint64{p.ID}) {
		t.Fatalf("q=7781 lumen (SKU and brand) = %v, want [%d]", got, p.ID)
	}
	in.Title = "Quokka Lamp"
	if _, _, err := catalog.WriteProduct(ctx, d.Store, in, catalog.Upsert, 0, "test"); err != nil {
		t.Fatal(err)
	}
	if got := find("q=zanzibar"); len(got) != 0 {
		t.Fatalf("q=zanzibar after the title changed = %v, want nothing", got)
	}
	if got := find("q=quokka+lamp"); !slices.Equal(got, []uint64{p.ID}) {
		t.Fatalf("q=quokka lamp after the title changed = %v, want [%d]", got, p.ID)
	}
	stored := map[string]int{}
	rows, err := d.DB.Query("SELECT word, score FROM search_words WHERE product_id = ?", p.ID)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var w string
		var s int
		if err := rows.Scan(&w, &s); err != nil {
			t.Fatal(err)
		}
		stored[w] = s
	}
	rows.Close()
	if want := catalog.ProductWords("Quokka Lamp", "Lumen", "LAMP-7781", "A lamp."); !maps.Equal(stored, want) {
		t.Fatalf("stored words %v, want %v", stored, want)
	}
	if err := catalog.ArchiveProduct(ctx, d.Store, p.ID); err != nil {
		t.Fatal(err)
	}
	if got := find("q=quokka"); len(got) != 0 {
		t.Fatalf("q=quokka after archiving = %v, want nothing", got)
	}
	var left int
	if err := d.DB.QueryRow("SELECT COUNT(*) FROM search_words WHERE product_id = ?", p.ID).Scan(&left); err != nil || left != 0 {
		t.Fatalf("an archived product keeps %d search words (%v)", left, err)
	}
}

// TestReindexFillsAnEmptySearchIndex: a catalog whose search_words is empty
// (one migrated past 00140) finds nothing until Reindex, and then exactly
// what the write path had stored.
func TestReindexFillsAnEmptySearchIndex(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	ctx := context.Background()
	if _, err := seed.Load(ctx, d.Store, seed.Options{Products: 300, Seed: 4, Chunk: 100}); err != nil {
		t.Fatal(err)
	}
	words := func() string {
		rows, err := d.DB.Query("SELECT product_id, word, score FROM search_words ORDER BY product_id, word")
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var b strings.Builder
		for rows.Next() {
			var id, score uint64
			var w string
			if err := rows.Scan(&id, &w, &score); err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(&b, "%d %s %d\n", id, w, score)
		}
		return b.String()
	}
	stored := words()
	if stored == "" {
		t.Fatal("the loader stored no search words")
	}
	if _, err := d.DB.Exec("DELETE FROM search_words"); err != nil {
		t.Fatal(err)
	}
	sf := catalog.NewStorefront(d.Store, catalog.StorefrontConfig{Currency: "USD"})
	if got := listAll(t, sf, "q=linen"); len(got) != 0 {
		t.Fatalf("q=linen with no search words found %d products", len(got))
	}
	n, err := catalog.Reindex(ctx, d.Store)
	if err != nil || n != 300 {
		t.Fatalf("Reindex = %d, %v; want 300 products", n, err)
	}
	if again := words(); again != stored {
		t.Fatalf("search words after Reindex differ from the loader's:\n%.1000s\nwant\n%.1000s", again, stored)
	}
	if got := listAll(t, sf, "q=linen"); len(got) == 0 {
		t.Fatal("q=linen after Reindex finds nothing")
	}
}

// TestSearchWalkFloorFollowsWrites: a one-word search whose filters let few
// products through stops its walk at the word's cap-th best product, kept
// from an earlier search; writes that move that product (better matches
// added, matches taken away) never make a page other than the documented
// ranking's.
func TestSearchWalkFloorFollowsWrites(t *testing.T) {
	t.Parallel()
	d := searchCatalog(t)
	ctx := context.Background()
	const maxMatches = 40
	sf := catalog.NewStorefront(d.Store, catalog.StorefrontConfig{Currency: "USD", SearchMaxMatches: maxMatches})
	// As the server wires it: this process's writes reach the storefront
	// before they return.
	events.FollowersOf(d.Store).Add(sf.Forget)
	var queries []string
	for _, floor := range []int{50, 300, 800} {
		queries = append(queries, fmt.Sprintf("q=linen&min_price=%d&limit=3", floor))
	}
	queries = append(queries, "q=linen&brand=Weaver&limit=3", "q=linen&limit=5")
	check := func(when string) {
		t.Helper()
		ps := loadSearchProducts(t, d.Store)
		for _, raw := range queries {
			q, err := catalog.ParseListQuery(raw, "USD")
			if err != nil {
				t.Fatal(err)
			}
			// Twice: the first search of a word may read its floor, the
			// second walks to it.
			for range 2 {
				if got, want := listAll(t, sf, raw), bruteSearch(ps, q, catalog.RootCategory, maxMatches); !slices.Equal(got, want) {
					t.Fatalf("%s, %s: got %v, want %v", when, raw, got, want)
				}
			}
		}
	}
	check("at first")
	// Better matches, priced below every filter above: the old floor is now
	// below the 40 best, and a walk to it would find products ranked 41st
	// to 52nd.
	added, err := addBetterLinen(ctx, d.Store)
	if err != nil {
		t.Fatal(err)
	}
	check("after better matches were added")
	// And taken away again: the floor read since, among them, is now above
	// the 40 best.
	for _, in := range added {
		in.Status = "draft"
		if _, _, err := catalog.WriteProduct(ctx, d.Store, in, catalog.Upsert, 0, "test"); err != nil {
			t.Fatal(err)
		}
	}
	check("after matches were taken away")
}

// TestSearchFloorFromAReadNodeAfterAWrite: with reads on a read node that
// lags, a write that lands while a search is under way (after it chose
// where to read, before it loaded the word's floor) never leaves a floor
// read from the lagging node behind: the searches after the write, which
// read the primary, give the primary's results.
func TestSearchFloorFromAReadNodeAfterAWrite(t *testing.T) {
	t.Parallel()
	primary, lagging := searchCatalog(t), searchCatalog(t)
	ctx := context.Background()
	const maxMatches = 40
	sf := catalog.NewStorefront(lagging.Store, catalog.StorefrontConfig{Currency: "USD", SearchMaxMatches: maxMatches,
		Primary: primary.Store, ReadLag: time.Hour})
	events.FollowersOf(primary.Store).Add(sf.Forget) // as the server wires it
	var slug string
	if err := primary.DB.QueryRow("SELECT slug FROM categories WHERE parent_id IS NULL ORDER BY id LIMIT 1").Scan(&slug); err != nil {
		t.Fatal(err)
	}
	raw := "q=linen&min_price=50&limit=3&category=" + slug
	// The write: better matches than any, on the primary only, made at the
	// request's third reading of the clock (it has chosen the read node).
	var calls atomic.Int32
	var armed atomic.Bool
	catalog.SetClock(sf, func() time.Time {
		if armed.Load() && calls.Add(1) == 3 {
			armed.Store(false)
			if _, err := addBetterLinen(ctx, primary.Store); err != nil {
				t.Error(err)
			}
		}
		return time.Now()
	})
	armed.Store(true)
	listAll(t, sf, raw)
	if armed.Load() {
		t.Fatal("the search read the clock fewer than three times: the write was not made")
	}
	q, err := catalog.ParseListQuery(raw, "USD")
	if err != nil {
		t.Fatal(err)
	}
	var catID uint64
	if err := primary.DB.QueryRow("SELECT id FROM categories WHERE slug = ?", slug).Scan(&catID); err != nil {
		t.Fatal(err)
	}
	if got, want := listAll(t, sf, raw), bruteSearch(loadSearchProducts(t, primary.Store), q, catID, maxMatches); !slices.Equal(got, want) {
		t.Errorf("after the write: got %v, want the primary's %v", got, want)
	}
}

// TestSearchFollowsAReindex: a reindex while serving (shelf reindex, or
// migrate up filling the word index) writes no events; searches give the
// documented results again within seconds of its end.
func TestSearchFollowsAReindex(t *testing.T) {
	t.Parallel()
	d := searchCatalog(t)
	ctx := context.Background()
	const maxMatches = 40
	sf := catalog.NewStorefront(d.Store, catalog.StorefrontConfig{Currency: "USD", SearchMaxMatches: maxMatches})
	events.FollowersOf(d.Store).Add(sf.Forget)
	raw := "q=linen&min_price=800&limit=3"
	q, err := catalog.ParseListQuery(raw, "USD")
	if err != nil {
		t.Fatal(err)
	}
	want := bruteSearch(loadSearchProducts(t, d.Store), q, catalog.RootCategory, maxMatches)
	// The word index as a reindex finds it half done: ten of the word's
	// products have their words. A search now sees that index.
	if _, err := d.DB.Exec("DELETE FROM search_words WHERE product_id NOT IN (SELECT product_id FROM (SELECT product_id FROM search_words WHERE word = 'linen' ORDER BY product_id LIMIT 10) x)"); err != nil {
		t.Fatal(err)
	}
	listAll(t, sf, raw)
	if _, err := catalog.Reindex(ctx, d.Store); err != nil {
		t.Fatal(err)
	}
	time.Sleep(11 * time.Second) // searchFloorTTL, and a margin
	if got := listAll(t, sf, raw); !slices.Equal(got, want) {
		t.Errorf("after the reindex: got %v, want %v", got, want)
	}
}

// addBetterLinen writes 12 products that rank above every other for
// "linen", priced below every price filter of the tests.
func addBetterLinen(ctx context.Context, st *store.Store) ([]*catalog.ProductInput, error) {
	qty := int64(2)
	var added []*catalog.ProductInput
	for i := range 12 {
		in := &catalog.ProductInput{Handle: fmt.Sprintf("floor-%d", i), Title: "Linen Linen Linen Linen Throw", Brand: "Weaver",
			Status: "active", Variants: []catalog.VariantInput{{SKU: fmt.Sprintf("FL-%d", i), Price: int64(1 + i), Currency: "USD", InventoryQty: &qty}}}
		if _, _, err := catalog.WriteProduct(ctx, st, in, catalog.CreateOnly, 0, "test"); err != nil {
			return added, err
		}
		added = append(added, in)
	}
	return added, nil
}
