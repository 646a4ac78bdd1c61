-- Named locks for changes that read one part of the catalog and write
-- another: a category move reads the subtree and the new parent's ancestors,
-- and writes the closure table of both (see catalog.LockCategoryTree).
-- +goose Up
CREATE TABLE catalog_locks (
  name VARCHAR(32) NOT NULL PRIMARY KEY,
  version BIGINT UNSIGNED NOT NULL DEFAULT 0
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_520_ci;

-- +goose Down
DROP TABLE catalog_locks;
