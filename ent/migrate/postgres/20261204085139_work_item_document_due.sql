-- +goose Up
-- modify "work_items" table
ALTER TABLE "work_items" ADD COLUMN "document_due_at" timestamptz NULL;
-- create index "workitem_document_due_at" to table: "work_items"
CREATE INDEX "workitem_document_due_at" ON "work_items" ("document_due_at") WHERE (document_due_at IS NOT NULL);

-- +goose Down
-- reverse: create index "workitem_document_due_at" to table: "work_items"
DROP INDEX "workitem_document_due_at";
-- reverse: modify "work_items" table
ALTER TABLE "work_items" DROP COLUMN "document_due_at";
