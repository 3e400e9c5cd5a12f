-- +goose Up
-- create "workflows" table
CREATE TABLE `workflows` (`id` uuid NOT NULL, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `name` text NOT NULL, `description` text NOT NULL DEFAULT (''), `draft` json NOT NULL, `revision` integer NOT NULL DEFAULT (1), `latest_version` integer NOT NULL DEFAULT (0), PRIMARY KEY (`id`));
-- create index "workflow_name" to table: "workflows"
CREATE INDEX `workflow_name` ON `workflows` (`name`);
-- create "workflow_versions" table
CREATE TABLE `workflow_versions` (`id` uuid NOT NULL, `version` integer NOT NULL, `revision` integer NOT NULL, `definition` json NOT NULL, `published_at` datetime NOT NULL, `workflow_id` uuid NOT NULL, PRIMARY KEY (`id`), CONSTRAINT `workflow_versions_workflows_versions` FOREIGN KEY (`workflow_id`) REFERENCES `workflows` (`id`) ON DELETE NO ACTION);
-- create index "workflowversion_workflow_id_version" to table: "workflow_versions"
CREATE UNIQUE INDEX `workflowversion_workflow_id_version` ON `workflow_versions` (`workflow_id`, `version`);
-- create index "workflowversion_workflow_id_revision" to table: "workflow_versions"
CREATE UNIQUE INDEX `workflowversion_workflow_id_revision` ON `workflow_versions` (`workflow_id`, `revision`);

-- +goose Down
-- reverse: create index "workflowversion_workflow_id_revision" to table: "workflow_versions"
DROP INDEX `workflowversion_workflow_id_revision`;
-- reverse: create index "workflowversion_workflow_id_version" to table: "workflow_versions"
DROP INDEX `workflowversion_workflow_id_version`;
-- reverse: create "workflow_versions" table
DROP TABLE `workflow_versions`;
-- reverse: create index "workflow_name" to table: "workflows"
DROP INDEX `workflow_name`;
-- reverse: create "workflows" table
DROP TABLE `workflows`;
