-- +goose Up
-- disable the enforcement of foreign-keys constraints
PRAGMA foreign_keys = off;
-- create "new_work_items" table
CREATE TABLE `new_work_items` (`id` uuid NOT NULL, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `instance_id` uuid NOT NULL, `state_key` text NOT NULL, `entered_revision` integer NOT NULL, `provider` text NOT NULL, `external_id` text NULL, `status` text NOT NULL, `provider_status` text NOT NULL DEFAULT (''), `outcome` text NOT NULL DEFAULT (''), `error` text NOT NULL DEFAULT (''), `last_event_at` datetime NULL, `traceparent` text NOT NULL DEFAULT (''), `resolved_at` datetime NULL, `revision` integer NOT NULL DEFAULT (1), `last_checked_at` datetime NULL, `document_due_at` datetime NULL, `create_due_at` datetime NULL, PRIMARY KEY (`id`));
-- copy rows from old table "work_items" to new temporary table "new_work_items"
INSERT INTO `new_work_items` (`id`, `created_at`, `updated_at`, `instance_id`, `state_key`, `entered_revision`, `provider`, `external_id`, `status`, `provider_status`, `outcome`, `error`, `last_event_at`, `traceparent`, `resolved_at`, `revision`, `last_checked_at`, `document_due_at`) SELECT `id`, `created_at`, `updated_at`, `instance_id`, `state_key`, `entered_revision`, `provider`, `external_id`, `status`, `provider_status`, `outcome`, `error`, `last_event_at`, `traceparent`, `resolved_at`, `revision`, `last_checked_at`, `document_due_at` FROM `work_items`;
-- drop "work_items" table after copying rows
DROP TABLE `work_items`;
-- rename temporary table "new_work_items" to "work_items"
ALTER TABLE `new_work_items` RENAME TO `work_items`;
-- create index "workitem_provider_external_id" to table: "work_items"
CREATE UNIQUE INDEX `workitem_provider_external_id` ON `work_items` (`provider`, `external_id`);
-- create index "workitem_instance_id_created_at" to table: "work_items"
CREATE INDEX `workitem_instance_id_created_at` ON `work_items` (`instance_id`, `created_at`);
-- create index "workitem_status_provider" to table: "work_items"
CREATE INDEX `workitem_status_provider` ON `work_items` (`status`, `provider`) WHERE resolved_at IS NULL;
-- create index "workitem_status_last_checked_at" to table: "work_items"
CREATE INDEX `workitem_status_last_checked_at` ON `work_items` (`status`, `last_checked_at`) WHERE resolved_at IS NULL;
-- create index "workitem_document_due_at" to table: "work_items"
CREATE INDEX `workitem_document_due_at` ON `work_items` (`document_due_at`) WHERE document_due_at IS NOT NULL;
-- create index "workitem_create_due_at" to table: "work_items"
CREATE INDEX `workitem_create_due_at` ON `work_items` (`create_due_at`) WHERE create_due_at IS NOT NULL;
-- enable back the enforcement of foreign-keys constraints
PRAGMA foreign_keys = on;

-- +goose Down
-- reverse: create index "workitem_create_due_at" to table: "work_items"
DROP INDEX `workitem_create_due_at`;
-- reverse: create index "workitem_document_due_at" to table: "work_items"
DROP INDEX `workitem_document_due_at`;
-- reverse: create index "workitem_status_last_checked_at" to table: "work_items"
DROP INDEX `workitem_status_last_checked_at`;
-- reverse: create index "workitem_status_provider" to table: "work_items"
DROP INDEX `workitem_status_provider`;
-- reverse: create index "workitem_instance_id_created_at" to table: "work_items"
DROP INDEX `workitem_instance_id_created_at`;
-- reverse: create index "workitem_provider_external_id" to table: "work_items"
DROP INDEX `workitem_provider_external_id`;
-- reverse: create "new_work_items" table
DROP TABLE `new_work_items`;
