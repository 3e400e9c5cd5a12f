-- +goose Up
-- modify "work_items" table
ALTER TABLE "work_items" ADD COLUMN "create_due_at" timestamptz NULL;
-- create index "workitem_create_due_at" to table: "work_items"
CREATE INDEX "workitem_create_due_at" ON "work_items" ("create_due_at") WHERE (create_due_at IS NOT NULL);

-- +goose Down
-- reverse: create index "workitem_create_due_at" to table: "work_items"
DROP INDEX "workitem_create_due_at";
-- reverse: modify "work_items" table
ALTER TABLE "work_items" DROP COLUMN "create_due_at";
