-- Deliveries still to be made: one row per (webhook, event) until it is
-- delivered or its retry schedule is exhausted. A dispatcher claims due rows
-- with SELECT ... FOR UPDATE SKIP LOCKED, counts the attempt and pushes
-- next_at past the attempt's lease in the same short transaction, then sends
-- outside it: a crashed sender's row comes due again when the lease ends, and
-- no two senders ever make the same attempt.
-- +goose Up
CREATE TABLE webhook_queue (
    id         BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
    webhook_id BIGINT UNSIGNED NOT NULL,
    event_seq  BIGINT UNSIGNED NOT NULL,
    event_type VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    attempts   INT UNSIGNED NOT NULL,
    next_at    DATETIME(6) NOT NULL,
    created_at DATETIME(6) NOT NULL,
    PRIMARY KEY (id),
    UNIQUE KEY webhook_queue_event (webhook_id, event_seq),
    KEY webhook_queue_due (next_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_520_ci;

-- +goose Down
DROP TABLE webhook_queue;
