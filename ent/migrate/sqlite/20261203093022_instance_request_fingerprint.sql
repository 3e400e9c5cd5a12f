-- +goose Up
-- add column "request_fingerprint" to table: "instances"
ALTER TABLE `instances` ADD COLUMN `request_fingerprint` text NULL;

-- +goose Down
-- reverse: add column "request_fingerprint" to table: "instances"
ALTER TABLE `instances` DROP COLUMN `request_fingerprint`;
