-- The webhook fan-out's durable position in the feed: every event with
-- seq <= this row's seq has its webhook_queue rows. One row (id 1), updated
-- under a row lock, so that one dispatcher at a time fans out each event.
-- +goose Up
CREATE TABLE webhook_cursor (
    id  TINYINT UNSIGNED NOT NULL,
    seq BIGINT UNSIGNED NOT NULL,
    PRIMARY KEY (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_520_ci;

-- +goose Down
DROP TABLE webhook_cursor;
