-- The transitive closure of the category tree: one row per (category, ancestor),
-- including the category itself at depth 0. Maintained by the catalog package
-- whenever a category is created or moved.
-- +goose Up
CREATE TABLE category_ancestors (
    category_id BIGINT UNSIGNED NOT NULL,
    ancestor_id BIGINT UNSIGNED NOT NULL,
    depth       INT NOT NULL,
    PRIMARY KEY (category_id, ancestor_id),
    KEY category_ancestors_ancestor (ancestor_id, depth, category_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_520_ci;

-- +goose Down
DROP TABLE category_ancestors;
