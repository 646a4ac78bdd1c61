package catalog

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/shelfcommerce/shelf/db"
	"github.com/shelfcommerce/shelf/internal/money"
	"github.com/shelfcommerce/shelf/internal/problem"
	"github.com/shelfcommerce/shelf/internal/store"
)

// AdminProduct is a product as the admin API shows it: everything an edit
// can set, plus the computed fields (id, version, timestamps), which a
// request can never set.
type AdminProduct struct {
	ID          uint64              `json:"id"`
	Slug        string              `json:"slug"`
	Title       string              `json:"title"`
	Description string              `json:"description"`
	Brand       string              `json:"brand"`
	Type        string              `json:"type"`
	Status      string              `json:"status"`
	OptionNames []string            `json:"option_names"` // computed: the variants' option names, in order
	Category    string              `json:"category"`
	Tags        []string            `json:"tags"`
	Attributes  map[string][]string `json:"attributes"`
	Images      []AdminImage        `json:"images"`
	Variants    []AdminVariant      `json:"variants"`
	Version     uint64              `json:"version"`
	CreatedAt   time.Time           `json:"created_at"`
	UpdatedAt   time.Time           `json:"updated_at"`

	// The category as stored, by id and by its path's names (Category
	// joins them with " > ", which a name may itself hold).
	categoryID   uint64
	categoryPath []string
}

// AdminImage is one product image.
type AdminImage struct {
	Src      string `json:"src"`
	Alt      string `json:"alt"`
	Position int    `json:"position"`
}

// AdminVariant is one active variant with its stock.
type AdminVariant struct {
	ID             uint64            `json:"id"`
	SKU            *string           `json:"sku"`
	Options        map[string]string `json:"options"`
	Price          money.Money       `json:"price"`
	CompareAtPrice *money.Money      `json:"compare_at_price"`
	OnHand         int64             `json:"on_hand"`
}

// ETag is the product's entity tag for If-Match: it changes with every write.
func (p *AdminProduct) ETag() string {
	return `"p` + strconv.FormatUint(p.ID, 10) + "v" + strconv.FormatUint(p.Version, 10) + `"`
}

// HasVersionOf reports whether the entity tag t (one tag, as sent) names
// this product at its current version, with If-Match's strong comparison (a
// weak tag never matches). Two forms are current: ETag's "p<id>v<version>"
// and the product page's "<id>-<version>-<hash>" (see renderProduct), so a
// script may read the product from either. The page's hash is not compared:
// the page also shows stock that orders change without a new version, and a
// write only needs the version it overwrites.
func (p *AdminProduct) HasVersionOf(t string) bool {
	if t == p.ETag() {
		return true
	}
	if len(t) < 2 || t[0] != '"' || t[len(t)-1] != '"' {
		return false
	}
	parts := strings.Split(t[1:len(t)-1], "-")
	return len(parts) == 3 && parts[0] == strconv.FormatUint(p.ID, 10) &&
		parts[1] == strconv.FormatUint(p.Version, 10) && parts[2] != ""
}

// LoadAdminProduct reads a product by id, or by slug when id is 0.
func LoadAdminProduct(ctx context.Context, st *store.Store, id uint64, slug string) (*AdminProduct, error) {
	return loadAdminProduct(ctx, st.Q, id, slug)
}

// loadAdminProduct is LoadAdminProduct through q: the pool's queries or a
// transaction's.
func loadAdminProduct(ctx context.Context, q *db.Queries, id uint64, slug string) (*AdminProduct, error) {
	var row db.AdminProductByIDRow
	var err error
	if id != 0 {
		row, err = q.AdminProductByID(ctx, id)
	} else {
		var r db.AdminProductBySlugRow
		r, err = q.AdminProductBySlug(ctx, slug)
		row = db.AdminProductByIDRow(r)
	}
	if errors.Is(err, sql.ErrNoRows) {
		return nil, problem.New(problem.NotFound, "no such product")
	} else if err != nil {
		return nil, err
	}
	p := &AdminProduct{
		ID: row.ID, Slug: row.Slug, Title: row.Title, Description: row.Description, Brand: row.Brand,
		Type: row.ProductType, Status: string(row.Status), Version: row.Version,
		CreatedAt: row.CreatedAt, UpdatedAt: row.UpdatedAt, Tags: []string{}, Attributes: map[string][]string{},
		Images: []AdminImage{}, Variants: []AdminVariant{},
	}
	for t := range strings.SplitSeq(row.Tags, ",") {
		if t = strings.TrimSpace(t); t != "" {
			p.Tags = append(p.Tags, t)
		}
	}
	names := []string{}
	for _, n := range []string{row.Option1Name, row.Option2Name, row.Option3Name} {
		if n != "" {
			names = append(names, n)
		}
	}
	vs, err := q.AdminVariantsOfProduct(ctx, row.ID)
	if err != nil {
		return nil, err
	}
	for _, v := range vs {
		av := AdminVariant{ID: v.ID, Options: map[string]string{}, OnHand: v.OnHand,
			Price: money.Money{Amount: v.Price, Currency: v.Currency}}
		if v.Sku.Valid {
			s := v.Sku.String
			av.SKU = &s
		}
		if v.CompareAtPrice.Valid {
			av.CompareAtPrice = &money.Money{Amount: v.CompareAtPrice.Int64, Currency: v.Currency}
		}
		for i, val := range []string{v.Option1, v.Option2, v.Option3} {
			if i < len(names) {
				av.Options[names[i]] = val
			}
		}
		p.Variants = append(p.Variants, av)
	}
	imgs, err := q.AdminImagesOfProduct(ctx, row.ID)
	if err != nil {
		return nil, err
	}
	for _, im := range imgs {
		p.Images = append(p.Images, AdminImage{Src: im.Src, Alt: im.Alt, Position: int(im.Position)})
	}
	attrs, err := q.AdminAttributesOfProduct(ctx, row.ID)
	if err != nil {
		return nil, err
	}
	for _, at := range attrs {
		p.Attributes[at.Name] = append(p.Attributes[at.Name], at.Value)
	}
	path, err := q.AdminCategoryPathsOfProduct(ctx, row.ID)
	if err != nil {
		return nil, err
	}
	var parts []string
	var first uint64
	for _, c := range path {
		if first == 0 {
			first = c.CategoryID
		}
		if c.CategoryID == first {
			parts = append(parts, c.Name)
		}
	}
	p.Category = strings.Join(parts, " > ")
	p.categoryID, p.categoryPath = first, parts
	p.OptionNames = names
	return p, nil
}

// WriteMode says what a single-product write may do.
type WriteMode int

const (
	CreateOnly WriteMode = iota // POST: 409 if the slug exists
	Upsert                      // PUT: create or replace
	Replace                     // PATCH: the product must exist at IfVersion (when non-zero)
)

// WriteProduct writes one product from the admin API through the same
// Writer as imports, so the two cannot disagree. Any row error rejects the
// whole request (422): an API call is all or nothing.
func WriteProduct(ctx context.Context, st *store.Store, p *ProductInput, mode WriteMode, ifVersion uint64, actor string) (*AdminProduct, Outcome, error) {
	w := &Writer{Actor: actor, Reason: "admin"}
	var out *AdminProduct
	var outcome Outcome
	err := st.InTx(ctx, func(tx *store.Tx) error {
		var err error
		out, outcome, err = writeOne(ctx, tx, w, p, mode, ifVersion)
		return err
	})
	return out, outcome, err
}

// writeOne is WriteProduct inside tx.
func writeOne(ctx context.Context, tx *store.Tx, w *Writer, p *ProductInput, mode WriteMode, ifVersion uint64) (*AdminProduct, Outcome, error) {
	cur, err := tx.Q.WriterProductsBySlug(ctx, []string{p.Handle})
	if err != nil {
		return nil, 0, err
	}
	switch {
	case mode == CreateOnly && len(cur) > 0:
		return nil, 0, problem.Field(problem.Conflict, "slug", fmt.Sprintf("a product with slug %q exists; PUT /v1/admin/products/%s replaces it", p.Handle, p.Handle))
	case mode == Replace && len(cur) == 0:
		return nil, 0, problem.New(problem.NotFound, "no such product")
	case mode == Replace && ifVersion != 0 && cur[0].Version != ifVersion:
		return nil, 0, problem.New(problem.PreconditionFailed, "the product changed since you read it (now version %d): read it again and re-apply your change", cur[0].Version)
	}
	res, err := w.WriteBatch(ctx, tx, []*ProductInput{p})
	if err != nil {
		return nil, 0, err
	}
	r := res[0]
	if len(r.Errors) > 0 || r.Outcome == Failed {
		// The writer names a SKU another product owns by its row; a request
		// names it by its place in "variants".
		for i, e := range r.Errors {
			if e.Variant == 0 && e.SKU != "" {
				if j := slices.IndexFunc(p.Variants, func(v VariantInput) bool { return v.SKU == e.SKU }); j >= 0 {
					r.Errors[i].Variant = j + 1
				}
			}
		}
		return nil, 0, rowProblem(r.Errors, "the product could not be written")
	}
	out, err := loadAdminProduct(ctx, tx.Q, r.ID, "")
	return out, r.Outcome, err
}

// ArchiveProduct hides a product from the storefront and keeps it for the
// orders that refer to it.
func ArchiveProduct(ctx context.Context, st *store.Store, id uint64) error {
	return st.InTx(ctx, func(tx *store.Tx) error {
		// Locked before it is read: a write committing in between would
		// otherwise be hashed as it was before.
		locked, err := tx.Q.AdminLockProducts(ctx, []uint64{id})
		if err != nil {
			return err
		}
		if len(locked) == 0 {
			return problem.New(problem.NotFound, "no such product")
		}
		// The content hash follows, so that importing an export of the
		// archived product reports it unchanged.
		now := time.Now().UTC()
		var n int64
		if err := restate(ctx, tx.Q, locked, func() (err error) {
			n, err = tx.Q.AdminArchiveProduct(ctx, db.AdminArchiveProductParams{UpdatedAt: now, ID: id})
			return err
		}); err != nil {
			return err
		}
		if n == 0 {
			return nil // already archived: DELETE is idempotent
		}
		if err := productsChanged(ctx, tx, []uint64{id}, true, now); err != nil {
			return err
		}
		return SyncListing(ctx, tx, []uint64{id})
	})
}
