-- The storefront's product pages, one rendered document per active product,
-- so that a page is one primary-key read. body is the page's JSON with every
-- variant's "available" at 0 and "in_stock" false: stock changes with every
-- order, so the reader splices it in from inventory (variant_ids lists the
-- page's variants in the order they appear). Rewritten by catalog.SyncListing
-- in the same transaction as every write that changes what a page shows.
-- +goose Up
CREATE TABLE product_pages (
    product_id  BIGINT UNSIGNED NOT NULL,
    version     BIGINT UNSIGNED NOT NULL,
    variant_ids TEXT CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    body        MEDIUMBLOB NOT NULL,
    PRIMARY KEY (product_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_520_ci;

-- +goose Down
DROP TABLE product_pages;
