-- Why an order was cancelled: by its buyer ("customer"), by staff with an API
-- key ("admin"), or by the pending-order sweep because it stayed unpaid past
-- SHELF_PENDING_ORDER_TTL ("expired"). NULL for an order that is not
-- cancelled. Added last so the order queries keep reading whole rows.
-- +goose Up
ALTER TABLE orders ADD COLUMN cancel_reason ENUM('customer', 'admin', 'expired') NULL;

-- +goose Down
ALTER TABLE orders DROP COLUMN cancel_reason;
