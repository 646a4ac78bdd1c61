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
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"github.com/shelfcommerce/shelf/db"
	"github.com/shelfcommerce/shelf/internal/problem"
	"github.com/shelfcommerce/shelf/internal/rules"
	"github.com/shelfcommerce/shelf/internal/store"
)

// MaxCategoryDepth is how many levels categories nest: a path of more is
// refused (an import row, an admin write, a move), so that no request can
// grow the closure table (a row per category and ancestor) without bound.
const MaxCategoryDepth = 10

// CategoryInput is a new category.
type CategoryInput struct {
	ParentID uint64 // 0 = top level
	Slug     string // "" = derived from Name
	Name     string
	Position int32
}

// MaxCategoryName is the longest category name, in characters.
const MaxCategoryName = 255

// CreateCategory inserts a category and its rows of the closure table.
func CreateCategory(ctx context.Context, tx *store.Tx, in CategoryInput) (db.Category, error) {
	var fe problem.Fields
	in.Name = strings.TrimSpace(in.Name)
	if in.Name == "" || utf8.RuneCountInString(in.Name) > MaxCategoryName {
		fe.Add("name", "must be 1 to 255 characters")
	} else if msg := rules.Text(in.Name); msg != "" {
		fe.Add("name", msg)
	}
	if in.Slug == "" {
		in.Slug = Slugify(in.Name)
	}
	if !ValidSlug(in.Slug) {
		fe.Add("slug", "must be lower-case letters, digits and single hyphens, at most 191 characters")
	}
	if err := fe.Err(); err != nil {
		return db.Category{}, err
	}
	depth := int32(0)
	parent := sql.NullInt64{}
	if in.ParentID != 0 {
		// No move or delete of the tree runs while this add does: the
		// parent's depth and ancestors read below stay true until commit.
		if _, err := tx.Q.ShareCategoryTree(ctx); err != nil {
			return db.Category{}, err
		}
		p, err := tx.Q.ParentCategoryShared(ctx, in.ParentID)
		if errors.Is(err, sql.ErrNoRows) {
			return db.Category{}, problem.Field(problem.Unprocessable, "parent_id", "no such category")
		} else if err != nil {
			return db.Category{}, err
		}
		depth = p.Depth + 1
		parent = sql.NullInt64{Int64: int64(p.ID), Valid: true}
	}
	if depth >= MaxCategoryDepth {
		return db.Category{}, problem.Field(problem.Unprocessable, "parent_id", fmt.Sprintf("categories nest at most %d levels", MaxCategoryDepth))
	}
	now := time.Now().UTC()
	id, err := tx.Q.InsertCategory(ctx, db.InsertCategoryParams{
		ParentID: parent, Slug: in.Slug, Name: in.Name, Position: in.Position, Depth: depth,
		CreatedAt: now, UpdatedAt: now,
	})
	if store.IsDuplicate(err) {
		return db.Category{}, problem.Field(problem.Conflict, "slug", fmt.Sprintf("a category with slug %q already exists", in.Slug))
	} else if err != nil {
		return db.Category{}, err
	}
	cid := uint64(id)
	if err := tx.Q.InsertCategorySelf(ctx, db.InsertCategorySelfParams{CategoryID: cid, AncestorID: cid}); err != nil {
		return db.Category{}, err
	}
	if in.ParentID != 0 {
		if err := tx.Q.InsertCategoryAncestorsFromParent(ctx, db.InsertCategoryAncestorsFromParentParams{CategoryID: cid, ParentID: in.ParentID}); err != nil {
			return db.Category{}, err
		}
	}
	return tx.Q.GetCategory(ctx, cid)
}

// EnsureCategoryPath finds or creates each level of a path of names such as
// {"Apparel & Accessories", "Clothing", "Shirts"} (as imports name them) and
// returns the id of the last. Levels are matched by name under their parent;
// a new level's slug is its name's, prefixed by its parent's slug when the
// plain one is taken, and numbered (-2, -3...) when that is taken too (a
// top-level "Shirts" next to "Men > Shirts", or names without a Latin
// letter, which all slugify to "category").
func EnsureCategoryPath(ctx context.Context, tx *store.Tx, names []string) (uint64, error) {
	id, _, err := ensureCategoryPath(ctx, tx, names)
	return id, err
}

// ensureCategoryPath is EnsureCategoryPath, also returning names as the
// categories found or created spell them (see Writer.canonicalPath).
func ensureCategoryPath(ctx context.Context, tx *store.Tx, names []string) (uint64, []string, error) {
	var parentID uint64
	parentSlug := ""
	stored := slices.Clone(names)
	for i, name := range names {
		name = strings.TrimSpace(name)
		if name == "" {
			continue
		}
		c, err := tx.Q.ChildCategoryByName(ctx, db.ChildCategoryByNameParams{
			ParentID: sql.NullInt64{Int64: int64(parentID), Valid: parentID != 0}, Name: name,
		})
		switch {
		case err == nil:
		case errors.Is(err, sql.ErrNoRows):
			slug, err := freeSlug(ctx, tx, Slugify(name), parentSlug)
			if err != nil {
				return 0, nil, err
			}
			c, err = CreateCategory(ctx, tx, CategoryInput{ParentID: parentID, Slug: slug, Name: name})
			if err != nil {
				return 0, nil, err
			}
		default:
			return 0, nil, err
		}
		parentID, parentSlug = c.ID, c.Slug
		stored[i] = c.Name
	}
	return parentID, stored, nil
}

// freeSlug is the first slug no category has of base, parentSlug-base,
// and then the first of those numbered from 2.
func freeSlug(ctx context.Context, tx *store.Tx, base, parentSlug string) (string, error) {
	candidates := []string{base}
	if parentSlug != "" {
		candidates = append(candidates, truncateSlug(parentSlug+"-"+base))
	}
	stem := candidates[len(candidates)-1]
	for n := 2; ; n++ {
		for _, slug := range candidates {
			_, err := tx.Q.GetCategoryBySlug(ctx, slug)
			if errors.Is(err, sql.ErrNoRows) {
				return slug, nil
			} else if err != nil {
				return "", err
			}
		}
		suffix := "-" + strconv.Itoa(n)
		candidates = []string{truncateSlug(stem[:min(len(stem), 191-len(suffix))]) + suffix}
	}
}

// RefID reads a path's {product} (an id or a slug) as a product id: only an
// id as Shelf writes it (decimal digits, no leading zero, not 0), so that
// "01" or "007", which are slugs, never name the product with id 1 or 7. A
// reference that is an id may still be a slug (such as "1984"): callers try
// the id first, then the slug.
func RefID(ref string) (uint64, bool) {
	id, err := strconv.ParseUint(ref, 10, 64)
	if err != nil || id == 0 || ref[0] == '0' {
		return 0, false
	}
	return id, true
}

// ValidSlug reports whether s is a slug: lower-case ASCII letters and digits
// in runs joined by single hyphens, 1 to 191 bytes.
func ValidSlug(s string) bool {
	if s == "" || len(s) > 191 || s[0] == '-' || s[len(s)-1] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		case c == '-' && s[i-1] != '-':
		default:
			return false
		}
	}
	return true
}

// Slugify turns a name into a slug: accents dropped, everything but letters
// and digits becomes one hyphen ("Apparel & Accessories" -> "apparel-accessories").
func Slugify(name string) string {
	var b strings.Builder
	hyphen := false
	for _, r := range norm.NFKD.String(name) {
		switch {
		case unicode.Is(unicode.Mn, r):
			continue
		case r < 128 && (unicode.IsLetter(r) || unicode.IsDigit(r)):
			if hyphen && b.Len() > 0 {
				b.WriteByte('-')
			}
			hyphen = false
			b.WriteRune(unicode.ToLower(r))
		default:
			hyphen = true
		}
	}
	s := truncateSlug(b.String())
	if s == "" {
		s = "category"
	}
	return s
}

func truncateSlug(s string) string {
	if len(s) > 191 {
		s = strings.TrimRight(s[:191], "-")
	}
	return s
}
