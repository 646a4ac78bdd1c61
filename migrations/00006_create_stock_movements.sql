-- The stock ledger: every change of on_hand, with its reason and who made it.
-- +goose Up
CREATE TABLE stock_movements (
    id            BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
    variant_id    BIGINT UNSIGNED NOT NULL,
    sku           VARCHAR(191) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL,
    delta         BIGINT NOT NULL,
    on_hand_after BIGINT NOT NULL,
    reason        VARCHAR(64) NOT NULL,
    note          VARCHAR(255) NOT NULL DEFAULT '',
    order_id      BIGINT UNSIGNED NULL,
    actor         VARCHAR(191) NOT NULL DEFAULT '',
    created_at    DATETIME(6) NOT NULL,
    PRIMARY KEY (id),
    KEY stock_movements_variant (variant_id, id),
    KEY stock_movements_order (order_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_520_ci;

-- +goose Down
DROP TABLE stock_movements;
