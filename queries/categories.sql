-- name: InsertCategory :execlastid
INSERT INTO categories (parent_id, slug, name, position, depth, created_at, updated_at)
VALUES (?, ?, ?, ?, ?, ?, ?);

-- name: InsertCategorySelf :exec
INSERT INTO category_ancestors (category_id, ancestor_id, depth) VALUES (?, ?, 0);

-- name: InsertCategoryAncestorsFromParent :exec
-- A new category's ancestors are its parent's, one level further away.
INSERT INTO category_ancestors (category_id, ancestor_id, depth)
SELECT sqlc.arg(category_id), ca.ancestor_id, ca.depth + 1
FROM category_ancestors ca
WHERE ca.category_id = sqlc.arg(parent_id);

-- name: GetCategory :one
SELECT id, parent_id, slug, name, position, depth, product_count, version, created_at, updated_at
FROM categories WHERE id = ?;

-- name: GetCategoryBySlug :one
SELECT id, parent_id, slug, name, position, depth, product_count, version, created_at, updated_at
FROM categories WHERE slug = ?;

-- name: GetCategoryBySlugForUpdate :one
SELECT id, parent_id, slug, name, position, depth, product_count, version, created_at, updated_at
FROM categories WHERE slug = ? FOR UPDATE;

-- name: ListCategories :many
SELECT id, parent_id, slug, name, position, depth, product_count, version, created_at, updated_at
FROM categories ORDER BY depth, parent_id, position, id;

-- name: ChildCategoryByName :one
SELECT id, parent_id, slug, name, position, depth, product_count, version, created_at, updated_at
FROM categories WHERE parent_id <=> sqlc.narg(parent_id) AND name = sqlc.arg(name)
ORDER BY id LIMIT 1;

-- name: LockCategoryTree :exec
-- Exclusive: the tree's shape may change (a move, a delete). Writing the row
-- also makes two such changes on different Galera nodes conflict.
UPDATE catalog_locks SET version = version + 1 WHERE name = 'category_tree';

-- name: ShareCategoryTree :one
-- Shared: a category is added under a parent that must keep its place.
SELECT version FROM catalog_locks WHERE name = 'category_tree' LOCK IN SHARE MODE;

-- name: ParentCategoryShared :one
-- The parent of a category being added, as committed (not as the
-- transaction's snapshot has it), kept in place until the add commits.
SELECT id, depth FROM categories WHERE id = ? LOCK IN SHARE MODE;
