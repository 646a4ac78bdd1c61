-- name: TakeStock :execresult
-- The guard on_hand > ? is the whole oversell protection: the row lock the
-- UPDATE takes serialises buyers, and a short row matches nothing. It is
-- strict so that a match also says "stock is left afterwards"; when it
-- matches nothing, TakeLastStock tells a sell-out from a shortage.
-- LAST_INSERT_ID(expr) hands the level after the change back in the
-- statement's OK packet (the result's LastInsertId, meaningful only when a
-- row matched), so the ledger and the stock event are written as plain
-- rows without reading the inventory row again.
UPDATE inventory SET on_hand = LAST_INSERT_ID(on_hand - sqlc.arg(quantity)), updated_at = sqlc.arg(updated_at)
WHERE variant_id = sqlc.arg(variant_id) AND on_hand > sqlc.arg(quantity);

-- name: TakeLastStock :execrows
UPDATE inventory SET on_hand = 0, updated_at = sqlc.arg(updated_at)
WHERE variant_id = sqlc.arg(variant_id) AND on_hand = sqlc.arg(quantity);

-- name: StockOf :many
SELECT variant_id, on_hand FROM inventory WHERE variant_id IN (sqlc.slice('variant_ids'));

-- name: InsertOrder :execlastid
INSERT INTO orders (public_id, email, status, currency, subtotal, total, item_count,
                    shipping_address, access_token_hash, created_at, updated_at)
VALUES (?, ?, 'pending', ?, ?, ?, ?, ?, ?, ?, ?);

-- name: GetOrderByPublicID :one
SELECT id, public_id, email, status, currency, subtotal, total, item_count, shipping_address,
       access_token_hash, version, created_at, updated_at, paid_at, fulfilled_at, cancelled_at, refunded_at,
       cancel_reason
FROM orders WHERE public_id = ?;

-- name: GetOrderByPublicIDForUpdate :one
SELECT id, public_id, email, status, currency, subtotal, total, item_count, shipping_address,
       access_token_hash, version, created_at, updated_at, paid_at, fulfilled_at, cancelled_at, refunded_at,
       cancel_reason
FROM orders WHERE public_id = ? FOR UPDATE;

-- name: OrderLines :many
SELECT order_id, line_no, variant_id, product_id, sku, title, unit_price, quantity, line_total, variant_title
FROM order_lines WHERE order_id = ? ORDER BY line_no;

-- name: OrderLinesOf :many
SELECT order_id, line_no, variant_id, product_id, sku, title, unit_price, quantity, line_total, variant_title
FROM order_lines WHERE order_id IN (sqlc.slice('order_ids')) ORDER BY order_id, line_no;

-- name: SetOrderStatus :execrows
UPDATE orders
SET status = sqlc.arg(status), version = version + 1, updated_at = sqlc.arg(updated_at),
    paid_at = COALESCE(sqlc.narg(paid_at), paid_at),
    fulfilled_at = COALESCE(sqlc.narg(fulfilled_at), fulfilled_at),
    cancelled_at = COALESCE(sqlc.narg(cancelled_at), cancelled_at),
    refunded_at = COALESCE(sqlc.narg(refunded_at), refunded_at),
    cancel_reason = COALESCE(sqlc.narg(cancel_reason), cancel_reason)
WHERE id = sqlc.arg(id) AND version = sqlc.arg(version);

-- name: ReturnStock :exec
-- An upsert rather than an UPDATE so that returned stock is never lost, even
-- if the variant's inventory row was removed since the order was placed.
INSERT INTO inventory (variant_id, product_id, on_hand, updated_at) VALUES (?, ?, ?, ?)
ON DUPLICATE KEY UPDATE on_hand = on_hand + VALUES(on_hand), updated_at = VALUES(updated_at);

-- name: ListOrders :many
-- Newest first, keyset-paged on (created_at, id) with the expanded seek
-- predicate (MariaDB does not range-scan a row constructor). Each filter is
-- optional; MariaDB folds "? IS NULL" away at each execution.
SELECT id, public_id, email, status, currency, subtotal, total, item_count, shipping_address,
       access_token_hash, version, created_at, updated_at, paid_at, fulfilled_at, cancelled_at, refunded_at,
       cancel_reason
FROM orders
WHERE (sqlc.narg(status) IS NULL OR status = sqlc.narg(status))
  AND (sqlc.narg(email) IS NULL OR email = sqlc.narg(email))
  AND (sqlc.narg(created_after) IS NULL OR created_at > sqlc.narg(created_after))
  AND (sqlc.narg(created_before) IS NULL OR created_at < sqlc.narg(created_before))
  AND (sqlc.narg(seek_at) IS NULL
       OR created_at < sqlc.narg(seek_at)
       OR (created_at = sqlc.narg(seek_at) AND id < sqlc.narg(seek_id)))
ORDER BY created_at DESC, id DESC
LIMIT ?;

-- name: PendingOrdersCreatedBefore :many
-- The expiry sweep's candidates, oldest first, on orders_status_created. No
-- lock: each is claimed by LockPendingOrderCreatedBefore in its own
-- transaction, so several instances sweeping at once share the work.
SELECT public_id FROM orders
WHERE status = 'pending' AND created_at < sqlc.arg(cutoff)
ORDER BY created_at, id
LIMIT ?;

-- name: LockPendingOrderCreatedBefore :one
-- Claims one order for expiry: SKIP LOCKED passes over an order that a buyer,
-- staff or another instance's sweep is moving right now, and the status and
-- age guards over one that was moved since it was listed.
SELECT id, public_id, email, status, currency, subtotal, total, item_count, shipping_address,
       access_token_hash, version, created_at, updated_at, paid_at, fulfilled_at, cancelled_at, refunded_at,
       cancel_reason
FROM orders
WHERE public_id = ? AND status = 'pending' AND created_at < sqlc.arg(cutoff)
FOR UPDATE SKIP LOCKED;
