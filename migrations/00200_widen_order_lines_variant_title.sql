-- A line's variant title is its options joined by " / ": three options of
-- up to 255 characters each make up to 771, and an order for a variant
-- whose options made more than 255 failed with "data too long" (a 500, on
-- every retry). The column keeps two length bytes either way, so MySQL 8
-- and MariaDB widen it in place, without rebuilding the table.
-- +goose Up
ALTER TABLE order_lines MODIFY variant_title VARCHAR(800) NOT NULL DEFAULT '';

-- +goose Down
-- Fails if a stored variant title is longer than 255 characters.
ALTER TABLE order_lines MODIFY variant_title VARCHAR(255) NOT NULL DEFAULT '';
