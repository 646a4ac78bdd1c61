-- The counts of the catalog as it stands, from its listing rows. The price
-- bands' floors are catalog.priceBands (TestPriceBandsMatchBackfill).
-- +goose Up
INSERT INTO listing_facet_counts (category_id, facet, value, products)
SELECT category_id, 'brand', brand, COUNT(*)
FROM product_listing
GROUP BY category_id, brand;

INSERT INTO listing_facet_counts (category_id, facet, value, products)
SELECT category_id, 'price', band, COUNT(*)
FROM (SELECT category_id,
             CASE
                 WHEN price_min >= 1000000 THEN '1000000'
                 WHEN price_min >= 500000 THEN '500000'
                 WHEN price_min >= 250000 THEN '250000'
                 WHEN price_min >= 100000 THEN '100000'
                 WHEN price_min >= 50000 THEN '50000'
                 WHEN price_min >= 25000 THEN '25000'
                 WHEN price_min >= 10000 THEN '10000'
                 WHEN price_min >= 5000 THEN '5000'
                 WHEN price_min >= 2500 THEN '2500'
                 WHEN price_min >= 1000 THEN '1000'
                 WHEN price_min >= 500 THEN '500'
                 WHEN price_min >= 250 THEN '250'
                 WHEN price_min >= 100 THEN '100'
                 WHEN price_min >= 50 THEN '50'
                 WHEN price_min >= 25 THEN '25'
                 WHEN price_min >= 10 THEN '10'
                 ELSE '0'
             END AS band
      FROM product_listing) b
GROUP BY category_id, band;

-- +goose Down
-- Empty again, so that Up can count afresh.
DELETE FROM listing_facet_counts;
