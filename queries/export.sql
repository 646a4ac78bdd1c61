-- Queries behind catalog.Export: the whole catalog in product id order, a
-- page of products at a time, each page's rows read with IN lists.

-- name: ExportProducts :many
SELECT id, slug, title, description, brand, product_type, tags, status,
       option1_name, option2_name, option3_name, content_hash, stock_free_hash
FROM products
WHERE id > ?
ORDER BY id
LIMIT ?;

-- name: ExportProductsByID :many
-- The products of a category change, to restate their hashes.
SELECT id, slug, title, description, brand, product_type, tags, status,
       option1_name, option2_name, option3_name, content_hash, stock_free_hash
FROM products
WHERE id IN (sqlc.slice('ids'))
ORDER BY id;

-- name: ExportVariants :many
-- Active variants only: hidden ones are gone from the catalog (kept for orders).
-- on_hand is NULL where stock was never set, which an import leaves untouched.
SELECT v.product_id, v.sku, v.option1, v.option2, v.option3, v.price, v.compare_at_price,
       v.currency, i.on_hand
FROM variants v
LEFT JOIN inventory i ON i.variant_id = v.id
WHERE v.product_id IN (sqlc.slice('product_ids')) AND v.active
ORDER BY v.product_id, v.position, v.id;

-- name: ExportImages :many
SELECT product_id, src, alt, position
FROM product_images
WHERE product_id IN (sqlc.slice('product_ids'))
ORDER BY product_id, position, id;

-- name: ExportAttributes :many
SELECT product_id, name, value
FROM product_attributes
WHERE product_id IN (sqlc.slice('product_ids'))
ORDER BY product_id, name, value;

-- name: ExportCategoryPaths :many
-- The names along the path of each product's categories, root first,
-- from the products' rows first (STRAIGHT_JOIN: see ListingCategories).
SELECT pc.product_id, pc.category_id, c.name, ca.depth
FROM product_categories pc
STRAIGHT_JOIN category_ancestors ca ON ca.category_id = pc.category_id
STRAIGHT_JOIN categories c ON c.id = ca.ancestor_id
WHERE pc.product_id IN (sqlc.slice('product_ids'))
ORDER BY pc.product_id, pc.position, pc.category_id, ca.depth DESC;

-- name: CountProducts :one
SELECT COUNT(*) FROM products;

-- name: SetProductContentHash :exec
-- After a write outside the product writer (archiving), so that importing
-- the product's export reports it unchanged.
UPDATE products SET content_hash = ?, stock_free_hash = ? WHERE id = ?;

-- name: ExportOtherCurrencies :many
-- The currencies other than the catalog's that exported variants are priced
-- in, for a format that carries none (Shopify's).
SELECT currency, COUNT(*) AS variants
FROM variants
WHERE active AND currency <> ?
GROUP BY currency
ORDER BY currency
LIMIT 5;
