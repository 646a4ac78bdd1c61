-- Queries behind the storefront's search index, search_words (kept by
-- catalog.SyncPages; read by the search SQL that listing_sql.go builds).

-- name: SearchWordsOf :many
-- The stored words of a set of products, to compare with what they should be.
SELECT product_id, word, score FROM search_words
WHERE product_id IN (sqlc.slice('product_ids'))
ORDER BY product_id, word;

-- name: DeleteSearchWords :exec
DELETE FROM search_words WHERE product_id IN (sqlc.slice('product_ids'));

-- name: ProductIDsAfter :many
-- A range of product ids in id order, for a pass over the whole catalog.
SELECT id FROM products WHERE id > ? ORDER BY id LIMIT ?;
