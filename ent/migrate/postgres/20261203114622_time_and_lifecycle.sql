-- +goose Up
-- modify "instances" table
ALTER TABLE "instances" ADD COLUMN "deadline" timestamptz NULL, ADD COLUMN "form_data_erased_at" timestamptz NULL, ADD COLUMN "documents_erased_at" timestamptz NULL;
-- create index "instance_deadline" to table: "instances"
CREATE INDEX "instance_deadline" ON "instances" ("deadline");
-- create index "instance_ended_at" to table: "instances"
CREATE INDEX "instance_ended_at" ON "instances" ("ended_at");
-- modify "users" table
ALTER TABLE "users" ADD COLUMN "deactivated_at" timestamptz NULL;
-- modify "workflows" table
ALTER TABLE "workflows" ADD COLUMN "archived_at" timestamptz NULL;

-- +goose Down
-- reverse: modify "workflows" table
ALTER TABLE "workflows" DROP COLUMN "archived_at";
-- reverse: modify "users" table
ALTER TABLE "users" DROP COLUMN "deactivated_at";
-- reverse: create index "instance_ended_at" to table: "instances"
DROP INDEX "instance_ended_at";
-- reverse: create index "instance_deadline" to table: "instances"
DROP INDEX "instance_deadline";
-- reverse: modify "instances" table
ALTER TABLE "instances" DROP COLUMN "documents_erased_at", DROP COLUMN "form_data_erased_at", DROP COLUMN "deadline";
