// Strict requests: the rules declared in flowhook's .proto files are checked in the client by
// validateRequest and on the server by its interceptor, with the same rule ids; and the server
// refuses JSON it does not understand instead of dropping it.
import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import {
  Code,
  CreateUserRequestSchema,
  CreateWorkflowRequestSchema,
  ListEventsRequestSchema,
  Role,
  StateKind,
  create,
  createFlowhookClient,
  errorCode,
  ruleViolations,
  validateRequest,
  validationProblems,
  type DescMessage,
  type FlowhookClient,
  type MessageShape,
  type RuleViolation,
} from "@flowhook/sdk";
import { Server, Stage } from "./harness.js";

/** path → rule id */
function byPath(vs: RuleViolation[]): Map<string, string> {
  return new Map(vs.map((v) => [v.path, v.ruleId]));
}

describe("strict requests", () => {
  let server: Server;
  let admin: FlowhookClient;
  const stage = Stage.setUp();

  before(() => {
    ({ server } = stage);
    admin = createFlowhookClient({ baseUrl: server.baseUrl, apiKey: server.adminKey });
  });

  /** Checks msg in the client, sends it, and returns both sides' violations. */
  async function bothSides<Desc extends DescMessage>(
    schema: Desc,
    msg: MessageShape<Desc>,
    send: (m: MessageShape<Desc>) => Promise<unknown>,
  ): Promise<{ client: Map<string, string>; server: Map<string, string>; problems: string[] }> {
    const client = byPath(validateRequest(schema, msg));
    const err = await send(msg).then(
      () => assert.fail("the server accepted a request the rules refuse"),
      (e: unknown) => e,
    );
    assert.equal(errorCode(err), Code.InvalidArgument);
    return { client, server: byPath(ruleViolations(err)), problems: validationProblems(err).map((p) => p.path) };
  }

  it("reports in the client the rule ids the server reports", async () => {
    const user = create(CreateUserRequestSchema, {
      displayName: "x".repeat(201),
      email: "not an email",
      roles: [Role.USER, 7 as Role],
    });
    const u = await bothSides(CreateUserRequestSchema, user, (m) => admin.identity.createUser(m));
    assert.equal(u.client.get("email"), "string.email");
    assert.equal(u.client.get("display_name"), "string.max_len");
    assert.equal(u.client.get("roles[1]"), "enum.defined_only");
    assert.deepEqual(u.server, u.client);
    // flowhook's own detail lists them too, with the same paths.
    for (const path of u.client.keys()) {
      assert.ok(u.problems.includes(path), path);
    }

    // Nested: a draft's state key, with the path into the draft.
    const draft = create(CreateWorkflowRequestSchema, {
      workflow: {
        name: "strict",
        states: [
          { key: "start", kind: StateKind.START },
          { key: "1-bad", kind: StateKind.END },
        ],
        transitions: [{ key: "go", fromState: "start", toState: "1-bad" }],
      },
    });
    const d = await bothSides(CreateWorkflowRequestSchema, draft, (m) => admin.design.createWorkflow(m));
    assert.equal(d.client.get("workflow.states[1].key"), "string.pattern");
    assert.deepEqual(d.server, d.client);

    // A filter: ids are UUIDs, page sizes are not negative.
    const list = create(ListEventsRequestSchema, { pageSize: -1, filter: { instanceId: "42" } });
    const l = await bothSides(ListEventsRequestSchema, list, (m) => admin.eventLog.listEvents(m));
    assert.equal(l.client.get("page_size"), "int32.gte");
    assert.equal(l.client.get("filter.instance_id"), "string.uuid");
    assert.deepEqual(l.server, l.client);

    // A valid request breaks no rule on either side.
    const ok = create(CreateUserRequestSchema, { displayName: "Strict", email: "strict@example.com", roles: [Role.USER] });
    assert.deepEqual(validateRequest(CreateUserRequestSchema, ok), []);
    const created = await admin.identity.createUser(ok);
    assert.equal(created.user?.email, "strict@example.com");
  });

  it("refuses unknown fields and enum names sent as raw JSON", async () => {
    async function post(procedure: string, body: string): Promise<{ status: number; code: string; message: string }> {
      const res = await fetch(`${server.baseUrl}/${procedure}`, {
        method: "POST",
        headers: { "Content-Type": "application/json", Authorization: `Bearer ${server.adminKey}` },
        body,
      });
      const json = (await res.json()) as { code?: string; message?: string };
      return { status: res.status, code: json.code ?? "", message: json.message ?? "" };
    }
    const cases: [string, string, string][] = [
      ["flowhook.v1.IdentityService/CreateUser", `{"displayName":"Eve","email":"eve@example.com","roles":["ROLE_USER"],"rolez":[]}`, `unknown field "rolez"`],
      ["flowhook.v1.IdentityService/CreateUser", `{"displayName":"Eve","email":"eve@example.com","roles":["ROLE_GOD"]}`, "ROLE_GOD"],
      ["flowhook.v1.WorkflowInstanceService/ListInstances", `{"filter":{"status":"INSTANCE_STATUS_BOGUS"}}`, "INSTANCE_STATUS_BOGUS"],
      ["flowhook.v1.EventLogService/ListEvents", `{"filter":{"verdict":"APPLIED"}}`, "APPLIED"],
    ];
    for (const [procedure, body, names] of cases) {
      const r = await post(procedure, body);
      assert.equal(r.status, 400, `${procedure} ${body}: ${r.message}`);
      assert.equal(r.code, "invalid_argument");
      assert.ok(r.message.includes(names), `${r.message} names ${names}`);
    }
    // Understood, the same request passes.
    const r = await post("flowhook.v1.EventLogService/ListEvents", `{"filter":{"verdict":"VERDICT_APPLIED"}}`);
    assert.equal(r.status, 200, r.message);
    // Eve was never created.
    const users = await admin.identity.listUsers({});
    assert.ok(!users.users.some((u) => u.email === "eve@example.com"));
  });
});
