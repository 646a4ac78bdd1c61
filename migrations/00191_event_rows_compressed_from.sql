-- When writers start storing long event rows compressed (00190). A binary
-- from before 00190 reads a compressed row as one without events, so its
-- streams would skip them and, if it ran the webhooks' fan-out, their
-- deliveries would never be queued. A database that was in use when this
-- migration ran (it has products or events) therefore gets compressed rows
-- only an hour later, once a rolling upgrade has replaced every older
-- instance; a new database gets them at once. An operator may move the
-- moment either way (UPDATE event_sequence SET compress_rows_from = ...);
-- every instance reads it again within a minute while it lies ahead.
-- +goose Up
ALTER TABLE event_sequence ADD COLUMN compress_rows_from DATETIME(6) NOT NULL DEFAULT '1970-01-01 00:00:00';
UPDATE event_sequence SET compress_rows_from = UTC_TIMESTAMP(6) + INTERVAL 1 HOUR
WHERE EXISTS (SELECT 1 FROM products) OR EXISTS (SELECT 1 FROM events);

-- +goose Down
ALTER TABLE event_sequence DROP COLUMN compress_rows_from;
