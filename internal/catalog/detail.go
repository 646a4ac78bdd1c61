package catalog

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"hash/crc32"
	"strconv"
	"sync"
	"time"

	"github.com/shelfcommerce/shelf/db"
	"github.com/shelfcommerce/shelf/internal/fastgzip"
	"github.com/shelfcommerce/shelf/internal/money"
	"github.com/shelfcommerce/shelf/internal/problem"
	"github.com/shelfcommerce/shelf/internal/store"
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

// RenderedProduct is a product page ready to send: its JSON and ETag, and
// the JSON gzipped (internal/fastgzip) the first time a client that accepts
// gzip asks for it, when it is larger than a packet.
type RenderedProduct struct {
	ID   uint64
	Body []byte
	ETag string

	gzipOnce sync.Once
	gzip     []byte
}

// Gzip is the body gzipped, or nil when it is too small to be worth it.
// It is compressed once, on first use, so a page served from the cache
// pays for it once and a client that does not take gzip never does.
func (r *RenderedProduct) Gzip() []byte {
	r.gzipOnce.Do(func() {
		if len(r.Body) >= fastgzip.MinSize {
			r.gzip = fastgzip.Append(make([]byte, 0, len(r.Body)/2+64), r.Body)
		}
	})
	return r.gzip
}

// ProductPage returns the rendered page of the active product with this id
// or slug (an all-digit value is tried as an id first, then as a slug).
// Pages are served from memory, and follow the change feed: a change to a
// product, its prices or stock shows on the instance that made it as soon
// as the write has answered (it forgets the pages it changed before), and
// on every other instance once its hub tails the change's events (p99 in
// docs/benchmarks/feed.md). StorefrontConfig.DetailTTL only bounds how
// stale a page can be if the feed stops.
//
// The ETag is strong: "<id>-<products.version>-<hash of the body>". The
// version alone would miss stock and price changes that do not bump it; the
// body hash makes it change exactly when the representation does.
func (s *Storefront) ProductPage(ctx context.Context, idOrSlug string) (*RenderedProduct, error) {
	now := s.now()
	notFound := func() error { return problem.New(problem.NotFound, "no active product has this id or slug") }
	id, isID := RefID(idOrSlug)
	if !isID {
		if !ValidSlug(idOrSlug) {
			return nil, notFound()
		}
		if cached, ok := s.slugIDs.get(idOrSlug, now); ok {
			id = cached
		} else {
			var err error
			id, err = s.productIDBySlug(ctx, idOrSlug)
			if errors.Is(err, sql.ErrNoRows) {
				return nil, notFound()
			} else if err != nil {
				return nil, fmt.Errorf("product by slug: %w", err)
			}
			s.slugIDs.put(idOrSlug, id, now)
		}
	}
	render := func(id uint64) (*RenderedProduct, error) {
		return s.detail.getOrLoad(ctx, id, now, func(ctx context.Context) (*RenderedProduct, error) {
			return s.renderProduct(ctx, s.reader(s.recent.product(id, s.now())), id)
		})
	}
	r, err := render(id)
	if errors.Is(err, sql.ErrNoRows) && isID && ValidSlug(idOrSlug) {
		// A slug made of digits ("1984"): look it up as a slug.
		if sid, err2 := s.productIDBySlug(ctx, idOrSlug); err2 == nil {
			r, err = render(sid)
		}
	}
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound()
	} else if err != nil {
		return nil, err
	}
	return r, nil
}

// productIDBySlug looks a slug up on the read node and, when it is not
// there while the catalog changed within the read node's lag (the product
// may just have been created), on the primary.
func (s *Storefront) productIDBySlug(ctx context.Context, slug string) (uint64, error) {
	st := s.reader(false)
	id, err := st.Q.ProductIDBySlug(ctx, slug)
	if errors.Is(err, sql.ErrNoRows) && s.reader(s.recent.listing(s.now())) != st {
		id, err = s.cfg.Primary.Q.ProductIDBySlug(ctx, slug)
	}
	return id, err
}

// renderProduct reads the product's document and its stock (one statement)
// from st and renders the page.
func (s *Storefront) renderProduct(ctx context.Context, st *store.Store, id uint64) (*RenderedProduct, error) {
	rows, err := st.Q.ProductPage(ctx, db.ProductPageParams{ProductID: id, Limit: pageJoinRows})
	if err != nil {
		return nil, fmt.Errorf("product %d: %w", id, err)
	}
	if len(rows) == 0 {
		return nil, sql.ErrNoRows // no such active product
	}
	doc := &rows[0]
	var buf [pageJoinRows]stockRow
	onHand := buf[:0]
	if len(rows) < pageJoinRows {
		for _, r := range rows {
			if r.VariantID != 0 {
				onHand = append(onHand, stockRow{variant: uint64(r.VariantID), onHand: r.OnHand})
			}
		}
	} else {
		// Many variants: their stock alone, rather than the document once more
		// for each.
		stock, err := st.Q.ProductStock(ctx, id)
		if err != nil {
			return nil, fmt.Errorf("product %d stock: %w", id, err)
		}
		for _, r := range stock {
			onHand = append(onHand, stockRow{variant: r.VariantID, onHand: r.OnHand})
		}
	}
	body, err := spliceStock(nil, doc.Body, doc.VariantIds, onHand)
	if err != nil {
		return nil, fmt.Errorf("product %d: %w", id, err)
	}
	return &RenderedProduct{ID: id, Body: body, ETag: pageETag(id, uint64(doc.Version), body)}, nil
}

// pageJoinRows bounds the rows of a page's statement: a product with fewer
// inventory rows (almost all) is one round trip, one with more reads its
// stock in a second statement, so its document is never sent more than
// this many times.
const pageJoinRows = 8

// castagnoli is the CRC-32C table (hardware-computed on amd64 and arm64).
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// pageETag is "<id>-<version>-<hash of the body>"; the hash is the body's
// CRC-32 (IEEE) and CRC-32C side by side, 64 bits that the CPU computes in
// a fraction of a microsecond for a page.
func pageETag(id, version uint64, body []byte) string {
	h := uint64(crc32.ChecksumIEEE(body))<<32 | uint64(crc32.Checksum(body, castagnoli))
	var b [64]byte
	t := append(b[:0], '"')
	t = strconv.AppendUint(t, id, 10)
	t = append(t, '-')
	t = strconv.AppendUint(t, version, 10)
	t = append(t, '-')
	for shift := 60; shift >= 0; shift -= 4 {
		t = append(t, "0123456789abcdef"[h>>shift&0xf])
	}
	t = append(t, '"')
	return string(t)
}

func nullID(id uint64) sql.NullInt64 { return sql.NullInt64{Int64: int64(id), Valid: true} }
