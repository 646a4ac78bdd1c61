-- +goose Up
INSERT INTO catalog_locks (name, version) VALUES ('category_tree', 0);

-- +goose Down
DELETE FROM catalog_locks WHERE name = 'category_tree';
