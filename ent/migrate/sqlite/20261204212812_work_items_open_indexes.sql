-- +goose Up
-- Written by hand: Atlas would copy the whole work_items table to change its indexes'
-- predicates, which SQLite does not need (and which fails on the foreign keys to it inside
-- goose's transaction, where PRAGMA foreign_keys cannot be changed).
-- the indexes of open work items, partial
DROP INDEX `workitem_status_last_checked_at`;
CREATE INDEX `workitem_status_last_checked_at` ON `work_items` (`status`, `last_checked_at`) WHERE resolved_at IS NULL;
DROP INDEX `workitem_status_provider`;
CREATE INDEX `workitem_status_provider` ON `work_items` (`status`, `provider`) WHERE resolved_at IS NULL;

-- +goose Down
DROP INDEX `workitem_status_provider`;
CREATE INDEX `workitem_status_provider` ON `work_items` (`status`, `provider`);
DROP INDEX `workitem_status_last_checked_at`;
CREATE INDEX `workitem_status_last_checked_at` ON `work_items` (`status`, `last_checked_at`);
