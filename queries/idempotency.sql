-- name: ClaimIdempotencyKey :exec
-- A plain INSERT: the duplicate-key error (1062) is how a second request
-- learns the key was seen. Never SELECT ... FOR UPDATE first: that deadlocks.
INSERT INTO idempotency_keys (scope, key_hash, request_hash, state, claim_token, response_status,
                              response_body, claimed_at, expires_at)
VALUES (?, ?, ?, 'running', ?, 0, '', ?, ?);

-- name: InsertIdempotentResponse :exec
-- A key's answer stored by the request that ran without claiming first, in
-- the same transaction as its order: the key's first row is already 'done'.
-- A duplicate-key error (1062) means another request has (or had) the key.
INSERT INTO idempotency_keys (scope, key_hash, request_hash, state, claim_token, response_status,
                              response_body, order_id, claimed_at, expires_at)
VALUES (?, ?, ?, 'done', ?, ?, ?, ?, ?, ?);

-- name: GetIdempotencyKey :one
SELECT scope, key_hash, request_hash, state, claim_token, response_status, response_body,
       order_id, claimed_at, expires_at
FROM idempotency_keys WHERE scope = ? AND key_hash = ?;

-- name: CompleteIdempotencyKey :execrows
UPDATE idempotency_keys
SET state = 'done', response_status = ?, response_body = ?, order_id = ?
WHERE scope = ? AND key_hash = ? AND claim_token = ? AND state = 'running';

-- name: TakeOverIdempotencyKey :execrows
-- Takes over a claim whose request died without releasing it (its order was
-- never committed: the response is stored in the order's own transaction).
UPDATE idempotency_keys
SET claim_token = sqlc.arg(claim_token), request_hash = sqlc.arg(request_hash),
    claimed_at = sqlc.arg(claimed_at), expires_at = sqlc.arg(expires_at)
WHERE scope = sqlc.arg(scope) AND key_hash = sqlc.arg(key_hash)
  AND claim_token = sqlc.arg(abandoned_claim_token) AND state = 'running';

-- name: ReleaseIdempotencyKey :exec
DELETE FROM idempotency_keys WHERE scope = ? AND key_hash = ? AND claim_token = ? AND state = 'running';

-- name: DeleteExpiredIdempotencyKey :execrows
DELETE FROM idempotency_keys WHERE scope = ? AND key_hash = ? AND expires_at < ?;

-- name: SweepIdempotencyKeys :execrows
DELETE FROM idempotency_keys WHERE expires_at < ? ORDER BY expires_at LIMIT 1000;
