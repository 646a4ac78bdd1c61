-- Search reads search_words (00140) and nothing reads the FULLTEXT index any
-- more; dropping it spares every product write its maintenance.
-- +goose Up
DROP INDEX products_search ON products;

-- +goose Down
CREATE FULLTEXT INDEX products_search ON products (title, brand, skus, description);
