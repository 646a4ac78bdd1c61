-- The sequencer's one row; the sequencer also creates it if it is missing.
-- +goose Up
INSERT INTO event_sequence (id, last_seq) VALUES (1, 0);

-- +goose Down
DELETE FROM event_sequence WHERE id = 1;
