-- Stock per variant: on_hand is what can be sold now. Orders take stock with
-- a guarded UPDATE (on_hand >= qty); the CHECK is the last line of defence.
-- +goose Up
CREATE TABLE inventory (
    variant_id BIGINT UNSIGNED NOT NULL,
    product_id BIGINT UNSIGNED NOT NULL,
    on_hand    BIGINT NOT NULL DEFAULT 0,
    updated_at DATETIME(6) NOT NULL,
    PRIMARY KEY (variant_id),
    KEY inventory_product (product_id, variant_id),
    CONSTRAINT inventory_on_hand_nonnegative CHECK (on_hand >= 0)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_520_ci;

-- +goose Down
DROP TABLE inventory;
