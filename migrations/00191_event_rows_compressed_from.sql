-- When writers start storing long event rows compressed (00190): the
-- moment, set by 00192 for a database that is already in use.
-- +goose Up
ALTER TABLE event_sequence ADD COLUMN compress_rows_from DATETIME(6) NOT NULL DEFAULT '1970-01-01 00:00:00';

-- +goose Down
ALTER TABLE event_sequence DROP COLUMN compress_rows_from;
