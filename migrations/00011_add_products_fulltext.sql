-- Full-text search over title, brand, SKUs and description (q=...).
-- +goose Up
CREATE FULLTEXT INDEX products_search ON products (title, brand, skus, description);

-- +goose Down
DROP INDEX products_search ON products;
