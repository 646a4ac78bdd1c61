-- Rows not yet sequenced get seq 0 instead of NULL (see 00130), before the
-- column becomes NOT NULL (00132).
-- +goose Up
UPDATE events SET seq = 0 WHERE seq IS NULL;

-- +goose Down
-- A row of several events cannot be read by the code before 00130: its
-- events are dropped (the feed then skips their seqs as a hole).
UPDATE events SET seq = NULL WHERE seq = 0;
DELETE FROM events WHERE n > 1;
