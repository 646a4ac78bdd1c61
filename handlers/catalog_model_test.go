package handlers_test

import (
	"cmp"
	"context"
	"fmt"
	"math/rand/v2"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode"

	"github.com/shelfcommerce/shelf/handlers"
	"github.com/shelfcommerce/shelf/internal/catalog"
	"github.com/shelfcommerce/shelf/internal/money"
	"github.com/shelfcommerce/shelf/internal/seed"
)

// modelProduct is what the Go model knows of a product, computed from the
// generator's output, never from product_listing or the SQL.
type modelProduct struct {
	id        uint64
	title     string
	brand     string
	price     int64
	inStock   bool
	createdAt int64
	cats      map[uint64]bool
	attrs     map[string]map[string]bool
	words     map[string]bool
}

// TestListingAgreesWithAnIndependentModel loads a random catalog, then runs
// a few hundred random filter/sort/limit combinations through the HTTP API,
// paging each to the end, and compares the ids with the same filter and order
// computed in Go.
func TestListingAgreesWithAnIndependentModel(t *testing.T) {
	t.Parallel()
	e, d, _ := newServer(t, func(c *handlers.Config) {
		c.Storefront = catalog.StorefrontConfig{CursorSecret: []byte("k"), Currency: "USD"}
	})
	ctx := context.Background()
	const n = 600
	const seedValue = 7
	if _, err := seed.Load(ctx, d.Store, seed.Options{Products: n, Seed: seedValue, Chunk: 250}); err != nil {
		t.Fatal(err)
	}
	cats := seed.Categories(0)
	parent := map[uint64]uint64{}
	slugs := []string{}
	for _, c := range cats {
		parent[c.ID] = c.ParentID
		slugs = append(slugs, c.Slug)
	}
	var leaves []seed.Category
	for _, c := range cats {
		if c.Leaf {
			leaves = append(leaves, c)
		}
	}
	g := &seed.Generator{Seed: seedValue, Leaves: leaves, Currency: "USD"}
	bySlug := map[string]uint64{}
	for _, c := range cats {
		bySlug[c.Slug] = c.ID
	}
	var model []modelProduct
	brandSet, vocab := map[string]bool{}, map[string]bool{}
	for i := range n {
		p := g.Product(i)
		if p.Status != "active" {
			continue
		}
		m := modelProduct{id: p.ID, title: p.Title, brand: p.Brand, price: -1, createdAt: p.CreatedAt.UnixMicro(),
			cats: map[uint64]bool{}, attrs: map[string]map[string]bool{}, words: map[string]bool{}}
		var skus []string
		for _, v := range p.Variants {
			if m.price < 0 || v.Price < m.price {
				m.price = v.Price
			}
			m.inStock = m.inStock || v.OnHand > 0
			skus = append(skus, v.SKU)
		}
		for _, c := range p.Categories {
			for x := c; x != 0; x = parent[x] {
				m.cats[x] = true
			}
		}
		for _, a := range p.Attrs {
			if m.attrs[a[0]] == nil {
				m.attrs[a[0]] = map[string]bool{}
			}
			m.attrs[a[0]][a[1]] = true
		}
		for _, w := range strings.FieldsFunc(strings.ToLower(p.Title+" "+p.Brand+" "+strings.Join(skus, " ")+" "+p.Description),
			func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) }) {
			m.words[w] = true
		}
		brandSet[p.Brand] = true
		for _, w := range strings.Fields(strings.ToLower(p.Title)) {
			if len(w) >= 4 {
				vocab[w] = true
			}
		}
		model = append(model, m)
	}
	brands := sortedKeys(brandSet)
	words := sortedKeys(vocab)
	colors := []string{"red", "blue", "green", "black", "white", "navy"}
	materials := []string{"cotton", "linen", "wool", "leather", "steel", "oak"}

	r := rand.New(rand.NewPCG(1, 2))
	combos := 250
	if testing.Short() {
		combos = 60
	}
	nonEmpty, multiPage := 0, 0
	for k := range combos {
		v := url.Values{}
		filter := func(m *modelProduct) bool { return true }
		and := func(f func(m *modelProduct) bool) {
			prev := filter
			filter = func(m *modelProduct) bool { return prev(m) && f(m) }
		}
		if r.IntN(2) == 0 {
			s := slugs[r.IntN(len(slugs))]
			v.Set("category", s)
			id := bySlug[s]
			and(func(m *modelProduct) bool { return m.cats[id] })
		}
		if r.IntN(3) == 0 {
			lo := int64(r.IntN(300)) * 100
			v.Set("min_price", money.Format(lo, "USD"))
			and(func(m *modelProduct) bool { return m.price >= lo })
		}
		if r.IntN(3) == 0 {
			hi := int64(r.IntN(600)) * 100
			if lo := v.Get("min_price"); lo != "" {
				l, _ := money.Parse(lo, "USD")
				hi = max(hi, l)
			}
			v.Set("max_price", strconv.FormatInt(hi/100, 10)+"."+fmt.Sprintf("%02d", hi%100))
			and(func(m *modelProduct) bool { return m.price <= hi })
		}
		if r.IntN(4) == 0 {
			bs := map[string]bool{}
			for range 1 + r.IntN(3) {
				b := brands[r.IntN(len(brands))]
				bs[b] = true
				v.Add("brand", b)
			}
			and(func(m *modelProduct) bool { return bs[m.brand] })
		}
		if r.IntN(4) == 0 {
			v.Set("in_stock", "true")
			and(func(m *modelProduct) bool { return m.inStock })
		}
		if r.IntN(4) == 0 {
			vals := map[string]bool{}
			for range 1 + r.IntN(2) {
				c := colors[r.IntN(len(colors))]
				vals[c] = true
				v.Add("attr.color", c)
			}
			and(func(m *modelProduct) bool {
				for c := range vals {
					if m.attrs["color"][c] {
						return true
					}
				}
				return false
			})
		}
		if r.IntN(5) == 0 {
			mat := materials[r.IntN(len(materials))]
			v.Set("attr.material", mat)
			and(func(m *modelProduct) bool { return m.attrs["material"][mat] })
		}
		hasQ := r.IntN(4) == 0
		if hasQ {
			terms := []string{words[r.IntN(len(words))]}
			if r.IntN(3) == 0 {
				terms = append(terms, words[r.IntN(len(words))])
			}
			v.Set("q", strings.Join(terms, " "))
			and(func(m *modelProduct) bool {
				for _, w := range terms {
					if !m.words[w] {
						return false
					}
				}
				return true
			})
		}
		sorts := []string{"newest", "price", "-price", "title", ""}
		if hasQ {
			sorts = append(sorts, "relevance")
		}
		sort := sorts[r.IntN(len(sorts))]
		if sort != "" {
			v.Set("sort", sort)
		}
		if sort == "" {
			sort = "newest"
			if hasQ {
				sort = "relevance"
			}
		}
		limit := []int{1, 2, 7, 24, 100}[r.IntN(5)]
		v.Set("limit", strconv.Itoa(limit))

		var want []uint64
		var wantRows []modelProduct
		for i := range model {
			if filter(&model[i]) {
				wantRows = append(wantRows, model[i])
			}
		}
		slices.SortFunc(wantRows, modelOrder(sort))
		for _, m := range wantRows {
			want = append(want, m.id)
		}

		var got []uint64
		base := v.Encode()
		path := "/v1/products?" + base
		for pages := 0; ; pages++ {
			var p listPage
			rec := getJSON(t, e, path, &p)
			if rec.Code != 200 {
				t.Fatalf("combo %d: GET %s = %d: %s", k, path, rec.Code, rec.Body)
			}
			if len(p.Items) > limit || (p.NextCursor != nil && len(p.Items) != limit) {
				t.Fatalf("combo %d: page of %d items with limit %d", k, len(p.Items), limit)
			}
			for _, it := range p.Items {
				got = append(got, it.ID)
			}
			if p.NextCursor == nil {
				break
			}
			if pages > len(model) {
				t.Fatalf("combo %d: paging does not end", k)
			}
			path = "/v1/products?" + base + "&cursor=" + url.QueryEscape(*p.NextCursor)
		}
		if sort == "relevance" {
			// InnoDB's relevance is not modelled: compare the sets, and that
			// no product came twice.
			g2 := slices.Clone(got)
			slices.Sort(g2)
			if len(slices.Compact(g2)) != len(got) {
				t.Fatalf("combo %d (%s): a product repeated", k, base)
			}
			got = g2
			want = slices.Clone(want)
			slices.Sort(want)
		}
		if !slices.Equal(got, want) {
			t.Fatalf("combo %d: GET /v1/products?%s\n got %d ids %v\nwant %d ids %v", k, base, len(got), head(got), len(want), head(want))
		}
		if len(want) > 0 {
			nonEmpty++
		}
		if len(want) > limit {
			multiPage++
		}
	}
	// The comparison means something only if many combinations list
	// products, over several pages.
	if nonEmpty < combos/2 || multiPage < combos/5 {
		t.Fatalf("only %d of %d combinations listed anything and %d paged: the generator no longer exercises the filters", nonEmpty, combos, multiPage)
	}
	t.Logf("%d combinations, %d non-empty, %d over several pages", combos, nonEmpty, multiPage)
}

func modelOrder(sort string) func(a, b modelProduct) int {
	byID := func(a, b modelProduct, desc bool) int {
		c := cmp.Compare(a.id, b.id)
		if desc {
			return -c
		}
		return c
	}
	return func(a, b modelProduct) int {
		switch sort {
		case "price":
			if a.price != b.price {
				return cmp.Compare(a.price, b.price)
			}
			return byID(a, b, false)
		case "-price":
			if a.price != b.price {
				return -cmp.Compare(a.price, b.price)
			}
			return byID(a, b, true)
		case "title":
			// Titles are ASCII letters and spaces: the collation's order is
			// the lower-cased byte order.
			if c := strings.Compare(strings.ToLower(a.title), strings.ToLower(b.title)); c != 0 {
				return c
			}
			return byID(a, b, false)
		default: // newest, and relevance (compared as a set)
			if a.createdAt != b.createdAt {
				return -cmp.Compare(a.createdAt, b.createdAt)
			}
			return byID(a, b, true)
		}
	}
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func head(ids []uint64) []uint64 {
	if len(ids) > 20 {
		return ids[:20]
	}
	return ids
}
