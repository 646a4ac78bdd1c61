-- How many listed products carry each attribute value, per category they are
-- listed under (category_id 0 is the whole catalog): the attribute facets of
-- a listing with no other filter, read in one index range instead of joining
-- every product of the category to product_attributes. Kept by
-- catalog.SyncListing in the same transaction as product_listing, from the
-- difference between the attributes a product's page showed and the ones it
-- has now; a row that falls to 0 stays (readers skip it).
-- +goose Up
CREATE TABLE listing_attribute_counts (
    category_id BIGINT UNSIGNED NOT NULL,
    name        VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    value       VARCHAR(191) NOT NULL,
    products    BIGINT NOT NULL,
    PRIMARY KEY (category_id, name, value)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_520_ci;

-- +goose Down
DROP TABLE listing_attribute_counts;
