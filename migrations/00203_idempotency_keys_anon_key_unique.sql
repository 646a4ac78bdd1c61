-- See 00202. Records written before it have no anon_key_hash (NULL, which a
-- UNIQUE index allows many times): they keep the old rule until they expire.
-- +goose Up
ALTER TABLE idempotency_keys ADD UNIQUE KEY idempotency_keys_anon_key (anon_key_hash);

-- +goose Down
ALTER TABLE idempotency_keys DROP KEY idempotency_keys_anon_key;
