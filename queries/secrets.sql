-- name: InsertSecretIfAbsent :exec
-- INSERT IGNORE: the first process's key wins; later ones keep it.
INSERT IGNORE INTO service_secrets (name, secret, created_at) VALUES (?, ?, ?);

-- name: GetSecret :one
SELECT secret FROM service_secrets WHERE name = ?;
