-- The lines of an order as sold: SKU, title and unit price are copies, so
-- renaming or repricing a product never rewrites an order.
-- +goose Up
CREATE TABLE order_lines (
    order_id      BIGINT UNSIGNED NOT NULL,
    line_no       INT NOT NULL,
    variant_id    BIGINT UNSIGNED NOT NULL,
    product_id    BIGINT UNSIGNED NOT NULL,
    sku           VARCHAR(191) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
    title         VARCHAR(255) NOT NULL,
    variant_title VARCHAR(255) NOT NULL DEFAULT '',
    unit_price    BIGINT NOT NULL,
    quantity      INT NOT NULL,
    line_total    BIGINT NOT NULL,
    PRIMARY KEY (order_id, line_no),
    KEY order_lines_variant (variant_id),
    CONSTRAINT order_lines_quantity_positive CHECK (quantity > 0)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_520_ci;

-- +goose Down
DROP TABLE order_lines;
