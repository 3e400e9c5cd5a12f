-- +goose Up
-- create "instances" table
CREATE TABLE "instances" ("id" uuid NOT NULL, "created_at" timestamptz NOT NULL, "updated_at" timestamptz NOT NULL, "workflow_id" uuid NOT NULL, "version" integer NOT NULL, "workflow_name" character varying NOT NULL, "state_key" character varying NOT NULL, "status" character varying NOT NULL, "form_data" jsonb NOT NULL, "revision" bigint NOT NULL DEFAULT 1, "started_by" uuid NOT NULL, "request_id" character varying NULL, "assignee_user_id" character varying NULL, "assignee_group_id" character varying NULL, "provider" character varying NULL, "external_id" character varying NULL, "reason" text NOT NULL DEFAULT '', "ended_at" timestamptz NULL, PRIMARY KEY ("id"));
-- create index "instance_assignee_group_id_id" to table: "instances"
CREATE INDEX "instance_assignee_group_id_id" ON "instances" ("assignee_group_id", "id");
-- create index "instance_assignee_user_id_id" to table: "instances"
CREATE INDEX "instance_assignee_user_id_id" ON "instances" ("assignee_user_id", "id");
-- create index "instance_created_at_id" to table: "instances"
CREATE INDEX "instance_created_at_id" ON "instances" ("created_at", "id");
-- create index "instance_provider_external_id" to table: "instances"
CREATE INDEX "instance_provider_external_id" ON "instances" ("provider", "external_id");
-- create index "instance_started_by_id" to table: "instances"
CREATE INDEX "instance_started_by_id" ON "instances" ("started_by", "id");
-- create index "instance_started_by_request_id" to table: "instances"
CREATE UNIQUE INDEX "instance_started_by_request_id" ON "instances" ("started_by", "request_id");
-- create index "instance_state_key_id" to table: "instances"
CREATE INDEX "instance_state_key_id" ON "instances" ("state_key", "id");
-- create index "instance_status_id" to table: "instances"
CREATE INDEX "instance_status_id" ON "instances" ("status", "id");
-- create index "instance_workflow_id_id" to table: "instances"
CREATE INDEX "instance_workflow_id_id" ON "instances" ("workflow_id", "id");
-- create index "instance_workflow_id_state_key_id" to table: "instances"
CREATE INDEX "instance_workflow_id_state_key_id" ON "instances" ("workflow_id", "state_key", "id");
-- create "activities" table
CREATE TABLE "activities" ("id" uuid NOT NULL, "seq" bigint NOT NULL, "kind" character varying NOT NULL, "actor_id" character varying NOT NULL DEFAULT '', "from_state" character varying NOT NULL DEFAULT '', "to_state" character varying NOT NULL DEFAULT '', "transition_key" character varying NOT NULL DEFAULT '', "assignee_user_id" character varying NOT NULL DEFAULT '', "assignee_group_id" character varying NOT NULL DEFAULT '', "details" jsonb NULL, "message" text NOT NULL DEFAULT '', "created_at" timestamptz NOT NULL, "instance_id" uuid NOT NULL, PRIMARY KEY ("id"), CONSTRAINT "activities_instances_activities" FOREIGN KEY ("instance_id") REFERENCES "instances" ("id") ON UPDATE NO ACTION ON DELETE NO ACTION);
-- create index "activity_instance_id_actor_id" to table: "activities"
CREATE INDEX "activity_instance_id_actor_id" ON "activities" ("instance_id", "actor_id");
-- create index "activity_instance_id_seq" to table: "activities"
CREATE UNIQUE INDEX "activity_instance_id_seq" ON "activities" ("instance_id", "seq");
-- create "users" table
CREATE TABLE "users" ("id" uuid NOT NULL, "created_at" timestamptz NOT NULL, "updated_at" timestamptz NOT NULL, "display_name" character varying NOT NULL, "email" character varying NOT NULL, "roles" jsonb NOT NULL, PRIMARY KEY ("id"));
-- create index "users_email_key" to table: "users"
CREATE UNIQUE INDEX "users_email_key" ON "users" ("email");
-- create "api_keys" table
CREATE TABLE "api_keys" ("id" uuid NOT NULL, "name" character varying NOT NULL DEFAULT '', "prefix" character varying NOT NULL, "hash" character varying NOT NULL, "created_at" timestamptz NOT NULL, "last_used_at" timestamptz NULL, "revoked_at" timestamptz NULL, "user_id" uuid NOT NULL, PRIMARY KEY ("id"), CONSTRAINT "api_keys_users_api_keys" FOREIGN KEY ("user_id") REFERENCES "users" ("id") ON UPDATE NO ACTION ON DELETE NO ACTION);
-- create index "api_keys_hash_key" to table: "api_keys"
CREATE UNIQUE INDEX "api_keys_hash_key" ON "api_keys" ("hash");
-- create "groups" table
CREATE TABLE "groups" ("id" uuid NOT NULL, "created_at" timestamptz NOT NULL, "updated_at" timestamptz NOT NULL, "name" character varying NOT NULL, "description" text NOT NULL DEFAULT '', PRIMARY KEY ("id"));
-- create index "groups_name_key" to table: "groups"
CREATE UNIQUE INDEX "groups_name_key" ON "groups" ("name");
-- create "user_groups" table
CREATE TABLE "user_groups" ("user_id" uuid NOT NULL, "group_id" uuid NOT NULL, PRIMARY KEY ("user_id", "group_id"), CONSTRAINT "user_groups_group_id" FOREIGN KEY ("group_id") REFERENCES "groups" ("id") ON UPDATE NO ACTION ON DELETE CASCADE, CONSTRAINT "user_groups_user_id" FOREIGN KEY ("user_id") REFERENCES "users" ("id") ON UPDATE NO ACTION ON DELETE CASCADE);

-- +goose Down
-- reverse: create "user_groups" table
DROP TABLE "user_groups";
-- reverse: create index "groups_name_key" to table: "groups"
DROP INDEX "groups_name_key";
-- reverse: create "groups" table
DROP TABLE "groups";
-- reverse: create index "api_keys_hash_key" to table: "api_keys"
DROP INDEX "api_keys_hash_key";
-- reverse: create "api_keys" table
DROP TABLE "api_keys";
-- reverse: create index "users_email_key" to table: "users"
DROP INDEX "users_email_key";
-- reverse: create "users" table
DROP TABLE "users";
-- reverse: create index "activity_instance_id_seq" to table: "activities"
DROP INDEX "activity_instance_id_seq";
-- reverse: create index "activity_instance_id_actor_id" to table: "activities"
DROP INDEX "activity_instance_id_actor_id";
-- reverse: create "activities" table
DROP TABLE "activities";
-- reverse: create index "instance_workflow_id_state_key_id" to table: "instances"
DROP INDEX "instance_workflow_id_state_key_id";
-- reverse: create index "instance_workflow_id_id" to table: "instances"
DROP INDEX "instance_workflow_id_id";
-- reverse: create index "instance_status_id" to table: "instances"
DROP INDEX "instance_status_id";
-- reverse: create index "instance_state_key_id" to table: "instances"
DROP INDEX "instance_state_key_id";
-- reverse: create index "instance_started_by_request_id" to table: "instances"
DROP INDEX "instance_started_by_request_id";
-- reverse: create index "instance_started_by_id" to table: "instances"
DROP INDEX "instance_started_by_id";
-- reverse: create index "instance_provider_external_id" to table: "instances"
DROP INDEX "instance_provider_external_id";
-- reverse: create index "instance_created_at_id" to table: "instances"
DROP INDEX "instance_created_at_id";
-- reverse: create index "instance_assignee_user_id_id" to table: "instances"
DROP INDEX "instance_assignee_user_id_id";
-- reverse: create index "instance_assignee_group_id_id" to table: "instances"
DROP INDEX "instance_assignee_group_id_id";
-- reverse: create "instances" table
DROP TABLE "instances";
