package catalog

import (
	"bytes"
	"cmp"
	"compress/gzip"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"slices"
	"strconv"
	"time"

	"github.com/shelfcommerce/shelf/db"
	"github.com/shelfcommerce/shelf/internal/money"
	"github.com/shelfcommerce/shelf/internal/problem"
)

// Product is the storefront's product page.
type Product struct {
	ID          uint64          `json:"id"`
	Slug        string          `json:"slug"`
	Title       string          `json:"title"`
	Brand       string          `json:"brand"`
	Description string          `json:"description"`
	ProductType string          `json:"product_type"`
	Price       *money.Money    `json:"price"` // lowest active variant price
	InStock     bool            `json:"in_stock"`
	OptionNames []string        `json:"option_names"`
	Variants    []Variant       `json:"variants"`
	Images      []Image         `json:"images"`
	Attributes  []Attribute     `json:"attributes"`
	Categories  []CategoryShort `json:"categories"`
	Version     uint64          `json:"version"`
	CreatedAt   time.Time       `json:"created_at"`
	UpdatedAt   time.Time       `json:"updated_at"`
}

// Variant is one sellable variant. Available is the units that can be sold
// now (on hand).
type Variant struct {
	ID             uint64        `json:"id"`
	SKU            *string       `json:"sku"`
	Options        []OptionValue `json:"options"`
	Price          money.Money   `json:"price"`
	CompareAtPrice *money.Money  `json:"compare_at_price"`
	Available      int64         `json:"available"`
	position       int64
}

// OptionValue is one option of a variant, e.g. {"name": "Size", "value": "M"}.
type OptionValue struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// Image is a product image.
type Image struct {
	Src      string `json:"src"`
	Alt      string `json:"alt"`
	id       uint64
	position int64
}

// Attribute is a facet attribute of a product.
type Attribute struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// CategoryShort names a category a product is in.
type CategoryShort struct {
	ID       uint64 `json:"id"`
	Slug     string `json:"slug"`
	Name     string `json:"name"`
	position int64
}

// RenderedProduct is a product page ready to send: its JSON, the same gzipped
// (level 1, when larger than a packet) and its ETag.
type RenderedProduct struct {
	ID   uint64
	Body []byte
	Gzip []byte // nil when not worth it
	ETag string
}

// gzipMin is the smallest body worth compressing: below one packet, gzip
// saves no round trip and costs CPU.
const gzipMin = 1400

// ProductPage returns the rendered page of the active product with this id
// or slug (an all-digit value is tried as an id first, then as a slug).
// Pages are served from memory (see StorefrontConfig.DetailTTL): a change to
// a product, its prices or stock appears within about 2×DetailTTL.
//
// The ETag is strong: "<id>-<products.version>-<hash of the body>". The
// version alone would miss stock and price changes that do not bump it; the
// body hash makes it change exactly when the representation does.
func (s *Storefront) ProductPage(ctx context.Context, idOrSlug string) (*RenderedProduct, error) {
	now := s.now()
	notFound := problem.New(problem.NotFound, "no active product has this id or slug")
	id, err := strconv.ParseUint(idOrSlug, 10, 64)
	isID := err == nil && id > 0
	if !isID {
		if !ValidSlug(idOrSlug) {
			return nil, notFound
		}
		if cached, ok := s.slugIDs.get(idOrSlug, now); ok {
			id = cached
		} else {
			id, err = s.st.Q.ProductIDBySlug(ctx, idOrSlug)
			if errors.Is(err, sql.ErrNoRows) {
				return nil, notFound
			} else if err != nil {
				return nil, fmt.Errorf("product by slug: %w", err)
			}
			s.slugIDs.put(idOrSlug, id, now)
		}
	}
	render := func(id uint64) (*RenderedProduct, error) {
		return s.detail.getOrLoad(ctx, id, now, func(ctx context.Context) (*RenderedProduct, error) {
			return s.renderProduct(ctx, id)
		})
	}
	r, err := render(id)
	if errors.Is(err, sql.ErrNoRows) && isID && ValidSlug(idOrSlug) {
		// A slug made of digits ("1984"): look it up as a slug.
		if sid, err2 := s.st.Q.ProductIDBySlug(ctx, idOrSlug); err2 == nil {
			r, err = render(sid)
		}
	}
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound
	} else if err != nil {
		return nil, err
	}
	return r, nil
}

func (s *Storefront) renderProduct(ctx context.Context, id uint64) (*RenderedProduct, error) {
	rows, err := s.st.Q.ProductPage(ctx, db.ProductPageParams{
		ProductID: id, VariantsOf: id, ImagesOf: id, AttributesOf: id, CategoriesOf: id})
	if err != nil {
		return nil, fmt.Errorf("product %d: %w", id, err)
	}
	p := Product{OptionNames: []string{}, Variants: []Variant{}, Images: []Image{}, Attributes: []Attribute{}, Categories: []CategoryShort{}}
	var names []string
	for _, r := range rows {
		if asString(r.Kind) == "p" {
			p.ID, p.Slug, p.Title, p.Brand, p.ProductType, p.Description = r.ID, r.S1, r.S2, r.S3, r.S4, r.S8
			p.Version = uint64(r.N1)
			p.CreatedAt, p.UpdatedAt = time.UnixMicro(r.N2).UTC(), time.UnixMicro(r.N3).UTC()
			names = []string{r.S5, r.S6, r.S7}
		}
	}
	if names == nil {
		return nil, sql.ErrNoRows // no such active product
	}
	for _, n := range names {
		if n != "" {
			p.OptionNames = append(p.OptionNames, n)
		}
	}
	for _, r := range rows {
		switch asString(r.Kind) {
		case "v":
			cur := r.S5
			v := Variant{ID: r.ID, Price: money.Money{Amount: r.N1, Currency: cur},
				Available: max(r.N3, 0), Options: []OptionValue{}, position: r.Position}
			if r.SkuNull == 0 {
				sku := r.S1
				v.SKU = &sku
			}
			if r.N2 >= 0 {
				v.CompareAtPrice = &money.Money{Amount: r.N2, Currency: cur}
			}
			for i, val := range []string{r.S2, r.S3, r.S4} {
				if names[i] != "" || val != "" {
					v.Options = append(v.Options, OptionValue{Name: names[i], Value: val})
				}
			}
			p.Variants = append(p.Variants, v)
		case "i":
			p.Images = append(p.Images, Image{Src: r.S1, Alt: r.S2, id: r.ID, position: r.Position})
		case "a":
			p.Attributes = append(p.Attributes, Attribute{Name: r.S1, Value: r.S2})
		case "c":
			p.Categories = append(p.Categories, CategoryShort{ID: r.ID, Slug: r.S1, Name: r.S2, position: r.Position})
		}
	}
	slices.SortFunc(p.Variants, func(a, b Variant) int {
		if a.position != b.position {
			return int(a.position - b.position)
		}
		return cmp.Compare(a.ID, b.ID)
	})
	for _, v := range p.Variants {
		if p.Price == nil || v.Price.Amount < p.Price.Amount {
			pr := v.Price
			p.Price = &pr
		}
		if v.Available > 0 {
			p.InStock = true
		}
	}
	slices.SortFunc(p.Images, func(a, b Image) int {
		if a.position != b.position {
			return int(a.position - b.position)
		}
		return cmp.Compare(a.id, b.id)
	})
	slices.SortFunc(p.Attributes, func(a, b Attribute) int {
		if a.Name != b.Name {
			return cmp.Compare(a.Name, b.Name)
		}
		return cmp.Compare(a.Value, b.Value)
	})
	slices.SortFunc(p.Categories, func(a, b CategoryShort) int {
		if a.position != b.position {
			return int(a.position - b.position)
		}
		return cmp.Compare(a.ID, b.ID)
	})
	body, err := json.Marshal(p)
	if err != nil {
		return nil, err
	}
	h := fnv.New64a()
	h.Write(body)
	r := &RenderedProduct{ID: p.ID, Body: body,
		ETag: fmt.Sprintf(`"%d-%d-%016x"`, p.ID, p.Version, h.Sum64())}
	if len(body) >= gzipMin {
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
		_, _ = zw.Write(body)
		_ = zw.Close()
		r.Gzip = buf.Bytes()
	}
	return r, nil
}

func nullID(id uint64) sql.NullInt64 { return sql.NullInt64{Int64: int64(id), Valid: true} }
