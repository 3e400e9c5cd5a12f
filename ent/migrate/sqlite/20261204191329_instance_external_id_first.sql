-- +goose Up
-- drop index "instance_provider_external_id" from table: "instances"
DROP INDEX `instance_provider_external_id`;
-- create index "instance_external_id_provider" to table: "instances"
CREATE INDEX `instance_external_id_provider` ON `instances` (`external_id`, `provider`);

-- +goose Down
-- reverse: create index "instance_external_id_provider" to table: "instances"
DROP INDEX `instance_external_id_provider`;
-- reverse: drop index "instance_provider_external_id" from table: "instances"
CREATE INDEX `instance_provider_external_id` ON `instances` (`provider`, `external_id`);
