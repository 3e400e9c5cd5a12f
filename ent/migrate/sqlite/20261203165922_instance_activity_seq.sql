-- +goose Up
-- add column "activity_seq" to table: "instances"
ALTER TABLE `instances` ADD COLUMN `activity_seq` integer NOT NULL DEFAULT (0);
-- number new activities after each instance's newest one
UPDATE `instances` SET `activity_seq` = COALESCE((SELECT max(`seq`) FROM `activities` WHERE `activities`.`instance_id` = `instances`.`id`), 0);

-- +goose Down
-- reverse: add column "activity_seq" to table: "instances"
ALTER TABLE `instances` DROP COLUMN `activity_seq`;
