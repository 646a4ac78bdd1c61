-- How many listed products have each brand and a lowest price in each price
-- band, per category they are listed under (category_id 0 is the whole
-- catalog): the brand and price facets of a listing with no other filter,
-- read from a few rows instead of every listing row of the category. facet
-- is 'brand' (value: the brand) or 'price' (value: the band's floor in minor
-- units, see catalog.priceBands). Kept by catalog.SyncListing in the same
-- transaction as product_listing, from the listing rows it replaces and the
-- ones it writes; a row that falls to 0 stays (readers skip it).
-- +goose Up
CREATE TABLE listing_facet_counts (
    category_id BIGINT UNSIGNED NOT NULL,
    facet       VARCHAR(16) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    value       VARCHAR(191) NOT NULL,
    products    BIGINT NOT NULL,
    PRIMARY KEY (category_id, facet, value)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_520_ci;

-- +goose Down
DROP TABLE listing_facet_counts;
