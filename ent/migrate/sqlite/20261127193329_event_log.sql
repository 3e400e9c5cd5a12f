-- +goose Up
-- disable the enforcement of foreign-keys constraints
PRAGMA foreign_keys = off;
-- create "new_webhook_events" table
CREATE TABLE `new_webhook_events` (`id` uuid NOT NULL, `provider` text NOT NULL, `dedupe_key` text NOT NULL, `event_type` text NOT NULL, `external_id` text NOT NULL, `provider_time` datetime NULL, `body` blob NOT NULL, `headers` json NULL, `remote_addr` text NOT NULL DEFAULT (''), `received_at` datetime NOT NULL, `verdict` text NOT NULL DEFAULT ('PENDING'), `verdict_reason` text NOT NULL DEFAULT (''), `instance_id` text NOT NULL DEFAULT (''), `work_item_id` text NOT NULL DEFAULT (''), `attempts` integer NOT NULL DEFAULT (0), `processed_at` datetime NULL, `trace_id` text NOT NULL DEFAULT (''), `traceparent` text NOT NULL DEFAULT (''), `size` integer NOT NULL DEFAULT (0), PRIMARY KEY (`id`));
-- copy rows from old table "webhook_events" to new temporary table "new_webhook_events"
INSERT INTO `new_webhook_events` (`id`, `provider`, `dedupe_key`, `event_type`, `external_id`, `provider_time`, `body`, `headers`, `remote_addr`, `received_at`, `verdict`, `verdict_reason`, `instance_id`, `work_item_id`, `attempts`, `processed_at`, `trace_id`) SELECT `id`, `provider`, `dedupe_key`, `event_type`, `external_id`, `provider_time`, `body`, `headers`, `remote_addr`, `received_at`, `verdict`, `verdict_reason`, `instance_id`, `work_item_id`, `attempts`, `processed_at`, `trace_id` FROM `webhook_events`;
-- drop "webhook_events" table after copying rows
DROP TABLE `webhook_events`;
-- rename temporary table "new_webhook_events" to "webhook_events"
ALTER TABLE `new_webhook_events` RENAME TO `webhook_events`;
-- create index "webhookevent_provider_dedupe_key" to table: "webhook_events"
CREATE UNIQUE INDEX `webhookevent_provider_dedupe_key` ON `webhook_events` (`provider`, `dedupe_key`);
-- create index "webhookevent_provider_external_id_received_at" to table: "webhook_events"
CREATE INDEX `webhookevent_provider_external_id_received_at` ON `webhook_events` (`provider`, `external_id`, `received_at`);
-- create index "webhookevent_verdict_received_at" to table: "webhook_events"
CREATE INDEX `webhookevent_verdict_received_at` ON `webhook_events` (`verdict`, `received_at`);
-- create index "webhookevent_received_at" to table: "webhook_events"
CREATE INDEX `webhookevent_received_at` ON `webhook_events` (`received_at`);
-- create index "webhookevent_instance_id" to table: "webhook_events"
CREATE INDEX `webhookevent_instance_id` ON `webhook_events` (`instance_id`);
-- create "event_log_entries" table
CREATE TABLE `event_log_entries` (`id` uuid NOT NULL, `event_id` uuid NOT NULL, `step` text NOT NULL, `message` text NOT NULL, `at` datetime NOT NULL, `elapsed_us` integer NOT NULL DEFAULT (0), `trace_id` text NOT NULL DEFAULT (''), `span_id` text NOT NULL DEFAULT (''), PRIMARY KEY (`id`));
-- create index "eventlogentry_event_id_id" to table: "event_log_entries"
CREATE INDEX `eventlogentry_event_id_id` ON `event_log_entries` (`event_id`, `id`);
-- create index "eventlogentry_at" to table: "event_log_entries"
CREATE INDEX `eventlogentry_at` ON `event_log_entries` (`at`);
-- enable back the enforcement of foreign-keys constraints
PRAGMA foreign_keys = on;

-- +goose Down
-- reverse: create index "eventlogentry_at" to table: "event_log_entries"
DROP INDEX `eventlogentry_at`;
-- reverse: create index "eventlogentry_event_id_id" to table: "event_log_entries"
DROP INDEX `eventlogentry_event_id_id`;
-- reverse: create "event_log_entries" table
DROP TABLE `event_log_entries`;
-- reverse: create index "webhookevent_instance_id" to table: "webhook_events"
DROP INDEX `webhookevent_instance_id`;
-- reverse: create index "webhookevent_received_at" to table: "webhook_events"
DROP INDEX `webhookevent_received_at`;
-- reverse: create index "webhookevent_verdict_received_at" to table: "webhook_events"
DROP INDEX `webhookevent_verdict_received_at`;
-- reverse: create index "webhookevent_provider_external_id_received_at" to table: "webhook_events"
DROP INDEX `webhookevent_provider_external_id_received_at`;
-- reverse: create index "webhookevent_provider_dedupe_key" to table: "webhook_events"
DROP INDEX `webhookevent_provider_dedupe_key`;
-- reverse: create "new_webhook_events" table
DROP TABLE `new_webhook_events`;
