-- +goose Up
-- create index "instance_workflow_id_status_id" to table: "instances"
CREATE INDEX "instance_workflow_id_status_id" ON "instances" ("workflow_id", "status", "id");

-- +goose Down
-- reverse: create index "instance_workflow_id_status_id" to table: "instances"
DROP INDEX "instance_workflow_id_status_id";
