-- Reads behind the storefront: product detail and the category tree. The
-- listing (filters, sorts, cursors, facets) is built at run time from a fixed
-- whitelist in internal/catalog/listing_sql.go, because its shape depends on
-- which filters are present.

-- name: ProductDetailByID :one
-- The product row of a product page (primary key).
SELECT id, slug, title, description, brand, product_type,
       option1_name, option2_name, option3_name, version, created_at, updated_at
FROM products
WHERE id = ? AND status = 'active';

-- name: ProductDetailParts :many
-- Everything that hangs off a product page, in one round trip: kind 'v'
-- (active variants with stock), 'i' (images), 'a' (attributes), 'c'
-- (categories), in one column layout. Four primary-key or index ranges; a
-- version with JSON_ARRAYAGG subqueries cost several times more in the
-- optimizer than in execution.
SELECT CAST('v' AS CHAR(1)) AS kind, v.id, v.position,
       CAST(COALESCE(v.sku, '') AS CHAR(191)) AS s1, v.option1 AS s2, v.option2 AS s3, v.option3 AS s4,
       CAST(v.currency AS CHAR(3)) AS s5,
       v.price AS n1, CAST(COALESCE(v.compare_at_price, -1) AS SIGNED) AS n2, CAST(COALESCE(i.on_hand, 0) AS SIGNED) AS n3,
       CAST(v.sku IS NULL AS SIGNED) AS sku_null
FROM variants v LEFT JOIN inventory i ON i.variant_id = v.id
WHERE v.product_id = sqlc.arg(variants_of) AND v.active
UNION ALL
SELECT 'i', im.id, im.position, im.src, im.alt, '', '', '', 0, 0, 0, 0
FROM product_images im WHERE im.product_id = sqlc.arg(images_of)
UNION ALL
SELECT 'a', 0, 0, a.name, a.value, '', '', '', 0, 0, 0, 0
FROM product_attributes a WHERE a.product_id = sqlc.arg(attributes_of)
UNION ALL
SELECT 'c', c.id, pc.position, c.slug, c.name, '', '', '', 0, 0, 0, 0
FROM product_categories pc JOIN categories c ON c.id = pc.category_id
WHERE pc.product_id = sqlc.arg(categories_of);

-- name: ProductIDBySlug :one
SELECT id FROM products WHERE slug = ? AND status = 'active';

-- name: CategoryAncestors :many
-- The breadcrumb of a category: its ancestors from the top level down.
SELECT c.id, c.parent_id, c.slug, c.name, c.position, c.depth, c.product_count
FROM category_ancestors ca
JOIN categories c ON c.id = ca.ancestor_id
WHERE ca.category_id = ? AND ca.depth > 0
ORDER BY ca.depth DESC;

-- name: CategoryChildren :many
SELECT id, parent_id, slug, name, position, depth, product_count
FROM categories
WHERE parent_id = ?
ORDER BY position, id;

-- name: TopCategories :many
SELECT id, parent_id, slug, name, position, depth, product_count
FROM categories
WHERE parent_id IS NULL
ORDER BY position, id;
