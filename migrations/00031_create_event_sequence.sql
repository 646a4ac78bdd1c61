-- The change feed's sequencer state, one row (id 1). Whoever holds this row's
-- lock is the one sequencer: it numbers committed events (events.seq) from
-- last_seq + 1. last_seq survives the pruning of old events, so a seq is
-- never given twice. pruned_at lets one instance at a time delete old events.
-- +goose Up
CREATE TABLE event_sequence (
    id        TINYINT UNSIGNED NOT NULL,
    last_seq  BIGINT UNSIGNED NOT NULL,
    pruned_at DATETIME(6) NULL,
    PRIMARY KEY (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_520_ci;

-- +goose Down
DROP TABLE event_sequence;
