// Package seed generates deterministic demo catalogs and loads them straight
// into the tables in large batches: the few hundred products of `shelf seed`
// and the million-product catalog of the storefront benchmark come from the
// same code. It writes generated data only; edits to real products go through
// the catalog package's writers, which keep product_listing in step row by row.
package seed

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/shelfcommerce/shelf/internal/catalog"
)

// tree is the demo category tree, three levels deep: 6 × 4 × 4 leaves.
var tree = []struct {
	name string
	mids []struct {
		name   string
		leaves []string
	}
}{
	{"Apparel", mids(
		"Men's Clothing", "Shirts|Trousers|Jackets|Knitwear",
		"Women's Clothing", "Dresses|Tops|Skirts|Coats",
		"Shoes", "Sneakers|Boots|Sandals|Loafers",
		"Accessories", "Bags|Belts|Hats|Scarves")},
	{"Home & Kitchen", mids(
		"Cookware", "Pans|Pots|Knives|Bakeware",
		"Furniture", "Chairs|Tables|Shelves|Sofas",
		"Bedding", "Sheets|Pillows|Duvets|Blankets",
		"Decor", "Lamps|Rugs|Mirrors|Vases")},
	{"Electronics", mids(
		"Audio", "Headphones|Speakers|Earbuds|Turntables",
		"Computers", "Laptops|Monitors|Keyboards|Mice",
		"Phones", "Smartphones|Phone Cases|Chargers|Cables",
		"Cameras", "Mirrorless Cameras|Lenses|Tripods|Drones")},
	{"Sports & Outdoors", mids(
		"Camping", "Tents|Sleeping Bags|Camp Stoves|Lanterns",
		"Cycling", "Bikes|Helmets|Bike Lights|Saddles",
		"Fitness", "Dumbbells|Yoga Mats|Kettlebells|Resistance Bands",
		"Running", "Running Shoes|Running Shirts|Running Shorts|Sport Watches")},
	{"Beauty", mids(
		"Skincare", "Cleansers|Moisturisers|Serums|Sunscreen",
		"Haircare", "Shampoo|Conditioner|Hair Oil|Hair Brushes",
		"Makeup", "Lipstick|Mascara|Foundation|Eyeshadow",
		"Fragrance", "Perfume|Cologne|Body Mist|Scented Candles")},
	{"Toys & Games", mids(
		"Board Games", "Strategy Games|Family Games|Party Games|Jigsaw Puzzles",
		"Building Toys", "Building Blocks|Construction Sets|Marble Runs|Magnetic Tiles",
		"Outdoor Play", "Kites|Balls|Scooters|Water Toys",
		"Dolls & Figures", "Dolls|Action Figures|Plush Toys|Dollhouses")},
}

func mids(kv ...string) []struct {
	name   string
	leaves []string
} {
	var out []struct {
		name   string
		leaves []string
	}
	for i := 0; i+1 < len(kv); i += 2 {
		out = append(out, struct {
			name   string
			leaves []string
		}{kv[i], strings.Split(kv[i+1], "|")})
	}
	return out
}

var (
	brands = []string{"Northwind", "Acme", "Bluebird", "Copperleaf", "Driftwood", "Evergreen", "Foxglove",
		"Granite", "Harbor", "Ironbark", "Juniper", "Kestrel", "Lumen", "Meridian", "Nimbus", "Oakridge",
		"Pinecrest", "Quill", "Redwood", "Saltmarsh", "Tidewater", "Umber", "Vantage", "Willow", "Yarrow",
		"Zephyr", "Alder", "Birchwood", "Cobalt", "Dune"}
	adjectives = []string{"Classic", "Modern", "Essential", "Premium", "Vintage", "Compact", "Everyday",
		"Pro", "Ultra", "Organic", "Lightweight", "Rugged", "Deluxe", "Travel", "Urban", "Heritage"}
	materials = []string{"Cotton", "Linen", "Wool", "Leather", "Steel", "Oak", "Bamboo", "Nylon",
		"Ceramic", "Glass", "Aluminium", "Canvas"}
	colors = []string{"Red", "Blue", "Green", "Black", "White", "Grey", "Navy", "Beige", "Yellow", "Pink"}
	sizes  = []string{"XS", "S", "M", "L", "XL"}
	words  = strings.Fields(`durable comfortable designed everyday use crafted careful attention detail
		made last seasons lightweight yet sturdy easy clean care perfect gift home travel work weekend
		features reinforced seams smooth finish natural look feel thoughtfully sourced materials tested
		quality reliable performance versatile style pairs well anything favourite customers since launch`)
)

// Category is a generated category.
type Category struct {
	ID       uint64
	ParentID uint64 // 0: top level
	Slug     string
	Name     string
	Position int
	Depth    int
	Leaf     bool
	Apparel  bool // its products have sizes
}

// Categories returns the demo tree with ids from base+1, parents before
// children.
func Categories(base uint64) []Category {
	var out []Category
	used := map[string]bool{}
	add := func(parent *Category, name string, pos, depth int, leaf, apparel bool) Category {
		slug := catalog.Slugify(name)
		if used[slug] && parent != nil {
			slug = parent.Slug + "-" + slug
		}
		used[slug] = true
		c := Category{ID: base + uint64(len(out)) + 1, Slug: slug, Name: name, Position: pos, Depth: depth, Leaf: leaf, Apparel: apparel}
		if parent != nil {
			c.ParentID = parent.ID
		}
		out = append(out, c)
		return c
	}
	for i, t := range tree {
		top := add(nil, t.name, i, 0, false, i == 0)
		for j, m := range t.mids {
			mid := add(&top, m.name, j, 1, false, i == 0)
			for k, l := range m.leaves {
				add(&mid, l, k, 2, true, i == 0 && j < 2)
			}
		}
	}
	return out
}

// Product is a generated product with everything that hangs off it.
type Product struct {
	ID          uint64
	Slug        string
	Title       string
	Description string
	Brand       string
	Type        string
	Status      string
	Option1     string
	Option2     string
	CreatedAt   time.Time
	Variants    []Variant
	Categories  []uint64
	Images      []string
	Attrs       [][2]string
}

// Variant is a generated variant.
type Variant struct {
	ID        uint64
	SKU       string
	Option1   string
	Option2   string
	Price     int64 // minor units
	CompareAt int64 // 0: none
	OnHand    int64
}

// epoch is when the generated catalog "opened"; products are created after it.
var epoch = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

// Generator produces product number i (0-based) of a catalog from the seed
// alone, so any chunk can be made independently and twice the same.
type Generator struct {
	Seed       uint64
	Leaves     []Category
	ProductID  uint64 // ids start after these
	VariantID  uint64
	Currency   string
	VariantsOf func(i int) int // optional: variant count of product i
}

// MaxVariants is the most variants a generated product has; product i's
// variants take ids VariantID + i*MaxVariants + 1 onwards, so chunks can be
// generated independently (ids have gaps, which nothing minds).
const MaxVariants = 4

// Product returns product i.
func (g *Generator) Product(i int) Product {
	firstVariant := g.VariantID + uint64(i)*MaxVariants + 1
	r := rand.New(rand.NewPCG(g.Seed, uint64(i)))
	leaf := g.Leaves[r.IntN(len(g.Leaves))]
	brand := brands[r.IntN(len(brands))]
	adj := adjectives[r.IntN(len(adjectives))]
	mat := materials[r.IntN(len(materials))]
	id := g.ProductID + uint64(i) + 1
	title := fmt.Sprintf("%s %s %s %s", brand, adj, mat, singular(leaf.Name))
	p := Product{
		ID:    id,
		Slug:  fmt.Sprintf("%s-%d", catalog.Slugify(title), i+1),
		Title: title, Brand: brand, Type: leaf.Name, Status: "active",
		Option1:    "Color",
		CreatedAt:  epoch.Add(time.Duration(i/3) * time.Second), // some share a timestamp
		Categories: []uint64{leaf.ID},
	}
	switch n := r.IntN(100); {
	case n < 3:
		p.Status = "draft"
	case n < 5:
		p.Status = "archived"
	}
	if r.IntN(10) == 0 {
		other := g.Leaves[r.IntN(len(g.Leaves))]
		if other.ID != leaf.ID {
			p.Categories = append(p.Categories, other.ID)
		}
	}
	if leaf.Apparel {
		p.Option2 = "Size"
	}
	var d strings.Builder
	fmt.Fprintf(&d, "The %s %s in %s by %s.", strings.ToLower(adj), strings.ToLower(singular(leaf.Name)), strings.ToLower(mat), brand)
	for range 12 + r.IntN(12) {
		d.WriteByte(' ')
		d.WriteString(words[r.IntN(len(words))])
	}
	d.WriteByte('.')
	p.Description = d.String()

	nv := 1 + r.IntN(4) // 2.5 on average
	if g.VariantsOf != nil {
		nv = min(max(g.VariantsOf(i), 1), MaxVariants)
	}
	// Prices end in .99 (or .00) from 4.99 to ~2,000, so many products share one.
	base := int64(r.IntN(200)+1)*500 - 1
	if r.IntN(4) == 0 {
		base = int64(r.IntN(2000)+5) * 100
	}
	seenColor := map[string]bool{}
	for v := range nv {
		color := colors[r.IntN(len(colors))]
		vr := Variant{
			ID:      firstVariant + uint64(v),
			SKU:     fmt.Sprintf("SH-%08d-%d", id, v+1),
			Option1: color,
			Price:   base + int64(r.IntN(3))*500,
		}
		if p.Option2 != "" {
			vr.Option2 = sizes[r.IntN(len(sizes))]
		}
		if r.IntN(5) == 0 {
			vr.CompareAt = vr.Price + vr.Price/4
		}
		if r.IntN(7) != 0 {
			vr.OnHand = int64(1 + r.IntN(100))
		}
		p.Variants = append(p.Variants, vr)
		if !seenColor[color] {
			seenColor[color] = true
			p.Attrs = append(p.Attrs, [2]string{"color", strings.ToLower(color)})
		}
	}
	p.Attrs = append(p.Attrs, [2]string{"material", strings.ToLower(mat)})
	for k := range 1 + r.IntN(3) {
		p.Images = append(p.Images, fmt.Sprintf("https://img.example.com/p/%s-%d.jpg", p.Slug, k+1))
	}
	return p
}

func singular(s string) string {
	switch {
	case strings.HasSuffix(s, "ses") && !strings.HasSuffix(s, "sses"):
		return s[:len(s)-1]
	case strings.HasSuffix(s, "ies"):
		return s[:len(s)-3] + "y"
	case strings.HasSuffix(s, "shes") || strings.HasSuffix(s, "ches") || strings.HasSuffix(s, "sses"):
		return s[:len(s)-2]
	case strings.HasSuffix(s, "s") && !strings.HasSuffix(s, "ss"):
		return s[:len(s)-1]
	}
	return s
}
