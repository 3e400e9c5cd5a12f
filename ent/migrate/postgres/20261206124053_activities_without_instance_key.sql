-- +goose Up
-- modify "activities" table
ALTER TABLE "activities" DROP CONSTRAINT "activities_instances_activities";

-- +goose Down
-- reverse: modify "activities" table
ALTER TABLE "activities" ADD CONSTRAINT "activities_instances_activities" FOREIGN KEY ("instance_id") REFERENCES "instances" ("id") ON UPDATE NO ACTION ON DELETE NO ACTION;
