-- Webhooks: registrations, the fan-out cursor, the delivery queue and the
-- delivery log. See internal/webhooks for the protocol these statements make.

-- name: LockWebhookCursor :one
SELECT seq FROM webhook_cursor WHERE id = 1 FOR UPDATE;

-- name: AdvanceWebhookCursor :exec
UPDATE webhook_cursor SET seq = ? WHERE id = 1;

-- name: WebhookFeedHead :one
SELECT CAST(COALESCE(MAX(seq), 0) AS SIGNED) AS seq FROM events;

-- name: InsertWebhook :execlastid
INSERT INTO webhooks (url, description, events, secret, from_seq, created_at) VALUES (?, ?, ?, ?, ?, ?);

-- name: GetWebhook :one
SELECT id, url, description, events, secret, from_seq, failing_since, created_at
FROM webhooks WHERE id = ?;

-- name: ListWebhooks :many
SELECT id, url, description, events, secret, from_seq, failing_since, created_at
FROM webhooks WHERE id > ? ORDER BY id LIMIT ?;

-- name: DeleteWebhook :execrows
DELETE FROM webhooks WHERE id = ?;

-- name: DeleteWebhookQueue :exec
DELETE FROM webhook_queue WHERE webhook_id = ?;

-- name: DeleteWebhookLog :exec
DELETE FROM webhook_deliveries WHERE webhook_id = ?;

-- name: MarkWebhookFailing :exec
UPDATE webhooks SET failing_since = ? WHERE id = ? AND failing_since IS NULL;

-- name: ClearWebhookFailing :exec
UPDATE webhooks SET failing_since = NULL WHERE id = ? AND failing_since IS NOT NULL;

-- name: AnyWebhook :one
-- Is any webhook registered? The fan-out does nothing (not even a
-- transaction) while none is.
SELECT EXISTS (SELECT 1 FROM webhooks) AS any_webhook;

-- name: FanOutTargets :many
-- Every webhook, with what the fan-out needs to queue its deliveries.
SELECT id, events, from_seq FROM webhooks ORDER BY id;

-- name: DueDeliveries :many
SELECT id, webhook_id, event_seq, event_type, attempts
FROM webhook_queue
WHERE next_at <= ?
ORDER BY next_at, id
LIMIT ?
FOR UPDATE SKIP LOCKED;

-- name: LeaseDeliveries :exec
UPDATE webhook_queue SET attempts = attempts + 1, next_at = ? WHERE id IN (sqlc.slice(ids));

-- FinishDeliveries and RetryDeliveries move on the rows of one attempt
-- number; a row whose attempts differ was claimed again by another
-- dispatcher after this one's lease ran out, and is left to it.
-- name: FinishDeliveries :execrows
DELETE FROM webhook_queue WHERE attempts = ? AND id IN (sqlc.slice(ids));

-- name: RetryDeliveries :execrows
UPDATE webhook_queue SET next_at = ? WHERE attempts = ? AND id IN (sqlc.slice(ids));

-- name: ListDeliveries :many
SELECT id, event_seq, event_type, attempt, response_status, error, duration_ms, next_attempt_at, at
FROM webhook_deliveries
WHERE webhook_id = ? AND id < ?
ORDER BY id DESC
LIMIT ?;

-- name: PruneDeliveryLog :execrows
DELETE FROM webhook_deliveries WHERE at < ? ORDER BY at LIMIT 1000;

-- ReleaseDelivery hands back a claimed attempt that was never made (the
-- dispatcher stopped first), so it does not use up a retry.
-- name: ReleaseDelivery :exec
UPDATE webhook_queue SET attempts = attempts - 1, next_at = ? WHERE id = ? AND attempts = ?;

-- name: WebhooksByID :many
SELECT id, url, description, events, secret, from_seq, failing_since, created_at
FROM webhooks WHERE id IN (sqlc.slice(ids));
