-- Variants carry the prices, in integer minor units of an ISO-4217 currency.
-- A SKU is unique when present; real Shopify exports have variants without
-- one, so NULL is allowed (a UNIQUE index admits many NULLs).
-- +goose Up
CREATE TABLE variants (
    id               BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
    product_id       BIGINT UNSIGNED NOT NULL,
    sku              VARCHAR(191) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL,
    position         INT NOT NULL DEFAULT 0,
    option1          VARCHAR(255) NOT NULL DEFAULT '',
    option2          VARCHAR(255) NOT NULL DEFAULT '',
    option3          VARCHAR(255) NOT NULL DEFAULT '',
    price            BIGINT NOT NULL,
    compare_at_price BIGINT NULL,
    currency         CHAR(3) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    active           BOOLEAN NOT NULL DEFAULT TRUE,
    created_at       DATETIME(6) NOT NULL,
    updated_at       DATETIME(6) NOT NULL,
    PRIMARY KEY (id),
    UNIQUE KEY variants_sku (sku),
    KEY variants_product (product_id, position, id),
    CONSTRAINT variants_price_nonnegative CHECK (price >= 0)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_520_ci;

-- +goose Down
DROP TABLE variants;
