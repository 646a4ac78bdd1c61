-- Facet attributes (attr.color=red). Names are normalised lower-case ASCII;
-- values compare case-insensitively, as a shopper types them.
-- +goose Up
CREATE TABLE product_attributes (
    product_id BIGINT UNSIGNED NOT NULL,
    name       VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    value      VARCHAR(191) NOT NULL,
    PRIMARY KEY (product_id, name, value),
    KEY product_attributes_name_value (name, value, product_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_520_ci;

-- +goose Down
DROP TABLE product_attributes;
