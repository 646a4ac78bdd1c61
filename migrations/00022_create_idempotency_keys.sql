-- Idempotency-Key records for POST /v1/orders. A key is claimed with a plain
-- INSERT (a duplicate-key error means "seen"), in its own short transaction.
-- key_hash is SHA-256 over scope and key, so the client's key is not stored;
-- the stored response is sealed with a key derived from the client's key,
-- because it carries the order's access token. claim_token tells the request
-- that owns a running claim from one that took over an abandoned claim.
-- +goose Up
CREATE TABLE idempotency_keys (
    scope           VARCHAR(80) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    key_hash        BINARY(32) NOT NULL,
    request_hash    BINARY(32) NOT NULL,
    state           ENUM('running', 'done') NOT NULL DEFAULT 'running',
    claim_token     BINARY(16) NOT NULL,
    response_status SMALLINT NOT NULL DEFAULT 0,
    response_body   MEDIUMBLOB NOT NULL,
    order_id        BIGINT UNSIGNED NULL,
    claimed_at      DATETIME(6) NOT NULL,
    expires_at      DATETIME(6) NOT NULL,
    PRIMARY KEY (scope, key_hash),
    KEY idempotency_keys_expires (expires_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_520_ci;

-- +goose Down
DROP TABLE idempotency_keys;
