-- A row of many events (an import batch's) is stored compressed: data_z
-- holds its text in the form of COMPRESS() (the length as four bytes, low
-- byte first, then a zlib stream), and data is then ''. The text of such a
-- row is some thirty times the size of an order's and compresses about
-- twentyfold, and the server's cost of an import's events was the bytes
-- themselves. UNCOMPRESS(data_z) reads a row in SQL. A row of a few events
-- keeps its text in data, with data_z NULL, as before.
-- +goose Up
ALTER TABLE events ADD COLUMN data_z MEDIUMBLOB NULL AFTER data;

-- +goose Down
UPDATE events SET data = CONVERT(UNCOMPRESS(data_z) USING utf8mb4), data_z = NULL WHERE data_z IS NOT NULL;
ALTER TABLE events DROP COLUMN data_z;
