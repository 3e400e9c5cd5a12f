// @flowhook/sdk: typed clients for the flowhook workflow platform, in browsers and Node.
//
// The messages, enums and service descriptors are generated from proto/flowhook/v1 by
// protoc-gen-es (src/gen, never edited by hand); this file and its neighbours are the small
// hand-written layer: the client factory, the paging helpers and the error helpers.

export { createFlowhookClient, withBearer, type ApiKeySource, type FlowhookClient, type FlowhookClientOptions } from "./client.js";
export { createClient, type CallOptions, type Client, type Interceptor, type Transport } from "@connectrpc/connect";
export { items, pages, type ListCall } from "./pages.js";
export { Code, ConnectError, codeName, describeError, errorCode, hasCode, validationProblems } from "./errors.js";
export { createValidator, ruleViolations, validateRequest, type RuleViolation, type Validator } from "./validate.js";

// Every message, enum and service of flowhook.v1.
export * from "./gen/flowhook/v1/design_pb.js";
export * from "./gen/flowhook/v1/eventlog_pb.js";
export * from "./gen/flowhook/v1/identity_pb.js";
export * from "./gen/flowhook/v1/instance_pb.js";
export * from "./gen/flowhook/v1/settings_pb.js";
export * from "./gen/flowhook/v1/workflow_pb.js";

// The protobuf-es functions that work on those messages, so that callers need no second import.
export { clone, create, equals, fromBinary, fromJson, fromJsonString, isMessage, toBinary, toJson, toJsonString } from "@bufbuild/protobuf";
export type { DescMessage, JsonObject, JsonValue, MessageInitShape, MessageShape } from "@bufbuild/protobuf";
export { durationFromMs, durationMs, timestampDate, timestampFromDate, timestampFromMs, timestampMs, timestampNow } from "@bufbuild/protobuf/wkt";
export type { Duration, Timestamp } from "@bufbuild/protobuf/wkt";
