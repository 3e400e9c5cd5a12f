-- +goose NO TRANSACTION
-- +goose Up
-- SQLite ignores PRAGMA foreign_keys inside a transaction, and dropping the old "instances"
-- with activities pointing at it fails while they are enforced: this migration turns them off
-- outside its own transaction.
-- disable the enforcement of foreign-keys constraints
PRAGMA foreign_keys = off;
BEGIN;
-- add column "archived_at" to table: "workflows"
ALTER TABLE `workflows` ADD COLUMN `archived_at` datetime NULL;
-- create "new_instances" table
CREATE TABLE `new_instances` (`id` uuid NOT NULL, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `workflow_id` uuid NOT NULL, `version` integer NOT NULL, `workflow_name` text NOT NULL, `state_key` text NOT NULL, `status` text NOT NULL, `form_data` json NOT NULL, `revision` integer NOT NULL DEFAULT (1), `started_by` uuid NOT NULL, `request_id` text NULL, `request_fingerprint` text NULL, `assignee_user_id` text NULL, `assignee_group_id` text NULL, `provider` text NULL, `external_id` text NULL, `reason` text NOT NULL DEFAULT (''), `ended_at` datetime NULL, `deadline` datetime NULL, `form_data_erased_at` datetime NULL, `documents_erased_at` datetime NULL, PRIMARY KEY (`id`));
-- copy rows from old table "instances" to new temporary table "new_instances"
INSERT INTO `new_instances` (`id`, `created_at`, `updated_at`, `workflow_id`, `version`, `workflow_name`, `state_key`, `status`, `form_data`, `revision`, `started_by`, `request_id`, `request_fingerprint`, `assignee_user_id`, `assignee_group_id`, `provider`, `external_id`, `reason`, `ended_at`) SELECT `id`, `created_at`, `updated_at`, `workflow_id`, `version`, `workflow_name`, `state_key`, `status`, `form_data`, `revision`, `started_by`, `request_id`, `request_fingerprint`, `assignee_user_id`, `assignee_group_id`, `provider`, `external_id`, `reason`, `ended_at` FROM `instances`;
-- drop "instances" table after copying rows
DROP TABLE `instances`;
-- rename temporary table "new_instances" to "instances"
ALTER TABLE `new_instances` RENAME TO `instances`;
-- create index "instance_started_by_request_id" to table: "instances"
CREATE UNIQUE INDEX `instance_started_by_request_id` ON `instances` (`started_by`, `request_id`);
-- create index "instance_assignee_user_id_id" to table: "instances"
CREATE INDEX `instance_assignee_user_id_id` ON `instances` (`assignee_user_id`, `id`);
-- create index "instance_assignee_group_id_id" to table: "instances"
CREATE INDEX `instance_assignee_group_id_id` ON `instances` (`assignee_group_id`, `id`);
-- create index "instance_workflow_id_id" to table: "instances"
CREATE INDEX `instance_workflow_id_id` ON `instances` (`workflow_id`, `id`);
-- create index "instance_workflow_id_state_key_id" to table: "instances"
CREATE INDEX `instance_workflow_id_state_key_id` ON `instances` (`workflow_id`, `state_key`, `id`);
-- create index "instance_status_id" to table: "instances"
CREATE INDEX `instance_status_id` ON `instances` (`status`, `id`);
-- create index "instance_state_key_id" to table: "instances"
CREATE INDEX `instance_state_key_id` ON `instances` (`state_key`, `id`);
-- create index "instance_started_by_id" to table: "instances"
CREATE INDEX `instance_started_by_id` ON `instances` (`started_by`, `id`);
-- create index "instance_provider_external_id" to table: "instances"
CREATE INDEX `instance_provider_external_id` ON `instances` (`provider`, `external_id`);
-- create index "instance_created_at_id" to table: "instances"
CREATE INDEX `instance_created_at_id` ON `instances` (`created_at`, `id`);
-- create index "instance_deadline" to table: "instances"
CREATE INDEX `instance_deadline` ON `instances` (`deadline`);
-- create index "instance_ended_at" to table: "instances"
CREATE INDEX `instance_ended_at` ON `instances` (`ended_at`);
-- add column "deactivated_at" to table: "users"
ALTER TABLE `users` ADD COLUMN `deactivated_at` datetime NULL;
COMMIT;
-- enable back the enforcement of foreign-keys constraints
PRAGMA foreign_keys = on;

-- +goose Down
-- reverse: add column "deactivated_at" to table: "users"
ALTER TABLE `users` DROP COLUMN `deactivated_at`;
-- reverse: create index "instance_ended_at" to table: "instances"
DROP INDEX `instance_ended_at`;
-- reverse: create index "instance_deadline" to table: "instances"
DROP INDEX `instance_deadline`;
-- reverse: create index "instance_created_at_id" to table: "instances"
DROP INDEX `instance_created_at_id`;
-- reverse: create index "instance_provider_external_id" to table: "instances"
DROP INDEX `instance_provider_external_id`;
-- reverse: create index "instance_started_by_id" to table: "instances"
DROP INDEX `instance_started_by_id`;
-- reverse: create index "instance_state_key_id" to table: "instances"
DROP INDEX `instance_state_key_id`;
-- reverse: create index "instance_status_id" to table: "instances"
DROP INDEX `instance_status_id`;
-- reverse: create index "instance_workflow_id_state_key_id" to table: "instances"
DROP INDEX `instance_workflow_id_state_key_id`;
-- reverse: create index "instance_workflow_id_id" to table: "instances"
DROP INDEX `instance_workflow_id_id`;
-- reverse: create index "instance_assignee_group_id_id" to table: "instances"
DROP INDEX `instance_assignee_group_id_id`;
-- reverse: create index "instance_assignee_user_id_id" to table: "instances"
DROP INDEX `instance_assignee_user_id_id`;
-- reverse: create index "instance_started_by_request_id" to table: "instances"
DROP INDEX `instance_started_by_request_id`;
-- reverse: create "new_instances" table
DROP TABLE `new_instances`;
-- reverse: add column "archived_at" to table: "workflows"
ALTER TABLE `workflows` DROP COLUMN `archived_at`;
