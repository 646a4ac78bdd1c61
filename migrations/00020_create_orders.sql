-- Orders. public_id is the random, unguessable id used in URLs; id doubles as
-- the human order number (shown as "number"). Prices and totals are integer
-- minor units of currency, copied from the catalog when the order is placed, so
-- later price changes never alter an order. Only the SHA-256 of the buyer's
-- access token is kept. shipping_address is the JSON object the buyer sent,
-- stored as text (NOT NULL, so sqlc scans it as a string).
-- +goose Up
CREATE TABLE orders (
    id                BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
    public_id         VARCHAR(40) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    email             VARCHAR(254) NOT NULL,
    status            ENUM('pending', 'paid', 'fulfilled', 'cancelled', 'refunded') NOT NULL DEFAULT 'pending',
    currency          CHAR(3) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    subtotal          BIGINT NOT NULL,
    total             BIGINT NOT NULL,
    item_count        INT NOT NULL,
    shipping_address  TEXT NOT NULL,
    access_token_hash BINARY(32) NOT NULL,
    version           BIGINT UNSIGNED NOT NULL DEFAULT 1,
    created_at        DATETIME(6) NOT NULL,
    updated_at        DATETIME(6) NOT NULL,
    paid_at           DATETIME(6) NULL,
    fulfilled_at      DATETIME(6) NULL,
    cancelled_at      DATETIME(6) NULL,
    refunded_at       DATETIME(6) NULL,
    PRIMARY KEY (id),
    UNIQUE KEY orders_public_id (public_id),
    KEY orders_created (created_at, id),
    KEY orders_status_created (status, created_at, id),
    KEY orders_email_created (email, created_at, id),
    CONSTRAINT orders_totals_nonnegative CHECK (subtotal >= 0 AND total >= 0)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_520_ci;

-- +goose Down
DROP TABLE orders;
