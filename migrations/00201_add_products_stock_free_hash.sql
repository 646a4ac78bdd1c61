-- content_hash covers a product's stock as the write that stored it stated
-- it, so that a file re-run after sales is unchanged and never resets the
-- stock. stock_free_hash is the same digest without any stock: a file whose
-- product matches it and whose stated stock is the stock now (an export of
-- the catalog, imported back after orders or adjustments moved its stock)
-- is unchanged too. It is bound to content_hash (a digest of both), so that
-- a content_hash written by an older release, which leaves this column as
-- it was, never meets a stock-free digest of another content. NULL where
-- no write has stored one yet.
-- +goose Up
ALTER TABLE products ADD COLUMN stock_free_hash BINARY(32) NULL;

-- +goose Down
ALTER TABLE products DROP COLUMN stock_free_hash;
