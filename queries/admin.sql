-- Queries behind catalog.Writer (imports and the admin product API) and the
-- admin inventory endpoints. Multi-row INSERTs are built by store.InsertRows;
-- everything that reads or locks lives here.

-- name: WriterProductsBySlug :many
-- Locks the batch's existing products in slug order (the unique index's
-- order), the one global order every writer takes them in. The writer's
-- locking reads name their index: a first import runs while the statistics
-- still say the tables are empty, and a plan that scans would lock every row
-- (or wait for other batches' new ones).
SELECT id, slug, status, content_hash, stock_free_hash, version, created_at
FROM products FORCE INDEX (products_slug)
WHERE slug IN (sqlc.slice('slugs'))
ORDER BY slug
FOR UPDATE;

-- name: WriterVariantOwners :many
-- Which product owns each SKU, to refuse taking a SKU from another product.
SELECT v.sku, v.product_id, p.slug
FROM variants v
JOIN products p ON p.id = v.product_id
WHERE v.sku IN (sqlc.slice('skus'));

-- name: WriterStockOfSKUs :many
-- The stock now of variants a file states stock for, to tell a file that
-- states the stock as it is (an export) from one that changes it.
SELECT v.sku, i.on_hand
FROM variants v
JOIN inventory i ON i.variant_id = v.id
WHERE v.sku IN (sqlc.slice('skus'));

-- name: WriterVariantsOfProducts :many
SELECT id, product_id, sku, position, option1, option2, option3, active, price, compare_at_price, currency
FROM variants FORCE INDEX (variants_product)
WHERE product_id IN (sqlc.slice('product_ids'))
ORDER BY product_id, id
FOR UPDATE;

-- name: WriterDeactivateVariants :exec
-- Variants a product no longer has are hidden, not deleted: orders refer to them.
UPDATE variants SET active = FALSE, position = position + 1000000, updated_at = sqlc.arg(updated_at)
WHERE id IN (sqlc.slice('ids')) AND active;

-- name: WriterInventoryOf :many
SELECT variant_id, on_hand
FROM inventory FORCE INDEX (PRIMARY)
WHERE variant_id IN (sqlc.slice('variant_ids'))
ORDER BY variant_id
FOR UPDATE;

-- name: WriterDeleteProductCategories :exec
DELETE FROM product_categories WHERE product_id IN (sqlc.slice('product_ids'));

-- name: WriterDeleteProductAttributes :exec
DELETE FROM product_attributes WHERE product_id IN (sqlc.slice('product_ids'));

-- name: WriterDeleteProductImages :exec
-- Through its index, named (a multi-table DELETE takes the hint, in MySQL
-- and MariaDB alike): while the statistics still say the table is empty,
-- right after a first import, the plan scanned every image.
DELETE im FROM product_images im FORCE INDEX (product_images_product)
WHERE im.product_id IN (sqlc.slice('product_ids'));

-- name: AdminProductByID :one
SELECT id, slug, title, description, brand, product_type, tags, status,
       option1_name, option2_name, option3_name, version, created_at, updated_at
FROM products WHERE id = ?;

-- name: AdminProductBySlug :one
SELECT id, slug, title, description, brand, product_type, tags, status,
       option1_name, option2_name, option3_name, version, created_at, updated_at
FROM products WHERE slug = ?;

-- name: AdminVariantsOfProduct :many
SELECT v.id, v.sku, v.position, v.option1, v.option2, v.option3, v.price, v.compare_at_price,
       v.currency, CAST(COALESCE(i.on_hand, 0) AS SIGNED) AS on_hand
FROM variants v
LEFT JOIN inventory i ON i.variant_id = v.id
WHERE v.product_id = ? AND v.active
ORDER BY v.position, v.id;

-- name: AdminImagesOfProduct :many
SELECT src, alt, position FROM product_images WHERE product_id = ? ORDER BY position, id;

-- name: AdminAttributesOfProduct :many
SELECT name, value FROM product_attributes WHERE product_id = ? ORDER BY name, value;

-- name: AdminCategoryPathsOfProduct :many
-- The names along each category's path, root first, for the product's categories.
SELECT pc.category_id, c.name, ca.depth
FROM product_categories pc
JOIN category_ancestors ca ON ca.category_id = pc.category_id
JOIN categories c ON c.id = ca.ancestor_id
WHERE pc.product_id = ?
ORDER BY pc.position, pc.category_id, ca.depth DESC;

-- name: AdminArchiveProduct :execrows
UPDATE products SET status = 'archived', version = version + 1, content_hash = NULL, stock_free_hash = NULL, updated_at = ?
WHERE id = ? AND status <> 'archived';

-- name: AdminBumpProductVersion :exec
-- Stock shows on the product page (each variant's "available"), so a stock
-- change is a new version of the product.
UPDATE products SET version = version + 1, updated_at = ? WHERE id = ?;

-- name: AdminProductOfSKU :one
SELECT product_id FROM variants WHERE sku = ?;

-- name: AdminVariantBySKUForUpdate :one
SELECT v.id, v.product_id, CAST(COALESCE(i.on_hand, -1) AS SIGNED) AS on_hand
FROM variants v
LEFT JOIN inventory i ON i.variant_id = v.id
WHERE v.sku = ?
FOR UPDATE;

-- name: AdminUpsertInventory :exec
INSERT INTO inventory (variant_id, product_id, on_hand, updated_at) VALUES (?, ?, ?, ?)
ON DUPLICATE KEY UPDATE on_hand = VALUES(on_hand), updated_at = VALUES(updated_at);

-- name: AdminCategoryForUpdate :one
SELECT id, parent_id, slug, name, position, depth, product_count, version, created_at, updated_at
FROM categories WHERE id = ? FOR UPDATE;

-- name: AdminCategorySubtree :many
-- The category and everything below it, with the distance from it.
SELECT category_id, depth FROM category_ancestors WHERE ancestor_id = ? ORDER BY category_id;

-- name: AdminCategoryAncestors :many
-- A category's proper ancestors, with their distance.
SELECT ancestor_id, depth FROM category_ancestors WHERE category_id = ? AND ancestor_id <> category_id;

-- name: AdminDeleteAncestorLinks :exec
DELETE FROM category_ancestors
WHERE category_id IN (sqlc.slice('category_ids')) AND ancestor_id IN (sqlc.slice('ancestor_ids'));

-- name: AdminUpdateCategory :exec
UPDATE categories SET parent_id = ?, slug = ?, name = ?, position = ?, depth = ?,
       version = version + 1, updated_at = ?
WHERE id = ?;

-- name: AdminShiftCategoryDepth :exec
UPDATE categories SET depth = depth + sqlc.arg(shift), version = version + 1
WHERE id IN (sqlc.slice('ids'));

-- name: AdminProductsBelowCategoryShared :many
-- The products in a category or below it, as committed (a locking read
-- fixes no snapshot), with the index range share-locked so that no product
-- joins it until the change to the category commits.
SELECT DISTINCT pc.product_id
FROM category_ancestors ca FORCE INDEX (category_ancestors_ancestor)
STRAIGHT_JOIN product_categories pc FORCE INDEX (product_categories_category) ON pc.category_id = ca.category_id
WHERE ca.ancestor_id = ?
ORDER BY pc.product_id
LOCK IN SHARE MODE;

-- name: AdminLockProducts :many
-- Products locked by id, in id order, before anything of theirs is read.
SELECT id FROM products FORCE INDEX (PRIMARY) WHERE id IN (sqlc.slice('ids')) ORDER BY id FOR UPDATE;

-- name: AdminProductsInCategories :many
SELECT DISTINCT product_id FROM product_categories WHERE category_id IN (sqlc.slice('category_ids'));

-- name: AdminCountChildren :one
SELECT COUNT(*) FROM categories WHERE parent_id = ?;

-- name: AdminDeleteCategoryProducts :exec
DELETE FROM product_categories WHERE category_id = ?;

-- name: AdminDeleteCategoryLinks :exec
DELETE FROM category_ancestors WHERE category_id = ?;

-- name: AdminDeleteCategory :exec
DELETE FROM categories WHERE id = ?;

-- name: AdminBumpProductVersions :exec
-- A category rename or move changes what these products' pages show.
UPDATE products SET version = version + 1, updated_at = sqlc.arg(updated_at)
WHERE id IN (sqlc.slice('ids'));

-- name: AdminUncategorizedProducts :exec
-- A deleted category took these products out of it: their pages change, and
-- the content hash no longer describes what is stored, so the next write of
-- the same content (a re-run PUT or import) applies its category again.
UPDATE products SET version = version + 1, content_hash = NULL, stock_free_hash = NULL, updated_at = sqlc.arg(updated_at)
WHERE id IN (sqlc.slice('ids'));

-- name: ProductSlugsOf :many
-- The slugs of products whose change is recorded as an event.
SELECT id, slug FROM products WHERE id IN (sqlc.slice('ids')) ORDER BY id;
