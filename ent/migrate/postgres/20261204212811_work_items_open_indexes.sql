-- +goose Up
-- drop index "workitem_status_last_checked_at" from table: "work_items"
DROP INDEX "workitem_status_last_checked_at";
-- drop index "workitem_status_provider" from table: "work_items"
DROP INDEX "workitem_status_provider";
-- create index "workitem_status_last_checked_at" to table: "work_items"
CREATE INDEX "workitem_status_last_checked_at" ON "work_items" ("status", "last_checked_at") WHERE (resolved_at IS NULL);
-- create index "workitem_status_provider" to table: "work_items"
CREATE INDEX "workitem_status_provider" ON "work_items" ("status", "provider") WHERE (resolved_at IS NULL);

-- +goose Down
-- reverse: create index "workitem_status_provider" to table: "work_items"
DROP INDEX "workitem_status_provider";
-- reverse: create index "workitem_status_last_checked_at" to table: "work_items"
DROP INDEX "workitem_status_last_checked_at";
-- reverse: drop index "workitem_status_provider" from table: "work_items"
CREATE INDEX "workitem_status_provider" ON "work_items" ("status", "provider");
-- reverse: drop index "workitem_status_last_checked_at" from table: "work_items"
CREATE INDEX "workitem_status_last_checked_at" ON "work_items" ("status", "last_checked_at");
