-- +goose Up
-- create "settings" table
CREATE TABLE "settings" ("id" character varying NOT NULL, "plain" jsonb NULL, "secret_box" bytea NULL, "revision" bigint NOT NULL DEFAULT 1, "updated_at" timestamptz NOT NULL, "updated_by" character varying NOT NULL DEFAULT '', PRIMARY KEY ("id"));
-- create "signed_documents" table
CREATE TABLE "signed_documents" ("id" uuid NOT NULL, "instance_id" uuid NOT NULL, "work_item_id" uuid NOT NULL, "content_type" character varying NOT NULL, "name" character varying NOT NULL, "content" bytea NOT NULL, "sha256" character varying NOT NULL, "created_at" timestamptz NOT NULL, PRIMARY KEY ("id"));
-- create index "signed_documents_work_item_id_key" to table: "signed_documents"
CREATE UNIQUE INDEX "signed_documents_work_item_id_key" ON "signed_documents" ("work_item_id");
-- create index "signeddocument_instance_id" to table: "signed_documents"
CREATE INDEX "signeddocument_instance_id" ON "signed_documents" ("instance_id");
-- create "webhook_events" table
CREATE TABLE "webhook_events" ("id" uuid NOT NULL, "provider" character varying NOT NULL, "dedupe_key" character varying NOT NULL, "event_type" character varying NOT NULL, "external_id" character varying NOT NULL, "provider_time" timestamptz NULL, "body" bytea NOT NULL, "headers" jsonb NULL, "remote_addr" character varying NOT NULL DEFAULT '', "received_at" timestamptz NOT NULL, "verdict" character varying NOT NULL DEFAULT 'PENDING', "verdict_reason" text NOT NULL DEFAULT '', "instance_id" character varying NOT NULL DEFAULT '', "work_item_id" character varying NOT NULL DEFAULT '', "attempts" bigint NOT NULL DEFAULT 0, "processed_at" timestamptz NULL, "trace_id" character varying NOT NULL DEFAULT '', PRIMARY KEY ("id"));
-- create index "webhookevent_provider_dedupe_key" to table: "webhook_events"
CREATE UNIQUE INDEX "webhookevent_provider_dedupe_key" ON "webhook_events" ("provider", "dedupe_key");
-- create index "webhookevent_provider_external_id_received_at" to table: "webhook_events"
CREATE INDEX "webhookevent_provider_external_id_received_at" ON "webhook_events" ("provider", "external_id", "received_at");
-- create index "webhookevent_received_at" to table: "webhook_events"
CREATE INDEX "webhookevent_received_at" ON "webhook_events" ("received_at");
-- create index "webhookevent_verdict_received_at" to table: "webhook_events"
CREATE INDEX "webhookevent_verdict_received_at" ON "webhook_events" ("verdict", "received_at");
-- create "work_items" table
CREATE TABLE "work_items" ("id" uuid NOT NULL, "created_at" timestamptz NOT NULL, "updated_at" timestamptz NOT NULL, "instance_id" uuid NOT NULL, "state_key" character varying NOT NULL, "entered_revision" bigint NOT NULL, "provider" character varying NOT NULL, "external_id" character varying NULL, "status" character varying NOT NULL, "provider_status" character varying NOT NULL DEFAULT '', "outcome" character varying NOT NULL DEFAULT '', "error" text NOT NULL DEFAULT '', "last_event_at" timestamptz NULL, "traceparent" character varying NOT NULL DEFAULT '', "resolved_at" timestamptz NULL, "revision" bigint NOT NULL DEFAULT 1, PRIMARY KEY ("id"));
-- create index "workitem_instance_id_created_at" to table: "work_items"
CREATE INDEX "workitem_instance_id_created_at" ON "work_items" ("instance_id", "created_at");
-- create index "workitem_provider_external_id" to table: "work_items"
CREATE UNIQUE INDEX "workitem_provider_external_id" ON "work_items" ("provider", "external_id");
-- create index "workitem_status_provider" to table: "work_items"
CREATE INDEX "workitem_status_provider" ON "work_items" ("status", "provider");

-- +goose Down
-- reverse: create index "workitem_status_provider" to table: "work_items"
DROP INDEX "workitem_status_provider";
-- reverse: create index "workitem_provider_external_id" to table: "work_items"
DROP INDEX "workitem_provider_external_id";
-- reverse: create index "workitem_instance_id_created_at" to table: "work_items"
DROP INDEX "workitem_instance_id_created_at";
-- reverse: create "work_items" table
DROP TABLE "work_items";
-- reverse: create index "webhookevent_verdict_received_at" to table: "webhook_events"
DROP INDEX "webhookevent_verdict_received_at";
-- reverse: create index "webhookevent_received_at" to table: "webhook_events"
DROP INDEX "webhookevent_received_at";
-- reverse: create index "webhookevent_provider_external_id_received_at" to table: "webhook_events"
DROP INDEX "webhookevent_provider_external_id_received_at";
-- reverse: create index "webhookevent_provider_dedupe_key" to table: "webhook_events"
DROP INDEX "webhookevent_provider_dedupe_key";
-- reverse: create "webhook_events" table
DROP TABLE "webhook_events";
-- reverse: create index "signeddocument_instance_id" to table: "signed_documents"
DROP INDEX "signeddocument_instance_id";
-- reverse: create index "signed_documents_work_item_id_key" to table: "signed_documents"
DROP INDEX "signed_documents_work_item_id_key";
-- reverse: create "signed_documents" table
DROP TABLE "signed_documents";
-- reverse: create "settings" table
DROP TABLE "settings";
