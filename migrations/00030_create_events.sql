-- The change feed's transactional outbox: a write inserts its events in the
-- transaction of the change, so a rolled-back change leaves none. id is taken
-- at INSERT, not at COMMIT, so it is not the feed's order: seq is. seq is
-- assigned after commit, in the order rows become visible, by the one
-- sequencer running at a time, so a reader that tails seq > last never passes
-- an event whose transaction commits later. NULL means not yet sequenced
-- (a UNIQUE index allows many NULLs in MySQL and MariaDB alike).
-- +goose Up
CREATE TABLE events (
    id         BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
    seq        BIGINT UNSIGNED NULL,
    type       VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    data       MEDIUMTEXT NOT NULL,
    created_at DATETIME(6) NOT NULL,
    PRIMARY KEY (id),
    UNIQUE KEY events_seq (seq),
    KEY events_created (created_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_520_ci;

-- +goose Down
DROP TABLE events;
