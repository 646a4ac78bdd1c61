-- name: InsertAPIKey :execlastid
INSERT INTO api_keys (name, prefix, key_hash, scopes, created_at) VALUES (?, ?, ?, ?, ?);

-- name: GetActiveAPIKeyByHash :one
SELECT id, name, prefix, key_hash, scopes, created_at, last_used_at, revoked_at
FROM api_keys WHERE key_hash = ? AND revoked_at IS NULL;

-- name: ListAPIKeys :many
SELECT id, name, prefix, key_hash, scopes, created_at, last_used_at, revoked_at
FROM api_keys ORDER BY id;

-- name: RevokeAPIKey :execrows
UPDATE api_keys SET revoked_at = ? WHERE (id = ? OR name = ?) AND revoked_at IS NULL;

-- name: TouchAPIKey :exec
UPDATE api_keys SET last_used_at = ? WHERE id = ?;
