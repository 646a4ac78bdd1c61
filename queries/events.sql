-- The change feed (internal/events). A row holds the n events of one write;
-- seq is the seq of its last event, 0 until the sequencer numbers it. The
-- sequencer's numbering UPDATE and the events' INSERTs are built at run time
-- (their row count varies); so are the sequencer's read of the rows to number
-- (events.unsequencedRows) and the feed's read (events.rowsAfter), UNIONs
-- sqlc cannot parse.

-- name: EventUnsequencedProbe :one
-- Is anything waiting for a seq? One index lookup, no lock.
SELECT id FROM events WHERE seq = 0 LIMIT 1;

-- name: EventSequenceForUpdate :one
SELECT last_seq FROM event_sequence WHERE id = 1 FOR UPDATE;

-- name: EventSequenceCreate :exec
INSERT IGNORE INTO event_sequence (id, last_seq) VALUES (1, 0);

-- name: EventHead :one
-- The last seq given: the sequence row's, or the table's if rows were
-- numbered by other means.
SELECT CAST(GREATEST(COALESCE((SELECT last_seq FROM event_sequence WHERE id = 1), 0),
                     COALESCE((SELECT MAX(seq) FROM events), 0)) AS UNSIGNED) AS head;

-- name: EventOldestSeq :one
-- The oldest seq still kept: the first event of the oldest numbered row.
SELECT CAST(seq + 1 - n AS UNSIGNED) AS oldest FROM events WHERE seq > 0 ORDER BY seq LIMIT 1;

-- name: EventClaimPrune :execrows
-- Whoever moves pruned_at prunes; the others wait for the next interval.
UPDATE event_sequence SET pruned_at = sqlc.arg(now)
WHERE id = 1 AND (pruned_at IS NULL OR pruned_at <= sqlc.arg(before));

-- name: EventPruneFloor :one
-- The newest seq no webhook still needs: events after the fan-out's cursor
-- are not queued yet (unless no webhook exists: the fan-out then leaves the
-- cursor where it is, and a webhook registered later wants only events after
-- the head), and a queued one is not delivered yet. One statement reads all
-- in one snapshot, and the fan-out moves the cursor and queues in one
-- transaction, so no event can slip between them.
SELECT CAST(LEAST(CASE WHEN EXISTS (SELECT 1 FROM webhooks) THEN COALESCE((SELECT seq FROM webhook_cursor WHERE id = 1), 0)
                       ELSE 9223372036854775807 END,
                  COALESCE((SELECT MIN(event_seq) FROM webhook_queue), 9223372036854775807) - 1) AS SIGNED) AS floor;

-- name: EventPruneBound :one
-- The seq of the numbered row OFFSET rows after the oldest: one batch of the
-- pruner looks no further, so that a batch reads at most that many rows
-- even when none is old enough (events have no index on created_at).
SELECT seq FROM events WHERE seq > 0 ORDER BY seq LIMIT 1 OFFSET ?;

-- name: EventFirstYoung :one
-- The oldest row of a pruning window that is too young to go: the batch
-- stops below it, so pruning only ever removes the feed's oldest rows.
SELECT seq FROM events WHERE seq > 0 AND seq <= sqlc.arg(upto) AND created_at >= sqlc.arg(cutoff)
ORDER BY seq LIMIT 1;

-- name: EventPrune :execrows
-- A row goes whole: its last event, seq, is at or below the floor.
DELETE FROM events WHERE seq > 0 AND seq <= sqlc.arg(floor) AND created_at < sqlc.arg(created_at)
ORDER BY seq LIMIT ?;

-- name: EventRowFrom :one
-- The row holding the event seq, if it is kept: the first row ending at or
-- after it (the caller checks that it starts at or before it).
SELECT seq, n, type, data, data_z FROM events WHERE seq >= ? ORDER BY seq LIMIT 1;

-- name: EventCompressedRowsAllowed :one
-- Whether writers may store long rows compressed yet (see migration 00191),
-- by the database's clock.
SELECT CAST(compress_rows_from <= UTC_TIMESTAMP() AS SIGNED) AS allowed FROM event_sequence WHERE id = 1;
