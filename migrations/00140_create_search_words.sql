-- The storefront's search index: one row per active product and word of its
-- title, brand, SKUs and description (see catalog.ProductWords for what a
-- word is and how it is scored), so that the most relevant products for a
-- word, under any filter, are one index range walked in rank order that
-- stops after a page. word is the lower-cased word's UTF-8, compared byte
-- for byte. Rewritten by catalog.SyncPages in the same transaction as every
-- write that changes what a product page shows.
-- +goose Up
CREATE TABLE search_words (
    product_id BIGINT UNSIGNED NOT NULL,
    word       VARBINARY(84) NOT NULL,
    score      SMALLINT UNSIGNED NOT NULL,
    PRIMARY KEY (product_id, word),
    KEY search_words_rank (word, score, product_id)
) ENGINE=InnoDB;

-- +goose Down
DROP TABLE search_words;
