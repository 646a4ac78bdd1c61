-- The change feed (internal/events). The sequencer's numbering UPDATE and
-- the events' INSERTs are built at run time (their row count varies).

-- name: EventUnsequencedProbe :one
-- Is anything waiting for a seq? One index lookup, no lock.
SELECT id FROM events WHERE seq IS NULL LIMIT 1;

-- name: EventUnsequenced :many
SELECT id FROM events WHERE seq IS NULL ORDER BY id LIMIT ?;

-- name: EventSequenceForUpdate :one
SELECT last_seq FROM event_sequence WHERE id = 1 FOR UPDATE;

-- name: EventSequenceCreate :exec
INSERT IGNORE INTO event_sequence (id, last_seq) VALUES (1, 0);

-- name: EventSaveSequence :exec
UPDATE event_sequence SET last_seq = ? WHERE id = 1;

-- name: EventHead :one
-- The last seq given: the sequence row's, or the table's if rows were
-- numbered by other means.
SELECT CAST(GREATEST(COALESCE((SELECT last_seq FROM event_sequence WHERE id = 1), 0),
                     COALESCE((SELECT MAX(seq) FROM events), 0)) AS UNSIGNED) AS head;

-- name: EventOldestSeq :one
-- The oldest seq still kept; 0 when none (seq starts at 1).
SELECT CAST(COALESCE(MIN(seq), 0) AS UNSIGNED) AS oldest FROM events;

-- name: EventClaimPrune :execrows
-- Whoever moves pruned_at prunes; the others wait for the next interval.
UPDATE event_sequence SET pruned_at = sqlc.arg(now)
WHERE id = 1 AND (pruned_at IS NULL OR pruned_at <= sqlc.arg(before));

-- name: EventPruneFloor :one
-- The newest seq no webhook still needs: events after the fan-out's cursor
-- are not queued yet, and a queued one is not delivered yet. One statement
-- reads both in one snapshot, and the fan-out moves the cursor and queues in
-- one transaction, so no event can slip between the two.
SELECT CAST(LEAST(COALESCE((SELECT seq FROM webhook_cursor WHERE id = 1), 0),
                  COALESCE((SELECT MIN(event_seq) FROM webhook_queue), 18446744073709551615) - 1) AS UNSIGNED) AS floor;

-- name: EventPrune :execrows
DELETE FROM events WHERE seq IS NOT NULL AND seq <= sqlc.arg(floor) AND created_at < sqlc.arg(created_at)
ORDER BY seq LIMIT ?;

-- name: EventsAfter :many
SELECT seq, type, data FROM events WHERE seq > ? ORDER BY seq LIMIT ?;
