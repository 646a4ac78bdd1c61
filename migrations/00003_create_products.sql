-- Products. Slugs compare byte for byte (utf8mb4_bin) so that "Shirt" and
-- "shirt" are two handles; titles and brands use utf8mb4_unicode_520_ci, a
-- case-insensitive collation that both MySQL 8 and MariaDB 10.11 have.
-- skus holds the product's SKUs separated by spaces, for full-text search.
-- +goose Up
CREATE TABLE products (
    id            BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
    slug          VARCHAR(191) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
    title         VARCHAR(255) NOT NULL,
    description   MEDIUMTEXT NOT NULL,
    brand         VARCHAR(191) NOT NULL DEFAULT '',
    product_type  VARCHAR(255) NOT NULL DEFAULT '',
    tags          TEXT NOT NULL,
    status        ENUM('draft', 'active', 'archived') NOT NULL DEFAULT 'draft',
    option1_name  VARCHAR(255) NOT NULL DEFAULT '',
    option2_name  VARCHAR(255) NOT NULL DEFAULT '',
    option3_name  VARCHAR(255) NOT NULL DEFAULT '',
    skus          TEXT NOT NULL,
    content_hash  BINARY(32) NULL,
    version       BIGINT UNSIGNED NOT NULL DEFAULT 1,
    created_at    DATETIME(6) NOT NULL,
    updated_at    DATETIME(6) NOT NULL,
    PRIMARY KEY (id),
    UNIQUE KEY products_slug (slug),
    KEY products_status (status, id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_520_ci;

-- +goose Down
DROP TABLE products;
