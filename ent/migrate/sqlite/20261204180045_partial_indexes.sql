-- +goose Up
-- Written by hand: Atlas would copy the whole instances table to change its indexes' predicates,
-- which SQLite does not need (and which fails on the activities' foreign key inside goose's
-- transaction, where PRAGMA foreign_keys cannot be changed).
-- the indexes of mostly NULL columns, partial
DROP INDEX `instance_started_by_request_id`;
CREATE UNIQUE INDEX `instance_started_by_request_id` ON `instances` (`started_by`, `request_id`) WHERE request_id IS NOT NULL;
DROP INDEX `instance_assignee_user_id_id`;
CREATE INDEX `instance_assignee_user_id_id` ON `instances` (`assignee_user_id`, `id`) WHERE assignee_user_id IS NOT NULL;
DROP INDEX `instance_assignee_group_id_id`;
CREATE INDEX `instance_assignee_group_id_id` ON `instances` (`assignee_group_id`, `id`) WHERE assignee_group_id IS NOT NULL;
DROP INDEX `instance_deadline`;
CREATE INDEX `instance_deadline` ON `instances` (`deadline`) WHERE deadline IS NOT NULL;
DROP INDEX `instance_ended_at`;
CREATE INDEX `instance_ended_at` ON `instances` (`ended_at`) WHERE ended_at IS NOT NULL;
-- drop index "activity_instance_id_actor_id" from table: "activities"
DROP INDEX `activity_instance_id_actor_id`;

-- +goose Down
DROP INDEX `instance_ended_at`;
CREATE INDEX `instance_ended_at` ON `instances` (`ended_at`);
DROP INDEX `instance_deadline`;
CREATE INDEX `instance_deadline` ON `instances` (`deadline`);
DROP INDEX `instance_assignee_group_id_id`;
CREATE INDEX `instance_assignee_group_id_id` ON `instances` (`assignee_group_id`, `id`);
DROP INDEX `instance_assignee_user_id_id`;
CREATE INDEX `instance_assignee_user_id_id` ON `instances` (`assignee_user_id`, `id`);
DROP INDEX `instance_started_by_request_id`;
CREATE UNIQUE INDEX `instance_started_by_request_id` ON `instances` (`started_by`, `request_id`);
CREATE INDEX `activity_instance_id_actor_id` ON `activities` (`instance_id`, `actor_id`);
