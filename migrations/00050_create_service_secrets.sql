-- Keys the service derives its signatures and keyed hashes from (listing and
-- order cursors, Idempotency-Key scopes and sealed responses), one row per
-- purpose. The first process to start inserts a random key (INSERT IGNORE,
-- so concurrent first starts agree on whichever row landed); every other
-- process reads it, so all instances on one database are one service with
-- no shared configuration beyond the DSN.
-- +goose Up
CREATE TABLE service_secrets (
    name       VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    secret     VARBINARY(64) NOT NULL,
    created_at DATETIME(6) NOT NULL,
    PRIMARY KEY (name)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_520_ci;

-- +goose Down
DROP TABLE service_secrets;
