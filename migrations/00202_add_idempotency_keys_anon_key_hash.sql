-- Anonymous buyers' Idempotency-Keys are scoped by the order's e-mail
-- address, so that no one reads another's stored answer; but a retry that
-- changed the address with the same key found no record in its new scope
-- and placed a second order, where the contract says 422. anon_key_hash is a
-- keyed hash of the key alone, for anonymous records (NULL for those of an
-- API key), and 00203 makes it unique: the second order's INSERT of its key
-- meets the first one's, and its transaction, order and all, rolls back.
-- +goose Up
ALTER TABLE idempotency_keys ADD COLUMN anon_key_hash BINARY(32) NULL;

-- +goose Down
ALTER TABLE idempotency_keys DROP COLUMN anon_key_hash;
