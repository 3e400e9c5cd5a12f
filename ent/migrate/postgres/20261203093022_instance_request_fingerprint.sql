-- +goose Up
-- modify "instances" table
ALTER TABLE "instances" ADD COLUMN "request_fingerprint" character varying NULL;

-- +goose Down
-- reverse: modify "instances" table
ALTER TABLE "instances" DROP COLUMN "request_fingerprint";
