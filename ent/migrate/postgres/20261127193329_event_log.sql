-- +goose Up
-- modify "webhook_events" table
ALTER TABLE "webhook_events" ADD COLUMN "traceparent" character varying NOT NULL DEFAULT '', ADD COLUMN "size" bigint NOT NULL DEFAULT 0;
-- create index "webhookevent_instance_id" to table: "webhook_events"
CREATE INDEX "webhookevent_instance_id" ON "webhook_events" ("instance_id");
-- create "event_log_entries" table
CREATE TABLE "event_log_entries" ("id" uuid NOT NULL, "event_id" uuid NOT NULL, "step" character varying NOT NULL, "message" text NOT NULL, "at" timestamptz NOT NULL, "elapsed_us" bigint NOT NULL DEFAULT 0, "trace_id" character varying NOT NULL DEFAULT '', "span_id" character varying NOT NULL DEFAULT '', PRIMARY KEY ("id"));
-- create index "eventlogentry_at" to table: "event_log_entries"
CREATE INDEX "eventlogentry_at" ON "event_log_entries" ("at");
-- create index "eventlogentry_event_id_id" to table: "event_log_entries"
CREATE INDEX "eventlogentry_event_id_id" ON "event_log_entries" ("event_id", "id");

-- +goose Down
-- reverse: create index "eventlogentry_event_id_id" to table: "event_log_entries"
DROP INDEX "eventlogentry_event_id_id";
-- reverse: create index "eventlogentry_at" to table: "event_log_entries"
DROP INDEX "eventlogentry_at";
-- reverse: create "event_log_entries" table
DROP TABLE "event_log_entries";
-- reverse: create index "webhookevent_instance_id" to table: "webhook_events"
DROP INDEX "webhookevent_instance_id";
-- reverse: modify "webhook_events" table
ALTER TABLE "webhook_events" DROP COLUMN "size", DROP COLUMN "traceparent";
