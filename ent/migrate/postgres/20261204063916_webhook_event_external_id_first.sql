-- +goose Up
-- drop index "webhookevent_provider_external_id_received_at" from table: "webhook_events"
DROP INDEX "webhookevent_provider_external_id_received_at";
-- create index "webhookevent_external_id_provider_received_at" to table: "webhook_events"
CREATE INDEX "webhookevent_external_id_provider_received_at" ON "webhook_events" ("external_id", "provider", "received_at");

-- +goose Down
-- reverse: create index "webhookevent_external_id_provider_received_at" to table: "webhook_events"
DROP INDEX "webhookevent_external_id_provider_received_at";
-- reverse: drop index "webhookevent_provider_external_id_received_at" from table: "webhook_events"
CREATE INDEX "webhookevent_provider_external_id_received_at" ON "webhook_events" ("provider", "external_id", "received_at");
