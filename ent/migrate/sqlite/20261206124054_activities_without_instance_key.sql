-- +goose Up
-- disable the enforcement of foreign-keys constraints
PRAGMA foreign_keys = off;
-- create "new_activities" table
CREATE TABLE `new_activities` (`id` uuid NOT NULL, `instance_id` uuid NOT NULL, `seq` integer NOT NULL, `kind` text NOT NULL, `actor_id` text NOT NULL DEFAULT (''), `from_state` text NOT NULL DEFAULT (''), `to_state` text NOT NULL DEFAULT (''), `transition_key` text NOT NULL DEFAULT (''), `assignee_user_id` text NOT NULL DEFAULT (''), `assignee_group_id` text NOT NULL DEFAULT (''), `details` json NULL, `message` text NOT NULL DEFAULT (''), `created_at` datetime NOT NULL, PRIMARY KEY (`id`));
-- copy rows from old table "activities" to new temporary table "new_activities"
INSERT INTO `new_activities` (`id`, `instance_id`, `seq`, `kind`, `actor_id`, `from_state`, `to_state`, `transition_key`, `assignee_user_id`, `assignee_group_id`, `details`, `message`, `created_at`) SELECT `id`, `instance_id`, `seq`, `kind`, `actor_id`, `from_state`, `to_state`, `transition_key`, `assignee_user_id`, `assignee_group_id`, `details`, `message`, `created_at` FROM `activities`;
-- drop "activities" table after copying rows
DROP TABLE `activities`;
-- rename temporary table "new_activities" to "activities"
ALTER TABLE `new_activities` RENAME TO `activities`;
-- create index "activity_instance_id_seq" to table: "activities"
CREATE UNIQUE INDEX `activity_instance_id_seq` ON `activities` (`instance_id`, `seq`);
-- enable back the enforcement of foreign-keys constraints
PRAGMA foreign_keys = on;

-- +goose Down
-- reverse: create index "activity_instance_id_seq" to table: "activities"
DROP INDEX `activity_instance_id_seq`;
-- reverse: create "new_activities" table
DROP TABLE `new_activities`;
