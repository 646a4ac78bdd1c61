-- Retention keeps every event a webhook still has to deliver: pruning reads
-- the oldest event_seq still queued, which this index answers in one lookup.
-- +goose Up
ALTER TABLE webhook_queue ADD KEY webhook_queue_seq (event_seq);

-- +goose Down
ALTER TABLE webhook_queue DROP KEY webhook_queue_seq;
