-- One events row per writing transaction, not per event: a row holds the n
-- events one write emitted, in order, and seq becomes the seq of its last
-- event (the row's events are seq - n + 1 .. seq). A row written before
-- this keeps n = 1, so it reads as it did. seq stops being unique: 0 will
-- mean "not yet sequenced" (00131, 00132), so that numbering a row rewrites
-- a fixed-size value in place instead of growing the row from NULL.
-- +goose Up
ALTER TABLE events
    ADD COLUMN n INT UNSIGNED NOT NULL DEFAULT 1 AFTER seq,
    DROP KEY events_seq,
    ADD KEY events_seq (seq);

-- +goose Down
ALTER TABLE events
    DROP COLUMN n,
    DROP KEY events_seq,
    ADD UNIQUE KEY events_seq (seq);
