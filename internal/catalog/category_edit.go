package catalog

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/shelfcommerce/shelf/db"
	"github.com/shelfcommerce/shelf/internal/problem"
	"github.com/shelfcommerce/shelf/internal/rules"
	"github.com/shelfcommerce/shelf/internal/store"
)

// AdminCategory is a category as the admin API shows it.
type AdminCategory struct {
	ID           uint64    `json:"id"`
	ParentID     *uint64   `json:"parent_id"`
	Slug         string    `json:"slug"`
	Name         string    `json:"name"`
	Position     int32     `json:"position"`
	Depth        int32     `json:"depth"`
	ProductCount int64     `json:"product_count"`
	Version      uint64    `json:"version"`
	CreatedAt    time.Time `json:"created_at"`
	UpdatedAt    time.Time `json:"updated_at"`
}

// AdminCategoryOf maps a row to its API shape.
func AdminCategoryOf(c db.Category) AdminCategory {
	out := AdminCategory{ID: c.ID, Slug: c.Slug, Name: c.Name, Position: c.Position, Depth: c.Depth,
		ProductCount: c.ProductCount, Version: c.Version, CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt}
	if c.ParentID.Valid {
		p := uint64(c.ParentID.Int64)
		out.ParentID = &p
	}
	return out
}

// CategoryPatch is a partial update of a category; nil fields stay.
// MoveTo set with ParentID 0 moves the category to the top level.
type CategoryPatch struct {
	Name     *string
	Slug     *string
	Position *int32
	MoveTo   bool
	ParentID uint64
}

// UpdateCategory renames and/or moves a category. A move keeps the closure
// table right for the whole subtree (the links to the old ancestors go, links
// to the new ones come), shifts the subtree's depth, and re-syncs the listing
// of every product below, so category filters and counts follow at once.
// Moving a category under itself or one of its descendants is a 422.
func UpdateCategory(ctx context.Context, st *store.Store, id uint64, p CategoryPatch) (AdminCategory, error) {
	var out AdminCategory
	err := st.InTx(ctx, func(tx *store.Tx) error {
		if p.MoveTo {
			// First, before any read: a move reads the subtree and the new
			// parent's ancestors and rewrites both, so no other move,
			// delete or add may change them until it commits.
			if err := tx.Q.LockCategoryTree(ctx); err != nil {
				return err
			}
		}
		// The products below are locked before anything is read (as every
		// product writer locks a product before its category): their pages,
		// versions and hashes are rewritten from what they are at commit.
		products, err := lockProductsBelow(ctx, tx, id)
		if err != nil {
			return err
		}
		c, err := tx.Q.AdminCategoryForUpdate(ctx, id)
		if errors.Is(err, sql.ErrNoRows) {
			return problem.New(problem.NotFound, "no such category")
		} else if err != nil {
			return err
		}
		var fe problem.Fields
		name, slug, pos, depth := c.Name, c.Slug, c.Position, c.Depth
		if p.Name != nil {
			name = strings.TrimSpace(*p.Name)
			if name == "" || utf8.RuneCountInString(name) > MaxCategoryName {
				fe.Add("name", "must be 1 to 255 characters")
			} else if msg := rules.Text(name); msg != "" {
				fe.Add("name", msg)
			}
		}
		if p.Slug != nil {
			slug = *p.Slug
			if !ValidSlug(slug) {
				fe.Add("slug", "must be lower-case letters, digits and single hyphens, at most 191 characters")
			}
		}
		if p.Position != nil {
			pos = *p.Position
		}
		parent := c.ParentID
		var subtree []db.AdminCategorySubtreeRow
		if p.MoveTo && uint64(c.ParentID.Int64) != p.ParentID {
			subtree, err = tx.Q.AdminCategorySubtree(ctx, id)
			if err != nil {
				return err
			}
			newDepth := int32(0)
			parent = sql.NullInt64{}
			if p.ParentID != 0 {
				for _, s := range subtree {
					if s.CategoryID == p.ParentID {
						fe.Add("parent_id", "cannot be the category itself or one of its descendants")
					}
				}
				np, err := tx.Q.AdminCategoryForUpdate(ctx, p.ParentID)
				if errors.Is(err, sql.ErrNoRows) {
					fe.Add("parent_id", "no such category")
				} else if err != nil {
					return err
				}
				newDepth = np.Depth + 1
				parent = sql.NullInt64{Int64: int64(p.ParentID), Valid: true}
			}
			below := int32(0) // how deep the subtree goes under the category
			for _, s := range subtree {
				below = max(below, s.Depth)
			}
			if newDepth+below >= MaxCategoryDepth {
				fe.Add("parent_id", fmt.Sprintf("categories nest at most %d levels", MaxCategoryDepth))
			}
			depth = newDepth
		}
		if err := fe.Err(); err != nil {
			return err
		}
		now := time.Now().UTC()
		// The products below change only when their pages do: they show
		// the categories' names, paths and order.
		if subtree == nil && name == c.Name && slug == c.Slug && pos == c.Position {
			products = nil
		}
		change := func() error {
			err := tx.Q.AdminUpdateCategory(ctx, db.AdminUpdateCategoryParams{ParentID: parent, Slug: slug, Name: name,
				Position: pos, Depth: depth, UpdatedAt: now, ID: id})
			if store.IsDuplicate(err) {
				return problem.Field(problem.Conflict, "slug", fmt.Sprintf("a category with slug %q already exists", slug))
			} else if err != nil {
				return err
			}
			if subtree != nil {
				return moveSubtree(ctx, tx, id, p.ParentID, subtree, depth-c.Depth)
			}
			return nil
		}
		if subtree != nil || name != c.Name {
			// Their category path changes in an export: the products that
			// were as last written get the hashes of the new path, so that
			// their export re-imports unchanged.
			err = restate(ctx, tx.Q, products, change)
		} else {
			err = change()
		}
		if err != nil {
			return err
		}
		if len(products) > 0 {
			if err := tx.Q.AdminBumpProductVersions(ctx, db.AdminBumpProductVersionsParams{UpdatedAt: now, Ids: products}); err != nil {
				return err
			}
			if err := SyncPages(ctx, tx, products); err != nil {
				return err
			}
			if err := productsChanged(ctx, tx, products, false, now); err != nil {
				return err
			}
		}
		c, err = tx.Q.GetCategory(ctx, id)
		out = AdminCategoryOf(c)
		return err
	})
	return out, err
}

func moveSubtree(ctx context.Context, tx *store.Tx, id, newParent uint64, subtree []db.AdminCategorySubtreeRow, shift int32) error {
	old, err := tx.Q.AdminCategoryAncestors(ctx, id)
	if err != nil {
		return err
	}
	members := make([]uint64, 0, len(subtree))
	for _, s := range subtree {
		members = append(members, s.CategoryID)
	}
	if len(old) > 0 {
		olds := make([]uint64, 0, len(old))
		for _, o := range old {
			olds = append(olds, o.AncestorID)
		}
		if err := tx.Q.AdminDeleteAncestorLinks(ctx, db.AdminDeleteAncestorLinksParams{CategoryIds: members, AncestorIds: olds}); err != nil {
			return err
		}
	}
	if newParent != 0 {
		// The new parent's ancestors, itself included at distance 0.
		anc, err := tx.Q.AdminCategoryAncestors(ctx, newParent)
		if err != nil {
			return err
		}
		anc = append(anc, db.AdminCategoryAncestorsRow{AncestorID: newParent, Depth: 0})
		args := make([]any, 0, len(subtree)*len(anc)*3)
		for _, s := range subtree {
			for _, a := range anc {
				args = append(args, s.CategoryID, a.AncestorID, s.Depth+a.Depth+1)
			}
		}
		if _, err := store.InsertRows(ctx, tx, "INSERT INTO category_ancestors (category_id, ancestor_id, depth)", 3, args, ""); err != nil {
			return err
		}
	}
	if shift != 0 {
		below := members[:0:0]
		for _, m := range members {
			if m != id {
				below = append(below, m)
			}
		}
		if len(below) > 0 {
			if err := tx.Q.AdminShiftCategoryDepth(ctx, db.AdminShiftCategoryDepthParams{Shift: shift, Ids: below}); err != nil {
				return err
			}
		}
	}
	products, err := tx.Q.AdminProductsInCategories(ctx, members)
	if err != nil {
		return err
	}
	return SyncListing(ctx, tx, products)
}

// lockProductsBelow locks the products in category id or below it, by id,
// and returns them. It reads nothing with a plain read, so the
// transaction's snapshot is taken after the locks: what it reads of these
// products afterwards is what they are until it commits.
func lockProductsBelow(ctx context.Context, tx *store.Tx, id uint64) ([]uint64, error) {
	ids, err := tx.Q.AdminProductsBelowCategoryShared(ctx, id)
	if err != nil || len(ids) == 0 {
		return nil, err
	}
	return tx.Q.AdminLockProducts(ctx, ids)
}

// DeleteCategory removes a category without children; its products leave it
// (they stay in the catalog) and their listing follows. A category with
// children is a 409: move or delete them first.
func DeleteCategory(ctx context.Context, st *store.Store, id uint64) error {
	return st.InTx(ctx, func(tx *store.Tx) error {
		// No child may be added while the category is checked and deleted.
		if err := tx.Q.LockCategoryTree(ctx); err != nil {
			return err
		}
		products, err := lockProductsBelow(ctx, tx, id)
		if err != nil {
			return err
		}
		if _, err := tx.Q.AdminCategoryForUpdate(ctx, id); errors.Is(err, sql.ErrNoRows) {
			return problem.New(problem.NotFound, "no such category")
		} else if err != nil {
			return err
		}
		n, err := tx.Q.AdminCountChildren(ctx, sql.NullInt64{Int64: int64(id), Valid: true})
		if err != nil {
			return err
		}
		if n > 0 {
			return problem.New(problem.Conflict, "the category has %d subcategories: move or delete them first", n)
		}
		now := time.Now().UTC()
		// Their pages no longer show this category, and writing their old
		// content again puts them back in it; those that were as last
		// written are so without it, so that their export re-imports
		// unchanged.
		if err := restate(ctx, tx.Q, products, func() error {
			if err := tx.Q.AdminDeleteCategoryProducts(ctx, id); err != nil || len(products) == 0 {
				return err
			}
			return tx.Q.AdminUncategorizedProducts(ctx, db.AdminUncategorizedProductsParams{UpdatedAt: now, Ids: products})
		}); err != nil {
			return err
		}
		if err := productsChanged(ctx, tx, products, false, now); err != nil {
			return err
		}
		if err := SyncListing(ctx, tx, products); err != nil {
			return err
		}
		if err := tx.Q.AdminDeleteCategoryLinks(ctx, id); err != nil {
			return err
		}
		return tx.Q.AdminDeleteCategory(ctx, id)
	})
}

// AddCategory creates a category (POST /v1/admin/categories).
func AddCategory(ctx context.Context, st *store.Store, in CategoryInput) (AdminCategory, error) {
	var out AdminCategory
	err := st.InTx(ctx, func(tx *store.Tx) error {
		c, err := CreateCategory(ctx, tx, in)
		out = AdminCategoryOf(c)
		return err
	})
	return out, err
}
