-- +goose Up
-- modify "work_items" table
ALTER TABLE "work_items" ADD COLUMN "last_checked_at" timestamptz NULL;
-- create index "workitem_status_last_checked_at" to table: "work_items"
CREATE INDEX "workitem_status_last_checked_at" ON "work_items" ("status", "last_checked_at");

-- +goose Down
-- reverse: create index "workitem_status_last_checked_at" to table: "work_items"
DROP INDEX "workitem_status_last_checked_at";
-- reverse: modify "work_items" table
ALTER TABLE "work_items" DROP COLUMN "last_checked_at";
