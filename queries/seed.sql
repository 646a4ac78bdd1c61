-- Bulk building of the read model for generated catalogs (internal/seed):
-- product_listing and categories.product_count straight from the normalised
-- tables with INSERT ... SELECT, a range of product ids at a time (written
-- as >= and <=: sqlc's MySQL engine mis-binds the parameters of BETWEEN), instead of
-- SyncListing's row-by-row diff, which is right for edits but slow for a
-- million new products.

-- name: SeedMaxIDs :one
SELECT
    CAST((SELECT COALESCE(MAX(id), 0) FROM products) AS SIGNED) AS max_product,
    CAST((SELECT COALESCE(MAX(id), 0) FROM variants) AS SIGNED) AS max_variant,
    CAST((SELECT COALESCE(MAX(id), 0) FROM categories) AS SIGNED) AS max_category,
    CAST((SELECT COALESCE(MAX(id), 0) FROM product_images) AS SIGNED) AS max_image;

-- name: SeedProductBySlug :one
SELECT id FROM products WHERE slug = ?;

-- name: SeedBuildRootListing :execrows
-- The whole-catalog rows (category 0) of active products with something to sell.
INSERT INTO product_listing (category_id, product_id, slug, title, brand, price_min, currency, in_stock, created_at)
SELECT 0, p.id, p.slug, p.title, p.brand, v.price_min, v.currency, COALESCE(s.in_stock, 0), p.created_at
FROM products p
JOIN (SELECT vv.product_id, MIN(vv.price) AS price_min, MIN(vv.currency) AS currency
      FROM variants vv
      WHERE vv.product_id >= sqlc.arg(variants_from) AND vv.product_id <= sqlc.arg(variants_to) AND vv.active
      GROUP BY vv.product_id) v ON v.product_id = p.id
LEFT JOIN (SELECT i.product_id, MAX(i.on_hand > 0) AS in_stock
           FROM inventory i JOIN variants iv ON iv.id = i.variant_id AND iv.active
           WHERE i.product_id >= sqlc.arg(stock_from) AND i.product_id <= sqlc.arg(stock_to)
           GROUP BY i.product_id) s ON s.product_id = p.id
WHERE p.id >= sqlc.arg(from_id) AND p.id <= sqlc.arg(to_id) AND p.status = 'active';

-- name: SeedBuildCategoryListing :execrows
-- Copies each root row to every category the product is in and every ancestor.
INSERT INTO product_listing (category_id, product_id, slug, title, brand, price_min, currency, in_stock, created_at)
SELECT DISTINCT ca.ancestor_id, r.product_id, r.slug, r.title, r.brand, r.price_min, r.currency, r.in_stock, r.created_at
FROM product_listing r
STRAIGHT_JOIN product_categories pc ON pc.product_id = r.product_id
STRAIGHT_JOIN category_ancestors ca ON ca.category_id = pc.category_id
WHERE r.category_id = 0 AND r.product_id >= sqlc.arg(from_id) AND r.product_id <= sqlc.arg(to_id);

-- name: SeedRecountCategories :exec
-- product_count from the listing, which holds a row per active product per
-- category it is in or below.
UPDATE categories c
SET product_count = (SELECT COUNT(*) FROM product_listing pl WHERE pl.category_id = c.id);

-- name: SeedRecountAttributes :exec
-- listing_attribute_counts from the listing and the attributes (the table is
-- empty before a bulk load's first product).
INSERT INTO listing_attribute_counts (category_id, name, value, products)
SELECT pl.category_id, a.name, a.value, COUNT(*)
FROM product_listing pl
JOIN product_attributes a ON a.product_id = pl.product_id
GROUP BY pl.category_id, a.name, a.value
ON DUPLICATE KEY UPDATE products = VALUES(products);
