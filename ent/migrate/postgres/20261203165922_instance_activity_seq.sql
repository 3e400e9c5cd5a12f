-- +goose Up
-- modify "instances" table
ALTER TABLE "instances" ADD COLUMN "activity_seq" bigint NOT NULL DEFAULT 0;
-- number new activities after each instance's newest one
UPDATE "instances" SET "activity_seq" = COALESCE((SELECT max("seq") FROM "activities" WHERE "activities"."instance_id" = "instances"."id"), 0);

-- +goose Down
-- reverse: modify "instances" table
ALTER TABLE "instances" DROP COLUMN "activity_seq";
