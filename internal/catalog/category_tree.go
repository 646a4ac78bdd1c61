package catalog

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/shelfcommerce/shelf/internal/problem"
)

// CategoryNode is a category in the storefront tree. ProductCount counts the
// active products in the category and everything below it.
type CategoryNode struct {
	ID           uint64          `json:"id"`
	Slug         string          `json:"slug"`
	Name         string          `json:"name"`
	ProductCount int64           `json:"product_count"`
	Children     []*CategoryNode `json:"children"`
}

// CategoryTree is GET /v1/categories.
type CategoryTree struct {
	Items []*CategoryNode `json:"items"`
}

// Categories returns the whole tree, each level in position order.
func (s *Storefront) Categories(ctx context.Context) (*CategoryTree, error) {
	// Product counts change with the catalog: read like a listing.
	cs, err := s.reader(s.recent.listing(s.now())).Q.ListCategories(ctx) // ordered by depth, parent, position, id
	if err != nil {
		return nil, fmt.Errorf("list categories: %w", err)
	}
	byID := make(map[uint64]*CategoryNode, len(cs))
	tree := &CategoryTree{Items: []*CategoryNode{}}
	for _, c := range cs {
		n := &CategoryNode{ID: c.ID, Slug: c.Slug, Name: c.Name, ProductCount: c.ProductCount, Children: []*CategoryNode{}}
		byID[c.ID] = n
		if !c.ParentID.Valid {
			tree.Items = append(tree.Items, n)
			continue
		}
		if p := byID[uint64(c.ParentID.Int64)]; p != nil {
			p.Children = append(p.Children, n)
		}
	}
	return tree, nil
}

// CategoryRef is a category without its children.
type CategoryRef struct {
	ID           uint64 `json:"id"`
	Slug         string `json:"slug"`
	Name         string `json:"name"`
	ProductCount int64  `json:"product_count"`
}

// CategoryView is GET /v1/categories/{slug}: the category, its ancestors from
// the top level down (the breadcrumb, without the category itself) and its
// children in position order.
type CategoryView struct {
	ID           uint64        `json:"id"`
	Slug         string        `json:"slug"`
	Name         string        `json:"name"`
	ProductCount int64         `json:"product_count"`
	Ancestors    []CategoryRef `json:"ancestors"`
	Children     []CategoryRef `json:"children"`
}

// Category returns one category by slug.
func (s *Storefront) Category(ctx context.Context, slug string) (*CategoryView, error) {
	notFound := problem.New(problem.NotFound, "no category has this slug")
	if !ValidSlug(slug) {
		return nil, notFound
	}
	st := s.reader(s.recent.listing(s.now()))
	c, err := st.Q.GetCategoryBySlug(ctx, slug)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound
	} else if err != nil {
		return nil, fmt.Errorf("category: %w", err)
	}
	v := &CategoryView{ID: c.ID, Slug: c.Slug, Name: c.Name, ProductCount: c.ProductCount,
		Ancestors: []CategoryRef{}, Children: []CategoryRef{}}
	anc, err := st.Q.CategoryAncestors(ctx, c.ID)
	if err != nil {
		return nil, fmt.Errorf("category ancestors: %w", err)
	}
	for _, a := range anc {
		v.Ancestors = append(v.Ancestors, CategoryRef{ID: a.ID, Slug: a.Slug, Name: a.Name, ProductCount: a.ProductCount})
	}
	kids, err := st.Q.CategoryChildren(ctx, nullID(c.ID))
	if err != nil {
		return nil, fmt.Errorf("category children: %w", err)
	}
	for _, k := range kids {
		v.Children = append(v.Children, CategoryRef{ID: k.ID, Slug: k.Slug, Name: k.Name, ProductCount: k.ProductCount})
	}
	return v, nil
}
