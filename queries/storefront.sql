-- Reads behind the storefront: product detail and the category tree. The
-- listing (filters, sorts, cursors, facets) is built at run time from a fixed
-- whitelist in internal/catalog/listing_sql.go, because its shape depends on
-- which filters are present.

-- name: ProductPage :many
-- A product page: its rendered document (present only for an active
-- product) with the stock of its variants, one row per inventory row (one
-- row with variant_id 0 when it has none): a primary-key read joined to one
-- range of inventory_product, in one round trip. A join sends the document
-- once per variant, and still costs MariaDB less than a UNION ALL of the
-- document and the stock rows (or a GROUP_CONCAT subquery of the stock):
-- see docs/benchmarks/catalog.md. At most max_rows rows, so a product with
-- many variants never sends its document many times: when the limit is
-- reached, the caller reads the stock with ProductStock.
SELECT CAST(pp.version AS SIGNED) AS version, pp.variant_ids, pp.body,
       CAST(COALESCE(i.variant_id, 0) AS SIGNED) AS variant_id,
       CAST(COALESCE(i.on_hand, 0) AS SIGNED) AS on_hand
FROM product_pages pp
LEFT JOIN inventory i ON i.product_id = pp.product_id
WHERE pp.product_id = sqlc.arg(product_id)
LIMIT ?;

-- name: ProductStock :many
-- Every variant's stock of a product: for pages with more variants than
-- ProductPage returns rows.
SELECT variant_id, on_hand FROM inventory WHERE product_id = ?;

-- name: ProductPageSources :many
-- What the documents of product_pages are rendered from, for a set of
-- products, in one column layout: kind 'p' (the product, only when active),
-- 'v' (active variants), 'i' (images), 'a' (attributes), 'c' (categories);
-- pid is the product. Times travel as UTC microseconds. The categories are
-- found from the products' rows first (STRAIGHT_JOIN: see ListingCategories),
-- and each part names its index: while the statistics still say the tables
-- are empty (right after a first import) the plans scanned them.
SELECT CAST('p' AS CHAR(1)) AS kind, p.id AS pid, p.id, CAST(0 AS SIGNED) AS position,
       p.slug AS s1, p.title AS s2, p.brand AS s3, p.product_type AS s4,
       p.option1_name AS s5, p.option2_name AS s6, p.option3_name AS s7, p.description AS s8,
       CAST(p.version AS SIGNED) AS n1,
       CAST(TIMESTAMPDIFF(MICROSECOND, '1970-01-01', p.created_at) AS SIGNED) AS n2,
       CAST(TIMESTAMPDIFF(MICROSECOND, '1970-01-01', p.updated_at) AS SIGNED) AS n3,
       CAST(0 AS SIGNED) AS sku_null
FROM products p FORCE INDEX (PRIMARY)
WHERE p.id IN (sqlc.slice('products')) AND p.status = 'active'
UNION ALL
SELECT 'v', v.product_id, v.id, v.position, COALESCE(v.sku, ''), v.option1, v.option2, v.option3, v.currency, '', '', '',
       v.price, COALESCE(v.compare_at_price, -1), 0, v.sku IS NULL
FROM variants v FORCE INDEX (variants_product)
WHERE v.product_id IN (sqlc.slice('variants_of')) AND v.active
UNION ALL
SELECT 'i', im.product_id, im.id, im.position, im.src, im.alt, '', '', '', '', '', '', 0, 0, 0, 0
FROM product_images im FORCE INDEX (product_images_product) WHERE im.product_id IN (sqlc.slice('images_of'))
UNION ALL
SELECT 'a', a.product_id, 0, 0, a.name, a.value, '', '', '', '', '', '', 0, 0, 0, 0
FROM product_attributes a FORCE INDEX (PRIMARY) WHERE a.product_id IN (sqlc.slice('attributes_of'))
UNION ALL
SELECT 'c', pc.product_id, c.id, pc.position, c.slug, c.name, '', '', '', '', '', '', 0, 0, 0, 0
FROM product_categories pc FORCE INDEX (PRIMARY) STRAIGHT_JOIN categories c FORCE INDEX (PRIMARY) ON c.id = pc.category_id
WHERE pc.product_id IN (sqlc.slice('categories_of'));

-- name: DeleteProductPages :exec
DELETE FROM product_pages WHERE product_id IN (sqlc.slice('product_ids'));

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

-- name: AttributeFacet :many
-- An attribute facet of a category's whole listing (no other filter): the
-- largest values first, as the counting query of listing_sql.go orders them.
SELECT value, products FROM listing_attribute_counts
WHERE category_id = ? AND name = ? AND products > 0
ORDER BY products DESC, value
LIMIT 50;

-- name: BrandFacet :many
-- The brand facet of a category's whole listing (no other filter), from
-- listing_facet_counts: the largest brands first, as the counting query of
-- listing_sql.go orders them.
SELECT value, products FROM listing_facet_counts
WHERE category_id = ? AND facet = 'brand' AND products > 0
ORDER BY products DESC, value
LIMIT 50;

-- name: PriceBandCounts :many
-- The price bands of a category's whole listing (no other filter), from
-- listing_facet_counts: value is a band's floor in minor units.
SELECT value, products FROM listing_facet_counts
WHERE category_id = ? AND facet = 'price' AND products > 0;

-- name: ListingPriceRange :one
-- The lowest and highest lowest price of a category's listing (-1 for an
-- empty one): two ends of product_listing_price.
SELECT CAST(COALESCE(MIN(price_min), -1) AS SIGNED) AS lowest, CAST(COALESCE(MAX(price_min), -1) AS SIGNED) AS highest
FROM product_listing
WHERE category_id = ?;
