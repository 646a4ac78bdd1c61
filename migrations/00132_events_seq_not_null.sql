-- seq 0: not yet sequenced (see 00130).
-- +goose Up
ALTER TABLE events MODIFY seq BIGINT UNSIGNED NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE events MODIFY seq BIGINT UNSIGNED NULL;
