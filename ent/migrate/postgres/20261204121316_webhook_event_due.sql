-- +goose Up
-- modify "webhook_events" table
ALTER TABLE "webhook_events" ADD COLUMN "due_at" timestamptz NULL;
-- create index "webhookevent_due_at" to table: "webhook_events"
CREATE INDEX "webhookevent_due_at" ON "webhook_events" ("due_at") WHERE (due_at IS NOT NULL);

-- +goose Down
-- reverse: create index "webhookevent_due_at" to table: "webhook_events"
DROP INDEX "webhookevent_due_at";
-- reverse: modify "webhook_events" table
ALTER TABLE "webhook_events" DROP COLUMN "due_at";
