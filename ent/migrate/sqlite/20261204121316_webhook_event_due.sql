-- +goose Up
-- disable the enforcement of foreign-keys constraints
PRAGMA foreign_keys = off;
-- create "new_webhook_events" table
CREATE TABLE `new_webhook_events` (`id` uuid NOT NULL, `provider` text NOT NULL, `dedupe_key` text NOT NULL, `event_type` text NOT NULL, `external_id` text NOT NULL, `provider_time` datetime NULL, `body` blob NOT NULL, `headers` json NULL, `remote_addr` text NOT NULL DEFAULT (''), `received_at` datetime NOT NULL, `verdict` text NOT NULL DEFAULT ('PENDING'), `verdict_reason` text NOT NULL DEFAULT (''), `instance_id` text NOT NULL DEFAULT (''), `work_item_id` text NOT NULL DEFAULT (''), `attempts` integer NOT NULL DEFAULT (0), `processed_at` datetime NULL, `trace_id` text NOT NULL DEFAULT (''), `traceparent` text NOT NULL DEFAULT (''), `size` integer NOT NULL DEFAULT (0), `due_at` datetime NULL, PRIMARY KEY (`id`));
-- copy rows from old table "webhook_events" to new temporary table "new_webhook_events"
INSERT INTO `new_webhook_events` (`id`, `provider`, `dedupe_key`, `event_type`, `external_id`, `provider_time`, `body`, `headers`, `remote_addr`, `received_at`, `verdict`, `verdict_reason`, `instance_id`, `work_item_id`, `attempts`, `processed_at`, `trace_id`, `traceparent`, `size`) SELECT `id`, `provider`, `dedupe_key`, `event_type`, `external_id`, `provider_time`, `body`, `headers`, `remote_addr`, `received_at`, `verdict`, `verdict_reason`, `instance_id`, `work_item_id`, `attempts`, `processed_at`, `trace_id`, `traceparent`, `size` FROM `webhook_events`;
-- drop "webhook_events" table after copying rows
DROP TABLE `webhook_events`;
-- rename temporary table "new_webhook_events" to "webhook_events"
ALTER TABLE `new_webhook_events` RENAME TO `webhook_events`;
-- create index "webhookevent_provider_dedupe_key" to table: "webhook_events"
CREATE UNIQUE INDEX `webhookevent_provider_dedupe_key` ON `webhook_events` (`provider`, `dedupe_key`);
-- create index "webhookevent_external_id_provider_received_at" to table: "webhook_events"
CREATE INDEX `webhookevent_external_id_provider_received_at` ON `webhook_events` (`external_id`, `provider`, `received_at`);
-- create index "webhookevent_verdict_received_at" to table: "webhook_events"
CREATE INDEX `webhookevent_verdict_received_at` ON `webhook_events` (`verdict`, `received_at`);
-- create index "webhookevent_received_at" to table: "webhook_events"
CREATE INDEX `webhookevent_received_at` ON `webhook_events` (`received_at`);
-- create index "webhookevent_instance_id" to table: "webhook_events"
CREATE INDEX `webhookevent_instance_id` ON `webhook_events` (`instance_id`);
-- create index "webhookevent_due_at" to table: "webhook_events"
CREATE INDEX `webhookevent_due_at` ON `webhook_events` (`due_at`) WHERE due_at IS NOT NULL;
-- enable back the enforcement of foreign-keys constraints
PRAGMA foreign_keys = on;

-- +goose Down
-- reverse: create index "webhookevent_due_at" to table: "webhook_events"
DROP INDEX `webhookevent_due_at`;
-- reverse: create index "webhookevent_instance_id" to table: "webhook_events"
DROP INDEX `webhookevent_instance_id`;
-- reverse: create index "webhookevent_received_at" to table: "webhook_events"
DROP INDEX `webhookevent_received_at`;
-- reverse: create index "webhookevent_verdict_received_at" to table: "webhook_events"
DROP INDEX `webhookevent_verdict_received_at`;
-- reverse: create index "webhookevent_external_id_provider_received_at" to table: "webhook_events"
DROP INDEX `webhookevent_external_id_provider_received_at`;
-- reverse: create index "webhookevent_provider_dedupe_key" to table: "webhook_events"
DROP INDEX `webhookevent_provider_dedupe_key`;
-- reverse: create "new_webhook_events" table
DROP TABLE `new_webhook_events`;
