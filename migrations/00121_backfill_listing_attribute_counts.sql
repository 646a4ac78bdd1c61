-- The counts of the catalog as it stands: every listing row joined to its
-- product's attributes.
-- +goose Up
INSERT INTO listing_attribute_counts (category_id, name, value, products)
SELECT pl.category_id, a.name, a.value, COUNT(*)
FROM product_listing pl
JOIN product_attributes a ON a.product_id = pl.product_id
GROUP BY pl.category_id, a.name, a.value;

-- +goose Down
-- Nothing to undo: the Down of 00120 drops the table.
