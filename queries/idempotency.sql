-- name: StoreIdempotentResponse :exec
-- A plain INSERT of the key with its answer: the last statement of a placed
-- order's transaction, or on its own for a refused order. A duplicate-key
-- error (1062) means another request with the key answered first.
INSERT INTO idempotency_keys (scope, key_hash, request_hash, state, claim_token, response_status,
                              response_body, order_id, claimed_at, expires_at, anon_key_hash)
VALUES (?, ?, ?, 'done', ?, ?, ?, ?, ?, ?, ?);

-- name: DropAbandonedIdempotencyKey :execrows
-- A "running" claim committed on its own is what an earlier version of the
-- service wrote before the order; past its lease, its request is dead or
-- can no longer complete it (its UPDATE matches the claim token).
DELETE FROM idempotency_keys WHERE scope = ? AND key_hash = ? AND claim_token = ? AND state = 'running';

-- name: DeleteExpiredIdempotencyKey :execrows
DELETE FROM idempotency_keys WHERE scope = ? AND key_hash = ? AND expires_at < ?;

-- name: DeleteExpiredAnonIdempotencyKey :execrows
-- An expired record of an anonymous key in another scope (not swept yet):
-- it no longer holds the key.
DELETE FROM idempotency_keys WHERE anon_key_hash = ? AND expires_at < ?;

-- name: SweepIdempotencyKeys :execrows
DELETE FROM idempotency_keys WHERE expires_at < ? ORDER BY expires_at LIMIT 1000;
