-- Queries behind catalog.SyncListing, which keeps product_listing equal to
-- what the normalised tables say.

-- name: ListingSources :many
-- One row per product: what its listing rows should carry. price_min is -1
-- when the product has no active variant (such a product is not listed).
SELECT
    p.id,
    p.slug,
    p.title,
    p.brand,
    p.status,
    p.created_at,
    CAST(COALESCE((SELECT MIN(v.price) FROM variants v
                   WHERE v.product_id = p.id AND v.active), -1) AS SIGNED) AS price_min,
    CAST(COALESCE((SELECT MIN(v.currency) FROM variants v
                   WHERE v.product_id = p.id AND v.active), '') AS CHAR(3)) AS currency,
    CAST(COALESCE((SELECT MAX(i.on_hand > 0) FROM inventory i
                   JOIN variants v ON v.id = i.variant_id
                   WHERE i.product_id = p.id AND v.active), 0) AS SIGNED) AS in_stock
FROM products p
WHERE p.id IN (sqlc.slice('product_ids'));

-- name: ListingCategories :many
-- Every category a product is listed under: the ones it is in and all their
-- ancestors. STRAIGHT_JOIN keeps the products' rows first: left to itself the
-- optimizer may start from the few categories and walk every product of each
-- (60,000 rows read for 200 products of a 30,000-product catalog).
SELECT DISTINCT pc.product_id, ca.ancestor_id
FROM product_categories pc
STRAIGHT_JOIN category_ancestors ca ON ca.category_id = pc.category_id
WHERE pc.product_id IN (sqlc.slice('product_ids'));

-- name: ListingAncestorsOf :many
-- Each category with itself and all its ancestors: the categories a product
-- in it is listed under.
SELECT category_id, ancestor_id
FROM category_ancestors
WHERE category_id IN (sqlc.slice('category_ids'))
ORDER BY category_id, ancestor_id;

-- name: ListingRows :many
-- (FORCE INDEX: see WriterProductsBySlug.)
SELECT category_id, product_id, slug, title, brand, price_min, currency, in_stock, created_at
FROM product_listing FORCE INDEX (product_listing_product)
WHERE product_id IN (sqlc.slice('product_ids'))
FOR UPDATE;

-- name: DeleteListingRow :exec
DELETE FROM product_listing WHERE category_id = ? AND product_id = ?;

-- name: ListingPageAttributes :many
-- The product pages of a set of products, for the attributes they show: what
-- listing_attribute_counts counted for them.
SELECT product_id, body FROM product_pages
WHERE product_id IN (sqlc.slice('product_ids'));

-- name: ListingAttributes :many
SELECT product_id, name, value FROM product_attributes
WHERE product_id IN (sqlc.slice('product_ids'));

-- name: ListingCategoryNames :many
-- The slug and name of categories, for the pages of products the writer
-- has just created in them.
SELECT id, slug, name FROM categories WHERE id IN (sqlc.slice('category_ids'));
