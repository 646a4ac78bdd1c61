-- Admin API keys. Only the SHA-256 of a key is stored: keys are 256-bit random
-- strings, so a fast hash is enough and lookups stay one index probe.
-- +goose Up
CREATE TABLE api_keys (
    id           BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
    name         VARCHAR(191) NOT NULL,
    prefix       VARCHAR(16) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    key_hash     BINARY(32) NOT NULL,
    scopes       VARCHAR(512) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    created_at   DATETIME(6) NOT NULL,
    last_used_at DATETIME(6) NULL,
    revoked_at   DATETIME(6) NULL,
    PRIMARY KEY (id),
    UNIQUE KEY api_keys_hash (key_hash),
    KEY api_keys_name (name)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_520_ci;

-- +goose Down
DROP TABLE api_keys;
