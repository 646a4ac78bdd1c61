-- Nothing reads events by created_at alone: the pruner walks seq (the feed's
-- order) and only checks each row's age, and the tail, the sequencer and the
-- webhooks' fan-out read by seq or id. The index cost every event row one
-- more index entry on insert and on delete.
-- +goose Up
ALTER TABLE events DROP KEY events_created;

-- +goose Down
ALTER TABLE events ADD KEY events_created (created_at);
