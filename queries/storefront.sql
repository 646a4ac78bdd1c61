-- Reads behind the storefront: product detail and the category tree. The
-- listing (filters, sorts, cursors, facets) is built at run time from a fixed
-- whitelist in internal/catalog/listing_sql.go, because its shape depends on
-- which filters are present.

-- name: ProductDetailByID :one
-- One active product with everything its page shows, in one round trip: the
-- variants, images, attributes and categories come as JSON arrays (sorted in
-- Go, because MySQL 8's JSON_ARRAYAGG has no ORDER BY).
SELECT
    p.id, p.slug, p.title, p.description, p.brand, p.product_type,
    p.option1_name, p.option2_name, p.option3_name, p.version, p.created_at, p.updated_at,
    CAST(COALESCE((SELECT JSON_ARRAYAGG(JSON_OBJECT(
                'id', v.id, 'sku', v.sku, 'position', v.position,
                'o1', v.option1, 'o2', v.option2, 'o3', v.option3,
                'price', v.price, 'compare_at', v.compare_at_price, 'currency', v.currency,
                'available', COALESCE(i.on_hand, 0)))
             FROM variants v LEFT JOIN inventory i ON i.variant_id = v.id
             WHERE v.product_id = p.id AND v.active), '[]') AS CHAR) AS variants_json,
    CAST(COALESCE((SELECT JSON_ARRAYAGG(JSON_OBJECT('id', im.id, 'position', im.position, 'src', im.src, 'alt', im.alt))
             FROM product_images im WHERE im.product_id = p.id), '[]') AS CHAR) AS images_json,
    CAST(COALESCE((SELECT JSON_ARRAYAGG(JSON_OBJECT('name', a.name, 'value', a.value))
             FROM product_attributes a WHERE a.product_id = p.id), '[]') AS CHAR) AS attributes_json,
    CAST(COALESCE((SELECT JSON_ARRAYAGG(JSON_OBJECT('id', c.id, 'slug', c.slug, 'name', c.name, 'position', pc.position))
             FROM product_categories pc JOIN categories c ON c.id = pc.category_id
             WHERE pc.product_id = p.id), '[]') AS CHAR) AS categories_json
FROM products p
WHERE p.id = ? AND p.status = 'active';

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
