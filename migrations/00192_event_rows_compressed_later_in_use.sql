-- A binary from before 00190 reads a compressed event row as one without
-- events, so its streams would skip them and, if it ran the webhooks'
-- fan-out, their deliveries would never be queued. A database that is in
-- use when this migration runs (it has products or events) therefore gets
-- compressed rows only an hour later, once a rolling upgrade has replaced
-- every older instance; a new database gets them at once. An operator may
-- move the moment either way (UPDATE event_sequence SET compress_rows_from
-- = ...); every instance reads it again within a minute while it lies
-- ahead. Apart from 00191's ALTER, which commits on its own, so that an
-- UPDATE that loses a race with a running sequencer is simply run again. A
-- moment already set (by 00191 before it was split) is left as it is; a
-- database that ran that 00191 while empty and is in use now gets the hour
-- too (an hour more of uncompressed rows, nothing else).
-- +goose Up
UPDATE event_sequence SET compress_rows_from = UTC_TIMESTAMP(6) + INTERVAL 1 HOUR
WHERE compress_rows_from = '1970-01-01 00:00:00'
  AND (EXISTS (SELECT 1 FROM products) OR EXISTS (SELECT 1 FROM events));

-- +goose Down
-- Nothing: 00191's Down drops the column.
