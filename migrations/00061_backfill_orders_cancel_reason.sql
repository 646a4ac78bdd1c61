-- Orders cancelled before cancel_reason existed: the ledger row of the
-- returned stock names the buyer as its actor when the buyer cancelled;
-- every other cancel was staff's. (No order had expired yet.)
-- +goose Up
UPDATE orders o
SET cancel_reason = CASE WHEN EXISTS (
        SELECT 1 FROM stock_movements m
        WHERE m.order_id = o.id AND m.reason = 'order_cancelled' AND m.actor = 'buyer')
    THEN 'customer' ELSE 'admin' END
WHERE o.status = 'cancelled' AND o.cancel_reason IS NULL;

-- +goose Down
-- Nothing to undo: the Down of 00060 drops the column.
