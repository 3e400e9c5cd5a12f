-- +goose Up
-- The tables in the order the statements that read several take them (instances, then
-- activities), so that a replica's statement never holds one that this waits for while it
-- waits for another that this holds.
-- drop index "instance_assignee_group_id_id" from table: "instances"
DROP INDEX "instance_assignee_group_id_id";
-- drop index "instance_assignee_user_id_id" from table: "instances"
DROP INDEX "instance_assignee_user_id_id";
-- drop index "instance_deadline" from table: "instances"
DROP INDEX "instance_deadline";
-- drop index "instance_ended_at" from table: "instances"
DROP INDEX "instance_ended_at";
-- drop index "instance_started_by_request_id" from table: "instances"
DROP INDEX "instance_started_by_request_id";
-- create index "instance_assignee_group_id_id" to table: "instances"
CREATE INDEX "instance_assignee_group_id_id" ON "instances" ("assignee_group_id", "id") WHERE (assignee_group_id IS NOT NULL);
-- create index "instance_assignee_user_id_id" to table: "instances"
CREATE INDEX "instance_assignee_user_id_id" ON "instances" ("assignee_user_id", "id") WHERE (assignee_user_id IS NOT NULL);
-- create index "instance_deadline" to table: "instances"
CREATE INDEX "instance_deadline" ON "instances" ("deadline") WHERE (deadline IS NOT NULL);
-- create index "instance_ended_at" to table: "instances"
CREATE INDEX "instance_ended_at" ON "instances" ("ended_at") WHERE (ended_at IS NOT NULL);
-- create index "instance_started_by_request_id" to table: "instances"
CREATE UNIQUE INDEX "instance_started_by_request_id" ON "instances" ("started_by", "request_id") WHERE (request_id IS NOT NULL);
-- drop index "activity_instance_id_actor_id" from table: "activities"
DROP INDEX "activity_instance_id_actor_id";

-- +goose Down
-- reverse: create index "instance_started_by_request_id" to table: "instances"
DROP INDEX "instance_started_by_request_id";
-- reverse: create index "instance_ended_at" to table: "instances"
DROP INDEX "instance_ended_at";
-- reverse: create index "instance_deadline" to table: "instances"
DROP INDEX "instance_deadline";
-- reverse: create index "instance_assignee_user_id_id" to table: "instances"
DROP INDEX "instance_assignee_user_id_id";
-- reverse: create index "instance_assignee_group_id_id" to table: "instances"
DROP INDEX "instance_assignee_group_id_id";
-- reverse: drop index "instance_started_by_request_id" from table: "instances"
CREATE UNIQUE INDEX "instance_started_by_request_id" ON "instances" ("started_by", "request_id");
-- reverse: drop index "instance_ended_at" from table: "instances"
CREATE INDEX "instance_ended_at" ON "instances" ("ended_at");
-- reverse: drop index "instance_deadline" from table: "instances"
CREATE INDEX "instance_deadline" ON "instances" ("deadline");
-- reverse: drop index "instance_assignee_user_id_id" from table: "instances"
CREATE INDEX "instance_assignee_user_id_id" ON "instances" ("assignee_user_id", "id");
-- reverse: drop index "instance_assignee_group_id_id" from table: "instances"
CREATE INDEX "instance_assignee_group_id_id" ON "instances" ("assignee_group_id", "id");
-- reverse: drop index "activity_instance_id_actor_id" from table: "activities"
CREATE INDEX "activity_instance_id_actor_id" ON "activities" ("instance_id", "actor_id");
