-- +goose Up
CREATE TABLE product_images (
    id         BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
    product_id BIGINT UNSIGNED NOT NULL,
    position   INT NOT NULL DEFAULT 0,
    src        VARCHAR(2048) NOT NULL,
    alt        VARCHAR(512) NOT NULL DEFAULT '',
    PRIMARY KEY (id),
    KEY product_images_product (product_id, position, id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_520_ci;

-- +goose Down
DROP TABLE product_images;
