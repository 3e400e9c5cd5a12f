// The client factory, the transports and the error helpers, against the running server.
import assert from "node:assert/strict";
import { after, before, describe, it, mock } from "node:test";
import { readdirSync } from "node:fs";
import { createServer as createNetServer, type AddressInfo } from "node:net";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import * as sdk from "@flowhook/sdk";
import {
  ActivityKind,
  Code,
  ConnectError,
  FieldType,
  Role,
  StateKind,
  codeName,
  create,
  createFlowhookClient,
  describeError,
  errorCode,
  hasCode,
  items,
  pages,
  validationProblems,
  withBearer,
  type FlowhookClient,
  type ListCall,
  type ListGroupsRequestSchema,
  type ListGroupsResponse,
  type MessageInitShape,
  type Transport,
} from "@flowhook/sdk";
import * as sdkNode from "@flowhook/sdk/node";
import { createFlowhookNodeClient, createNodeTransport, type NodeTransportOptions } from "@flowhook/sdk/node";
import { createConnectTransport } from "@connectrpc/connect-web";
import { Server, sdkDir } from "./harness.js";

describe("the client", () => {
  let server: Server;
  let admin: FlowhookClient;

  before(async () => {
    server = await Server.start();
    admin = createFlowhookClient({ baseUrl: server.baseUrl, apiKey: server.adminKey });
  });

  after(async () => {
    assert.equal(await server?.stop(), 0, server?.output());
    assert.ok(!server.output().includes(server.adminKey), "the admin key appeared in the server's output");
  });

  const transports: [string, Omit<NodeTransportOptions, "baseUrl">][] = [
    ["Connect JSON over HTTP/1.1", { protocol: "connect" }],
    ["Connect binary over HTTP/2 (h2c)", { protocol: "connect", httpVersion: "2", useBinaryFormat: true }],
    ["gRPC (h2c)", { protocol: "grpc" }],
    ["gRPC-Web over HTTP/1.1", { protocol: "grpc-web" }],
  ];
  for (const [name, opts] of transports) {
    it(`works over ${name} from Node`, async () => {
      const client = createFlowhookNodeClient({ ...opts, baseUrl: server.baseUrl, apiKey: server.adminKey });
      const me = await client.identity.whoAmI({});
      assert.equal(me.user?.email, "admin@flowhook.local");
      assert.ok(me.user?.roles.includes(Role.ADMIN));

      // Errors and their details cross every protocol intact.
      const err = await client.design.createWorkflow({ workflow: { name: "" } }).then(
        () => assert.fail("an empty draft was accepted"),
        (e: unknown) => e,
      );
      assert.equal(errorCode(err), Code.InvalidArgument);
      assert.ok(validationProblems(err).some((p) => p.path === "workflow.name"), describeError(err));

      const bad = createFlowhookNodeClient({ ...opts, baseUrl: server.baseUrl, apiKey: "fh_not_a_real_key_0000000000" });
      await assert.rejects(bad.identity.whoAmI({}), (e) => hasCode(e, Code.Unauthenticated));
    });
  }

  it("works over the browser transport (fetch), in JSON and binary", async () => {
    for (const useBinaryFormat of [false, true]) {
      const client = createFlowhookClient({ baseUrl: server.baseUrl + "/", apiKey: server.adminKey, useBinaryFormat });
      assert.equal((await client.identity.whoAmI({})).user?.email, "admin@flowhook.local");
    }
  });

  it("attaches the key to a transport of the caller's choosing", async () => {
    const seen: string[] = [];
    const transport = createConnectTransport({
      baseUrl: server.baseUrl,
      interceptors: [
        (next) => async (req) => {
          seen.push(req.header.get("Authorization") === `Bearer ${server.adminKey}` ? "bearer" : "none");
          return next(req);
        },
      ],
    });
    const client = createFlowhookClient({ transport, apiKey: server.adminKey });
    await client.identity.whoAmI({});
    await client.design.listWorkflows({});
    assert.deepEqual(seen, ["bearer", "bearer"]);
    // withBearer serves clients of one's own.
    const raw = sdk.withBearer(createNodeTransport({ baseUrl: server.baseUrl }), server.adminKey);
    assert.equal(typeof raw.unary, "function");
  });

  it("asks a key function before every call, so keys can rotate", async () => {
    const made = await admin.identity.createApiKey({ name: "rotating" });
    let key = made.secret;
    let asked = 0;
    const client = createFlowhookClient({
      baseUrl: server.baseUrl,
      apiKey: async () => {
        asked++;
        return key;
      },
    });
    assert.equal((await client.identity.whoAmI({})).apiKeyId, made.apiKey?.id);
    await admin.identity.revokeApiKey({ apiKeyId: made.apiKey!.id });
    await assert.rejects(client.identity.whoAmI({}), (e) => errorCode(e) === Code.Unauthenticated);
    key = server.adminKey;
    assert.equal((await client.identity.whoAmI({})).user?.email, "admin@flowhook.local");
    assert.equal(asked, 3);

    const broken = createFlowhookClient({ baseUrl: server.baseUrl, apiKey: () => "" });
    await assert.rejects(broken.identity.whoAmI({}), (e) => hasCode(e, Code.Unauthenticated) && /apiKey is required/.test(String(e)));
  });

  it("refuses a missing key, a key with spaces and a bad base URL before any request", () => {
    assert.throws(() => createFlowhookClient({ baseUrl: server.baseUrl, apiKey: "" }), /apiKey is required/);
    assert.throws(() => createFlowhookClient({ baseUrl: server.baseUrl, apiKey: "a b\r\nX-Evil: 1" }), /spaces or control characters/);
    assert.throws(() => createFlowhookClient({ baseUrl: "localhost:8080", apiKey: "k".repeat(30) }), /not an absolute URL|want http/);
    assert.throws(() => createFlowhookClient({ baseUrl: "ftp://example.com", apiKey: "k".repeat(30) }), /want http/);
    assert.throws(() => createFlowhookClient({ baseUrl: "", apiKey: "k".repeat(30) }), /baseUrl is required/);
    // A path is a URL relative to the page, so only where there is a page (a browser).
    assert.throws(() => createFlowhookClient({ baseUrl: "/flowhook", apiKey: "k".repeat(30) }), /not an absolute URL/);
    const g = globalThis as { location?: unknown };
    g.location = { href: "https://app.example.com/forms/" };
    try {
      assert.ok(createFlowhookClient({ baseUrl: "/flowhook", apiKey: "k".repeat(30) }).design);
      assert.throws(() => createFlowhookClient({ baseUrl: "localhost:8080", apiKey: "k".repeat(30) }), /want http/);
    } finally {
      delete g.location;
    }
    assert.throws(() => withBearer(createNodeTransport({ baseUrl: server.baseUrl }), 42 as never), /string or a function/);
    assert.throws(() => createNodeTransport({ baseUrl: server.baseUrl, protocol: "grpc", httpVersion: "1.1" }), /gRPC needs HTTP\/2/);
    assert.throws(() => createNodeTransport({ baseUrl: server.baseUrl, protocol: "soap" as never }), /unknown protocol/);
  });

  it("gets Unauthenticated without a key, with a wrong one, and PermissionDenied without the role", async () => {
    const anonymous = sdk.createClient(sdk.IdentityService, createConnectTransport({ baseUrl: server.baseUrl }));
    const err = await anonymous.whoAmI({}).then(
      () => assert.fail("a call without a key was answered"),
      (e: unknown) => e,
    );
    assert.ok(err instanceof ConnectError);
    assert.equal(err.code, Code.Unauthenticated);
    assert.equal(codeName(err.code), "unauthenticated");

    const wrong = createFlowhookClient({ baseUrl: server.baseUrl, apiKey: server.adminKey + "x" });
    await assert.rejects(wrong.design.listWorkflows({}), (e) => errorCode(e) === Code.Unauthenticated && !/hash|sql|bcrypt/i.test((e as ConnectError).rawMessage));

    const user = await admin.identity.createUser({ displayName: "Uma", email: "uma@example.com", roles: [Role.USER] });
    const key = await admin.identity.createApiKey({ userId: user.user!.id, name: "t" });
    const uma = createFlowhookClient({ baseUrl: server.baseUrl, apiKey: key.secret });
    for (const call of [
      () => uma.settings.getSecuritySettings({}),
      () => uma.eventLog.listEvents({}),
      () => uma.identity.createUser({ displayName: "x", email: "x@example.com", roles: [Role.ADMIN] }),
      () => uma.design.createWorkflow({ workflow: { name: "nope" } }),
    ]) {
      await assert.rejects(call(), (e) => errorCode(e) === Code.PermissionDenied);
    }
  });

  it("reports malformed, unknown, oversized and cancelled calls clearly", async () => {
    // Malformed id: InvalidArgument naming the field.
    const bad = await admin.instances.getInstance({ instanceId: "not-an-id" }).catch((e: unknown) => e);
    assert.equal(errorCode(bad), Code.InvalidArgument);
    assert.deepEqual(validationProblems(bad).map((p) => p.path), ["instance_id"]);

    // Unknown id: NotFound.
    const missing = await admin.instances.getInstance({ instanceId: "0190f7a0-0000-7000-8000-000000000000" }).catch((e: unknown) => e);
    assert.equal(errorCode(missing), Code.NotFound, describeError(missing));

    // Oversized: refused before it is read, without internal text.
    const huge = await admin.design
      .validateWorkflow({ workflow: { name: "x".repeat(5 << 20) } })
      .catch((e: unknown) => e);
    assert.equal(errorCode(huge), Code.ResourceExhausted, describeError(huge));
    assert.ok(!/goroutine|panic|\.go:/.test(describeError(huge)), describeError(huge));

    // Cancelled by the caller: Canceled, and the client stays usable.
    const ctl = new AbortController();
    const pending = admin.design.listWorkflows({}, { signal: ctl.signal });
    ctl.abort();
    await assert.rejects(pending, (e) => errorCode(e) === Code.Canceled);
    assert.ok((await admin.identity.whoAmI({})).user);

  });

  it("reports a server that is down, through each transport", async () => {
    // A port that was just free: nothing listens there.
    const probe = createNetServer();
    await new Promise<void>((r) => probe.listen(0, "127.0.0.1", r));
    const url = `http://127.0.0.1:${(probe.address() as AddressInfo).port}`;
    await new Promise<void>((r) => probe.close(() => r()));
    const web = createFlowhookClient({ baseUrl: url, apiKey: server.adminKey });
    const webErr = await web.identity.whoAmI({}).catch((e: unknown) => e);
    assert.equal(errorCode(webErr), Code.Unknown, describeError(webErr)); // fetch says only "failed"
    for (const protocol of ["connect", "grpc", "grpc-web"] as const) {
      const node = createFlowhookNodeClient({ baseUrl: url, apiKey: server.adminKey, protocol });
      const err = await node.identity.whoAmI({}).catch((e: unknown) => e);
      assert.equal(errorCode(err), Code.Unavailable, `${protocol}: ${describeError(err)}`);
    }
  });

  it("gives up on a server that never answers with DeadlineExceeded, sending whole milliseconds", async () => {
    // A listener that accepts and never answers: the deadline is the only way out.
    const seen: string[] = [];
    const silent = createNetServer((socket) => socket.on("data", (b: Buffer) => seen.push(b.toString("latin1"))));
    await new Promise<void>((r) => silent.listen(0, "127.0.0.1", r));
    try {
      const url = `http://127.0.0.1:${(silent.address() as AddressInfo).port}`;
      const client = createFlowhookClient({ baseUrl: url, apiKey: server.adminKey });
      await assert.rejects(client.design.listWorkflows({}, { timeoutMs: 80 }), (e) => errorCode(e) === Code.DeadlineExceeded);
      // A fractional timeout goes out rounded up (the server refuses "0.5").
      const grpc = createFlowhookNodeClient({ baseUrl: url, apiKey: server.adminKey, protocol: "grpc-web" });
      await assert.rejects(grpc.design.listWorkflows({}, { timeoutMs: 40.5 }), (e) => errorCode(e) === Code.DeadlineExceeded);
      const sent = seen.join("");
      assert.match(sent, /connect-timeout-ms: 80\r\n/i);
      assert.match(sent, /grpc-timeout: 41m\r\n/i);
    } finally {
      silent.close();
    }
  });

  it("publishes and starts with enums and well-known types from the package", async () => {
    const me = await admin.identity.whoAmI({});
    const draft = sdk.create(sdk.WorkflowDraftSchema, {
      name: "Leave request",
      states: [
        { key: "start", name: "Request", kind: StateKind.START, formFields: [{ name: "days", label: "Days", type: FieldType.NUMBER, required: true }] },
        { key: "approve", name: "Approve", kind: StateKind.HUMAN, assignee: { assignee: { case: "userId", value: me.user!.id } }, timeout: sdk.durationFromMs(3_600_000) },
        { key: "done", name: "Done", kind: StateKind.END },
      ],
      transitions: [
        { key: "submit", fromState: "start", toState: "approve" },
        { key: "ok", fromState: "approve", toState: "done", onTimeout: true }, // taken when the hour passes
      ],
    });
    const created = await admin.design.createWorkflow({ workflow: draft });
    assert.equal(sdk.durationMs(created.workflow!.draft!.states[1]!.timeout!), 3_600_000);
    assert.ok(sdk.timestampDate(created.workflow!.createdAt!).getTime() <= Date.now());
    // Messages convert to and from the proto3 JSON the Connect protocol speaks.
    const json = sdk.toJson(sdk.WorkflowDraftSchema, draft) as { states: { kind: string }[] };
    assert.equal(json.states[0]?.kind, "STATE_KIND_START");
    assert.ok(sdk.equals(sdk.WorkflowDraftSchema, sdk.fromJson(sdk.WorkflowDraftSchema, json), draft));
    await admin.design.publishWorkflow({ workflowId: created.workflow!.id, expectedRevision: 1n });
    const started = await admin.instances.startInstance({ workflowId: created.workflow!.id, formData: { days: 3 } });
    assert.equal(started.instance?.stateKey, "approve");
    // The state's timeout gives the instance its deadline, an hour away.
    const due = sdk.timestampDate(started.instance!.deadline!).getTime() - Date.now();
    assert.ok(due > 3_500_000 && due <= 3_600_000, `deadline in ${due} ms`);
    const mine = await admin.instances.listAssignedToMe({ pageSize: 10 });
    assert.deepEqual(mine.instances.map((i) => i.id), [started.instance!.id]);
  });

  it("reassigns, deactivates and archives", async () => {
    const me = await admin.identity.whoAmI({});
    const vic = await admin.identity.createUser({ displayName: "Vic", email: "vic@example.com", roles: [Role.USER] });
    const vicId = vic.user!.id;
    const vicClient = createFlowhookClient({ baseUrl: server.baseUrl, apiKey: (await admin.identity.createApiKey({ userId: vicId, name: "t" })).secret });
    const created = await admin.design.createWorkflow({
      workflow: {
        name: "Expense",
        states: [
          { key: "start", kind: StateKind.START },
          { key: "check", kind: StateKind.HUMAN, assignee: { assignee: { case: "userId", value: me.user!.id } } },
          { key: "done", kind: StateKind.END },
        ],
        transitions: [
          { key: "submit", fromState: "start", toState: "check" },
          { key: "ok", fromState: "check", toState: "done" },
        ],
      },
    });
    const wf = created.workflow!.id;
    await admin.design.publishWorkflow({ workflowId: wf, expectedRevision: 1n });
    const { instance } = await admin.instances.startInstance({ workflowId: wf });

    // The admin hands the work to Vic, who now sees it.
    const moved = await admin.instances.reassignInstance({ instanceId: instance!.id, assignee: { assignee: { case: "userId", value: vicId } }, reason: "holiday" });
    assert.equal(moved.instance?.assignee?.assignee.value, vicId);
    assert.deepEqual((await vicClient.instances.listAssignedToMe({})).instances.map((i) => i.id), [instance!.id]);
    const acts = await admin.instances.listActivity({ instanceId: instance!.id });
    assert.ok(acts.entries.some((e) => e.kind === ActivityKind.REASSIGNED && e.message.endsWith(": holiday")));

    // Deactivated, Vic's key is refused at once; the work shows as assigned to an inactive user.
    const off = await admin.identity.deactivateUser({ userId: vicId });
    assert.equal(off.user?.deactivated, true);
    await assert.rejects(vicClient.identity.whoAmI({}), (e) => errorCode(e) === Code.Unauthenticated);
    const inactive = await admin.instances.listInstances({ filter: { assigneeInactive: true } });
    assert.deepEqual(inactive.instances.map((i) => i.id), [instance!.id]);
    await admin.identity.reactivateUser({ userId: vicId });
    assert.equal((await vicClient.identity.whoAmI({})).user?.id, vicId);

    // Archived, the workflow starts nothing and leaves the default list.
    const archived = await admin.design.archiveWorkflow({ workflowId: wf });
    assert.equal(archived.workflow?.archived, true);
    await assert.rejects(admin.instances.startInstance({ workflowId: wf }), (e) => errorCode(e) === Code.FailedPrecondition);
    assert.ok(!(await admin.design.listWorkflows({ pageSize: 500 })).workflows.some((w) => w.id === wf));
    assert.ok((await admin.design.listWorkflows({ pageSize: 500, includeArchived: true })).workflows.some((w) => w.id === wf));
    await admin.design.unarchiveWorkflow({ workflowId: wf });
    assert.ok((await admin.instances.startInstance({ workflowId: wf })).instance);
  });

  it("walks every page of a list, asking for a page only when the loop wants it", async () => {
    const made = new Set<string>();
    for (let i = 0; i < 7; i++) {
      made.add((await admin.identity.createGroup({ name: `paged-${i}` })).group!.id);
    }
    let calls = 0;
    const listGroups: ListCall<MessageInitShape<typeof ListGroupsRequestSchema>, ListGroupsResponse> = (req, opts) => {
      calls++;
      return admin.identity.listGroups(req, opts);
    };

    const seen: string[] = [];
    let last = "unset";
    for await (const page of pages(listGroups, { pageSize: 3 })) {
      assert.ok(page.groups.length <= 3, `a page of ${page.groups.length}`);
      seen.push(...page.groups.map((g) => g.id));
      last = page.nextPageToken;
    }
    assert.equal(last, "", "it stopped at the last page");
    assert.equal(new Set(seen).size, seen.length, "no group twice");
    for (const id of made) {
      assert.ok(seen.includes(id), `group ${id} was listed`);
    }
    assert.ok(calls >= Math.ceil(seen.length / 3) && calls <= Math.ceil(seen.length / 3) + 1, `${calls} calls for ${seen.length} groups`);

    // items flattens the same walk; a break stops the calls.
    const flat: string[] = [];
    for await (const g of items(admin.identity.listGroups, { pageSize: 3 }, (r) => r.groups)) {
      flat.push(g.id);
    }
    assert.deepEqual(flat, seen);
    calls = 0;
    for await (const page of pages(listGroups, { pageSize: 3 })) {
      assert.equal(page.groups.length, 3);
      break;
    }
    assert.equal(calls, 1, "a break asks for no further page");

    // A walk may start from a token; options (here a signal) reach every call; a failed call
    // rejects the loop with its code.
    const first = await admin.identity.listGroups({ pageSize: 3 });
    const rest: string[] = [];
    for await (const g of items(admin.identity.listGroups, { pageSize: 3, pageToken: first.nextPageToken }, (r) => r.groups)) {
      rest.push(g.id);
    }
    assert.deepEqual([...first.groups.map((g) => g.id), ...rest], seen);
    const walk = async (req: MessageInitShape<typeof ListGroupsRequestSchema>, signal?: AbortSignal) => {
      for await (const page of pages(admin.identity.listGroups, req, { signal })) {
        void page;
      }
    };
    await assert.rejects(walk({ pageSize: 3 }, AbortSignal.abort()), (e) => errorCode(e) === Code.Canceled);
    await assert.rejects(walk({ pageSize: 3, pageToken: "not a token" }), (e) => hasCode(e, Code.InvalidArgument));

    // A server that repeats a token is not followed round in circles.
    const circular: ListCall<{ pageToken?: string }, { nextPageToken: string }> = async () => ({ nextPageToken: "again" });
    let pagesSeen = 0;
    await assert.rejects(
      (async () => {
        for await (const _ of pages(circular, {})) {
          pagesSeen++;
        }
      })(),
      /^Error: flowhook: page 2 of the list answered a page token an earlier page had; stopping$/,
    );
    assert.equal(pagesSeen, 2);
  });

  it("stops a walk from a kept token when the server answers that token again, before a page repeats", async () => {
    const asked: string[] = [];
    const stuck: ListCall<{ pageToken?: string }, { nextPageToken: string; page: string }> = async (req) => {
      asked.push(req.pageToken ?? "");
      return { nextPageToken: "kept", page: `page at ${req.pageToken}` };
    };
    const got: string[] = [];
    await assert.rejects(
      (async () => {
        for await (const page of pages(stuck, { pageToken: "kept" })) {
          got.push(page.page);
        }
      })(),
      /^Error: flowhook: page 1 of the list answered a page token an earlier page had; stopping$/,
    );
    assert.deepEqual(got, ["page at kept"], "the kept token's page once");
    assert.deepEqual(asked, ["kept"]);
  });

  it("changes one security setting and keeps the others, the README's way", async () => {
    const before = await admin.settings.getSecuritySettings({});
    const set = await admin.settings.updateSecuritySettings({
      eventRetentionDays: 90,
      formDataRetentionDays: 365,
      documentRetentionDays: 60,
      expectedRevision: before.settings!.revision,
    });
    assert.equal(set.settings?.webhookReceiverDebug, false);

    // As sdk/typescript/README.md writes it:
    const { settings } = await admin.settings.getSecuritySettings({});
    const { $typeName, revision, updatedAt, ...current } = settings!;
    const changed = await admin.settings.updateSecuritySettings({ ...current, webhookReceiverDebug: true, expectedRevision: revision });

    const { revision: after, updatedAt: _at, ...values } = changed.settings!;
    assert.deepEqual(values, { ...current, $typeName, webhookReceiverDebug: true });
    assert.deepEqual([values.eventRetentionDays, values.formDataRetentionDays, values.documentRetentionDays], [90, 365, 60]);
    assert.equal(after, revision + 1n);
    assert.ok(updatedAt);
  });

  it("helpers read any error", () => {
    assert.equal(errorCode(new Error("boom")), Code.Unknown);
    assert.equal(errorCode("not even an error"), Code.Unknown);
    assert.deepEqual(validationProblems(new Error("boom")), []);
    assert.deepEqual(validationProblems(undefined), []);
    assert.equal(hasCode(new Error("x"), Code.Unknown), false);
    assert.equal(codeName(Code.InvalidArgument), "invalid_argument");
    assert.equal(codeName(Code.FailedPrecondition), "failed_precondition");
    assert.equal(codeName(99 as Code), "code_99");
    assert.equal(describeError(new ConnectError("nope", Code.NotFound)), "not_found: nope");
  });
});

describe("a key function", () => {
  const key = "fh_key_from_the_function_0000000";

  // A transport that answers every call with an empty message, and notes what reached it.
  type Reached = { timeoutMs: number | undefined; authorization: string | null };
  function answering(reached: Reached[]): Transport {
    return {
      unary: async (method, _signal, timeoutMs, header) => {
        reached.push({ timeoutMs, authorization: new Headers(header).get("Authorization") });
        return { stream: false, service: method.parent, method, header: new Headers(), trailer: new Headers(), message: create(method.output) };
      },
      stream: () => Promise.reject(new Error("flowhook has no streaming RPC")),
    };
  }

  // A key function whose answer the test gives: `asked` resolves, with the function that
  // answers, once the client has asked.
  function heldKey(): { apiKey: () => Promise<string>; asked: Promise<(key: string) => void> } {
    let announce!: (answer: (key: string) => void) => void;
    const asked = new Promise<(key: string) => void>((r) => (announce = r));
    return { apiKey: () => new Promise<string>((resolve) => announce(resolve)), asked };
  }

  it("sends the key it answers, with the call's timeout", async () => {
    const reached: Reached[] = [];
    const client = createFlowhookClient({ transport: answering(reached), apiKey: async () => key });
    await client.identity.whoAmI({});
    await client.identity.whoAmI({}, { timeoutMs: 0 }); // no deadline: passed on as is
    assert.deepEqual(reached, [
      { timeoutMs: undefined, authorization: `Bearer ${key}` },
      { timeoutMs: 0, authorization: `Bearer ${key}` },
    ]);
  });

  it("rejects a call cancelled while its key is looked up with Canceled, and sends nothing", async () => {
    const reached: Reached[] = [];
    const held = heldKey();
    const client = createFlowhookClient({ transport: answering(reached), apiKey: held.apiKey });
    const ctl = new AbortController();
    const call = client.identity.whoAmI({}, { signal: ctl.signal });
    const answer = await held.asked;
    ctl.abort();
    answer(key); // too late: the call was cancelled
    const err = await call.then(() => assert.fail("a cancelled call was answered"), (e: unknown) => e);
    assert.ok(err instanceof ConnectError, String(err));
    assert.equal(err.code, Code.Canceled);
    assert.deepEqual(reached, []);

    // Cancelled before it starts: the key is not even asked for.
    let asked = 0;
    const counting = createFlowhookClient({ transport: answering(reached), apiKey: () => (asked++, key) });
    await assert.rejects(counting.identity.whoAmI({}, { signal: AbortSignal.abort() }), (e) => hasCode(e, Code.Canceled));
    const why = new ConnectError("the user left the page", Code.Aborted);
    await assert.rejects(counting.identity.whoAmI({}, { signal: AbortSignal.abort(why) }), (e) => e === why);
    assert.equal(asked, 0);
    assert.deepEqual(reached, []);
  });

  it("counts the call's timeout from its start: DeadlineExceeded while the key is looked up", async () => {
    mock.timers.enable({ apis: ["setTimeout"] });
    try {
      const reached: Reached[] = [];
      const held = heldKey();
      const client = createFlowhookClient({ transport: answering(reached), apiKey: held.apiKey });
      const call = client.identity.whoAmI({}, { timeoutMs: 1000 });
      const answer = await held.asked;
      mock.timers.tick(1000);
      answer(key); // too late: the deadline passed
      const err = await call.then(() => assert.fail("a call past its deadline was answered"), (e: unknown) => e);
      assert.ok(err instanceof ConnectError, String(err));
      assert.equal(err.code, Code.DeadlineExceeded);
      assert.deepEqual(reached, []);
    } finally {
      mock.timers.reset();
    }
  });

  it("hands the transport what is left of the timeout once the key is known", async () => {
    let now = 5000;
    mock.method(performance, "now", () => now);
    mock.timers.enable({ apis: ["setTimeout"] });
    try {
      const reached: Reached[] = [];
      const client = createFlowhookClient({ transport: answering(reached), apiKey: async () => key });
      for (const [took, timeoutMs] of [[300, 1000], [0.4, 1000], [1000, 1000], [1500, 1000]] as const) {
        const held = heldKey();
        const timed = createFlowhookClient({ transport: answering(reached), apiKey: held.apiKey });
        const call = timed.identity.whoAmI({}, { timeoutMs }).then(() => "answered", (e: unknown) => Code[errorCode(e)]);
        const answer = await held.asked;
        now += took; // the lookup took that long, and the timer has not fired yet
        answer(key);
        assert.equal(await call, took < timeoutMs ? "answered" : "DeadlineExceeded", `${took} ms of ${timeoutMs}`);
      }
      // 700 left; 999.6 left goes out as 1000 (whole milliseconds); none left, nothing sent.
      assert.deepEqual(reached.map((r) => r.timeoutMs), [700, 1000]);
      await client.identity.whoAmI({}, { timeoutMs: 250 });
      assert.equal(reached.at(-1)?.timeoutMs, 250);
    } finally {
      mock.timers.reset();
      mock.restoreAll();
    }
  });

  it("rejects with Unauthenticated when the function throws or answers no usable key", async () => {
    const reached: Reached[] = [];
    const cause = new Error("the vault is sealed");
    const cases: [string, () => string | Promise<string>, RegExp][] = [
      ["throws", () => { throw cause; }, /the apiKey function failed: the vault is sealed/],
      ["rejects", () => Promise.reject(cause), /the apiKey function failed: the vault is sealed/],
      ["rejects with a string", () => Promise.reject("sealed"), /the apiKey function failed: sealed/],
      ["answers an empty key", () => "", /apiKey is required/],
      ["answers a key with spaces", async () => "a b\r\nX-Evil: 1", /spaces or control characters/],
      ["answers no string", () => undefined as unknown as string, /apiKey is required/],
    ];
    for (const [what, apiKey, message] of cases) {
      const client = createFlowhookClient({ transport: answering(reached), apiKey });
      const err = await client.identity.whoAmI({}).then(() => assert.fail(`a function that ${what} was answered`), (e: unknown) => e);
      assert.ok(err instanceof ConnectError, `${what}: ${String(err)}`);
      assert.equal(err.code, Code.Unauthenticated, what);
      assert.match(err.rawMessage, message, what);
      if (what === "throws" || what === "rejects") {
        assert.equal(err.cause, cause, what);
      }
    }
    // A ConnectError of its own (a refresh over Connect that failed) keeps its code.
    const down = new ConnectError("the token service is down", Code.Unavailable);
    const client = createFlowhookClient({ transport: answering(reached), apiKey: () => Promise.reject(down) });
    await assert.rejects(client.identity.whoAmI({}), (e) => e === down);
    assert.deepEqual(reached, []);
  });
});

describe("the package's exports", () => {
  it("re-exports every generated message, enum and service", async () => {
    const genDir = join(sdkDir(), "dist", "gen", "flowhook", "v1");
    const files = readdirSync(genDir).filter((f) => f.endsWith("_pb.js"));
    assert.equal(files.length, 6, files.join(", "));
    for (const f of files) {
      const mod = (await import(pathToFileURL(join(genDir, f)).href)) as Record<string, unknown>;
      for (const [name, value] of Object.entries(mod)) {
        assert.equal((sdk as Record<string, unknown>)[name], value, `@flowhook/sdk exports ${name} of ${f}`);
        assert.equal((sdkNode as Record<string, unknown>)[name], value, `@flowhook/sdk/node exports ${name} of ${f}`);
      }
    }
    for (const svc of [sdk.WorkflowDesignService, sdk.WorkflowInstanceService, sdk.IdentityService, sdk.ProviderSettingsService, sdk.EventLogService]) {
      assert.equal(svc.kind, "service");
    }
    assert.equal(sdk.Role.ADMIN, 1);
  });
});
