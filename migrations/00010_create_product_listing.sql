-- The storefront's read model: one row per active product and per category it
-- is in, directly or below (category_id 0 is the whole catalog), carrying every
-- sort key and filter column so that each listing shape is one index range in
-- sort order. Rewritten by catalog.SyncListing in the same transaction as every
-- write that changes what it holds.
-- +goose Up
CREATE TABLE product_listing (
    category_id BIGINT UNSIGNED NOT NULL,
    product_id  BIGINT UNSIGNED NOT NULL,
    slug        VARCHAR(191) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
    title       VARCHAR(255) NOT NULL,
    brand       VARCHAR(191) NOT NULL,
    price_min   BIGINT NOT NULL,
    currency    CHAR(3) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    in_stock    BOOLEAN NOT NULL,
    created_at  DATETIME(6) NOT NULL,
    PRIMARY KEY (category_id, product_id),
    KEY product_listing_product (product_id),
    KEY product_listing_price (category_id, price_min, product_id),
    KEY product_listing_newest (category_id, created_at, product_id),
    KEY product_listing_title (category_id, title, product_id),
    KEY product_listing_brand (category_id, brand, price_min, in_stock)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_520_ci;

-- +goose Down
DROP TABLE product_listing;
