-- The fan-out cursor starts before the first event.
-- +goose Up
INSERT INTO webhook_cursor (id, seq) VALUES (1, 0);

-- +goose Down
DELETE FROM webhook_cursor WHERE id = 1;
