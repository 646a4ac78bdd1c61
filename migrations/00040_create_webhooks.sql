-- Registered webhook endpoints. The secret is kept as issued because it signs
-- every delivery (a hash could not); it is shown once, at registration, and
-- never listed. events is '*' (every type) or a comma-separated list of event
-- types. from_seq is the feed position at registration: a webhook receives
-- the events sequenced after it was registered. failing_since is set when a
-- delivery exhausted its retry schedule and cleared by the next success.
-- +goose Up
CREATE TABLE webhooks (
    id            BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
    url           VARCHAR(2048) NOT NULL,
    description   VARCHAR(500) NOT NULL DEFAULT '',
    events        VARCHAR(1024) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    secret        VARCHAR(128) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    from_seq      BIGINT UNSIGNED NOT NULL,
    failing_since DATETIME(6) NULL,
    created_at    DATETIME(6) NOT NULL,
    PRIMARY KEY (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_520_ci;

-- +goose Down
DROP TABLE webhooks;
