-- Categories form a tree of any depth. Reads never recurse: category_ancestors
-- (the closure of the tree) and product_listing answer "this category and all
-- below it" with one equality.
-- +goose Up
CREATE TABLE categories (
    id            BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
    parent_id     BIGINT UNSIGNED NULL,
    slug          VARCHAR(191) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
    name          VARCHAR(255) NOT NULL,
    position      INT NOT NULL DEFAULT 0,
    depth         INT NOT NULL DEFAULT 0,
    product_count BIGINT NOT NULL DEFAULT 0,
    version       BIGINT UNSIGNED NOT NULL DEFAULT 1,
    created_at    DATETIME(6) NOT NULL,
    updated_at    DATETIME(6) NOT NULL,
    PRIMARY KEY (id),
    UNIQUE KEY categories_slug (slug),
    KEY categories_parent (parent_id, position, id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_520_ci;

-- +goose Down
DROP TABLE categories;
