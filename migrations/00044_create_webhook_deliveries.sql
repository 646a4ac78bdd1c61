-- The delivery log: one row per attempt made, newest last, what
-- GET /v1/admin/webhooks/{id}/deliveries pages through (newest first).
-- response_status is NULL when no HTTP answer came (refused address,
-- timeout, connection error); error says why.
-- +goose Up
CREATE TABLE webhook_deliveries (
    id              BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
    webhook_id      BIGINT UNSIGNED NOT NULL,
    event_seq       BIGINT UNSIGNED NOT NULL,
    event_type      VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    attempt         INT UNSIGNED NOT NULL,
    response_status INT NULL,
    error           VARCHAR(512) NULL,
    duration_ms     INT UNSIGNED NOT NULL,
    next_attempt_at DATETIME(6) NULL,
    at              DATETIME(6) NOT NULL,
    PRIMARY KEY (id),
    KEY webhook_deliveries_log (webhook_id, id),
    KEY webhook_deliveries_at (at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_520_ci;

-- +goose Down
DROP TABLE webhook_deliveries;
