// The SDK against the running server: a connector to an outside system, played by the
// fakes' ticketing system, which speaks flowhook's connector protocol (Standard Webhooks
// signatures both ways). An admin registers the connector, a workflow waits on a ticket, an
// agent approves it, and the Event Log shows the signed callback that moved the instance.
import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import {
  ActionKind,
  ActivityKind,
  Code,
  ConnectorSchema,
  FieldType,
  InstanceStatus,
  Outcome,
  Provider,
  StateKind,
  Verdict,
  createFlowhookClient,
  describeError,
  errorCode,
  pages,
  toJsonString,
  validationProblems,
  type Connector,
  type FlowhookClient,
  type Instance,
  type MessageInitShape,
  type WorkflowDraftSchema,
} from "@flowhook/sdk";
import { Fakes, Server, Stage, eventually } from "./harness.js";

/** GET /tickets/account: what CreateConnector needs. */
interface TicketsAccount {
  signingSecret: string;
  createUrl: string;
  statusUrl: string;
  cancelUrl: string;
  /** Event type → outcome name, e.g. "ticket.approved" → "APPROVED". */
  outcomes: Record<string, string>;
}

interface Ticket {
  id: string;
  workItemId: string;
  state: string;
  latestType: string;
  reason: string;
}

interface TicketAction {
  id: string;
  status: string;
  deliveries: { id: string; event: string; statusCode: number; url: string; error?: string }[];
}

/** Maps the fake's outcome names ("APPROVED") to the SDK's Outcome enum. */
function outcomesOf(account: TicketsAccount): Record<string, Outcome> {
  const out: Record<string, Outcome> = {};
  for (const [type, name] of Object.entries(account.outcomes)) {
    const o = Outcome[name as keyof typeof Outcome];
    assert.ok(o !== undefined && o !== Outcome.UNSPECIFIED, `the fake's outcome ${name} (for ${type}) is an Outcome`);
    out[type] = o;
  }
  return out;
}

/** A credit check: the start form goes to the ticketing system as a ticket, with its PDF. */
function ticketsDraft(name: string, connector: string): MessageInitShape<typeof WorkflowDraftSchema> {
  return {
    name,
    description: "A ticket in the ticketing system, approved or rejected by an agent",
    states: [
      {
        key: "start",
        name: "Request",
        kind: StateKind.START,
        formFields: [
          { name: "customer", label: "Customer", type: FieldType.STRING, required: true },
          { name: "amount", label: "Amount", type: FieldType.NUMBER },
        ],
      },
      {
        key: "ticket",
        name: "Credit check",
        kind: StateKind.EXTERNAL,
        external: { provider: Provider.CONNECTOR, connector, includeDocument: true, documentTitle: "Credit request" },
      },
      { key: "approved", name: "Approved", kind: StateKind.END },
      { key: "done", name: "Done", kind: StateKind.END },
      { key: "rejected", name: "Rejected", kind: StateKind.END },
    ],
    transitions: [
      { key: "submit", fromState: "start", toState: "ticket" },
      { key: "approve", fromState: "ticket", toState: "approved", onOutcome: Outcome.APPROVED },
      { key: "resolve", fromState: "ticket", toState: "done", onOutcome: Outcome.FINISHED },
      { key: "deny", fromState: "ticket", toState: "rejected", onOutcome: Outcome.DENIED },
      { key: "delete", fromState: "ticket", toState: "rejected", onOutcome: Outcome.DELETED },
      { key: "expire", fromState: "ticket", toState: "rejected", onOutcome: Outcome.EXPIRED },
    ],
  };
}

/** A connector as JSON, to look for secrets in it. */
function text(c: Connector | undefined): string {
  assert.ok(c, "a connector");
  return toJsonString(ConnectorSchema, c);
}

describe("a connector to an outside system through the SDK", () => {
  let server: Server;
  let fakes: Fakes;
  let admin: FlowhookClient;
  let account: TicketsAccount;
  let tickets: Connector;
  let workflowId: string;
  let instance: Instance;
  let ticketId: string;
  const stage = Stage.setUp();

  before(() => {
    ({ server, fakes } = stage);
    admin = createFlowhookClient({ baseUrl: server.baseUrl, apiKey: server.adminKey });
  });

  it("registers the ticketing system as the connector \"tickets\"", async () => {
    account = await fakes.control<TicketsAccount>("GET", "/tickets/account");
    assert.match(account.signingSecret, /^whsec_/);
    stage.secret(account.signingSecret);
    const outcomes = outcomesOf(account);
    assert.equal(outcomes["ticket.approved"], Outcome.APPROVED);

    const created = await admin.settings.createConnector({
      name: "tickets",
      displayName: "Tickets",
      createUrl: account.createUrl,
      statusUrl: account.statusUrl,
      cancelUrl: account.cancelUrl,
      outcomes,
      signingSecret: account.signingSecret,
    });
    assert.equal(created.signingSecret, "", "a secret given is not returned");
    tickets = created.connector!;
    assert.equal(tickets.name, "tickets");
    assert.equal(tickets.displayName, "Tickets");
    assert.equal(tickets.createUrl, account.createUrl);
    assert.equal(tickets.statusUrl, account.statusUrl);
    assert.equal(tickets.cancelUrl, account.cancelUrl);
    assert.deepEqual(tickets.outcomes, outcomes);
    assert.equal(tickets.webhookUrl, server.baseUrl + "/webhooks/c2i/tickets");
    assert.equal(tickets.signingSecretSet, true);
    assert.equal(tickets.authHeaderSet, false);
    assert.equal(tickets.revision, 1n);
    assert.ok(tickets.createdAt, "created_at is set");
    // The fake listens on plain http: the connector says what that means.
    assert.ok(tickets.warnings.some((w) => w.startsWith("create_url is not https")), tickets.warnings.join("\n"));
    // Secrets are write-only: nothing in the answer holds it.
    assert.ok(!text(tickets).includes(account.signingSecret), "the connector holds its secret");

    const got = await admin.settings.getConnector({ name: "tickets" });
    assert.equal(got.connector?.webhookUrl, tickets.webhookUrl);
    assert.equal(got.connector?.revision, 1n);
    assert.deepEqual(got.connector?.outcomes, outcomes);
    assert.ok(!text(got.connector).includes(account.signingSecret), "Get returns the secret");

    const list = await admin.settings.listConnectors({ pageSize: 1 });
    assert.deepEqual(list.connectors.map((c) => c.name), ["tickets"]);
    assert.equal(list.totalSize, 1n);
    assert.equal(list.nextPageToken, "", "one connector fills one page");
  });

  it("refuses a second connector of the same name, and a malformed one with every problem", async () => {
    const again = await admin.settings.createConnector({ name: "tickets", createUrl: account.createUrl }).then(
      () => assert.fail("a second connector named tickets was created"),
      (e: unknown) => e,
    );
    assert.equal(errorCode(again), Code.AlreadyExists, describeError(again));

    const err = await admin.settings
      .createConnector({
        name: "Bad Name",
        statusUrl: "ftp://tickets.example.com/{id}",
        outcomes: { "ticket.approved": Outcome.UNSPECIFIED },
        signingSecret: "not-a-secret",
        authHeader: "no colon",
      })
      .then(
        () => assert.fail("a malformed connector was created"),
        (e: unknown) => e,
      );
    assert.equal(errorCode(err), Code.InvalidArgument, describeError(err));
    const problems = validationProblems(err);
    const paths = problems.map((p) => p.path);
    for (const path of ["name", "create_url", "status_url", 'outcomes["ticket.approved"]', "signing_secret", "auth_header"]) {
      assert.ok(paths.includes(path), `${path} is reported: ${paths.join(", ")}`);
    }
    for (const p of problems) {
      assert.ok(p.message.length > 0, "a message for " + p.path);
      assert.ok(!p.message.includes("not-a-secret"), "a refused secret is never quoted");
    }
    await assert.rejects(admin.settings.getConnector({ name: "bad-name" }), (e) => errorCode(e) === Code.NotFound);
  });

  it("designs and publishes a workflow that waits on a ticket", async () => {
    const draft = ticketsDraft("Credit check", "tickets");
    const checked = await admin.design.validateWorkflow({ workflow: draft });
    assert.deepEqual(checked.problems, [], "a valid draft has no problems");
    const created = await admin.design.createWorkflow({ workflow: draft });
    workflowId = created.workflow!.id;
    const ticket = created.workflow?.draft?.states.find((s) => s.key === "ticket");
    assert.equal(ticket?.external?.provider, Provider.CONNECTOR);
    assert.equal(ticket?.external?.connector, "tickets");
    assert.equal(ticket?.external?.includeDocument, true);

    const published = await admin.design.publishWorkflow({ workflowId, expectedRevision: created.workflow!.revision });
    assert.equal(published.version?.version, 1);
    const submit = published.version?.transitions.find((t) => t.key === "submit");
    assert.deepEqual(submit?.actions.map((a) => a.kind), [ActionKind.CONNECTOR_CREATE_WORK_ITEM], "entering the ticket state creates a work item at the connector");
    const approve = published.version?.transitions.find((t) => t.key === "approve");
    assert.deepEqual(approve?.actions, [], "leaving it creates nothing");

    // A workflow may not name a connector that does not exist.
    const nowhere = await admin.design.validateWorkflow({ workflow: ticketsDraft("Nowhere", "no-such-connector") });
    const problems = nowhere.problems.map((p) => `${p.path}: ${p.message}`);
    assert.equal(problems.length, 1, problems.join("\n"));
    assert.equal(nowhere.problems[0]?.path, "states[1].external.connector", problems.join("\n"));
    assert.match(nowhere.problems[0]?.message ?? "", /no-such-connector/);
  });

  it("starts an instance that waits on a ticket in the outside system", async () => {
    const started = await admin.instances.startInstance({
      workflowId,
      formData: { customer: "Ada Lovelace", amount: 1200.5 },
      requestId: "sdk-connector-1",
    });
    instance = started.instance!;
    assert.equal(instance.stateKey, "ticket");
    assert.equal(instance.status, InstanceStatus.WAITING_EXTERNAL);
    assert.equal(instance.provider, Provider.CONNECTOR);
    assert.equal(instance.connector, "tickets");

    // The ticket is created by a job just after the transition commits; the create is
    // answered once the system has posted ticket.created back.
    instance = await eventually("the ticket is created and coupled", async () => {
      const got = await admin.instances.getInstance({ instanceId: instance.id });
      return got.instance?.workItem?.externalId ? got.instance : undefined;
    });
    const workItem = instance.workItem!;
    ticketId = workItem.externalId;
    assert.match(ticketId, /^TCK-(?:[A-Z0-9]{4}-)?\d+$/); // the fakes number each start's tickets under a prefix of its own
    assert.equal(workItem.provider, Provider.CONNECTOR);
    assert.equal(workItem.connector, "tickets");
    assert.equal(workItem.status, "WAITING");

    const list = await fakes.control<{ tickets: Ticket[] }>("GET", "/tickets/tickets");
    const ticket = list.tickets.find((t) => t.id === ticketId);
    assert.ok(ticket, "the ticketing system holds the ticket the instance is coupled to");
    assert.equal(ticket.workItemId, workItem.id, "the work item's id is the create's Idempotency-Key");
    assert.equal(ticket.state, "ticket");
    assert.equal(ticket.latestType, "ticket.created");

    // ticket.created was posted before the create answered, so it waited for the coupling; a
    // job applies it a moment later as progress. Wait for that before the ticket moves on (an
    // outcome first would make it stale).
    const created = await eventually("ticket.created is applied as progress", async () => {
      const { events } = await admin.eventLog.listEvents({ filter: { provider: Provider.CONNECTOR, connector: "tickets", externalId: ticketId, eventType: "ticket.created" } });
      return events.length === 1 && events[0]!.verdict !== Verdict.PENDING ? events[0] : undefined;
    });
    assert.equal(created.verdict, Verdict.PROGRESS, created.verdictReason);
    assert.equal(created.instanceId, instance.id);
  });

  it("moves on when the agent approves the ticket", async () => {
    const approved = await fakes.control<TicketAction>("POST", `/tickets/tickets/${ticketId}/approve`, { reason: "good standing" });
    assert.equal(approved.status, "ticket.approved");
    assert.deepEqual(approved.deliveries.map((d) => d.event), ["ticket.approved"]);
    for (const d of approved.deliveries) {
      assert.equal(d.url, server.baseUrl + "/webhooks/c2i/tickets");
      assert.equal(d.statusCode, 200, "flowhook acknowledged " + d.event + (d.error ? ": " + d.error : ""));
    }

    instance = await eventually("the instance reaches the approved end", async () => {
      const got = await admin.instances.getInstance({ instanceId: instance.id });
      return got.instance?.status === InstanceStatus.COMPLETED ? got.instance : undefined;
    });
    assert.equal(instance.stateKey, "approved", "the APPROVED outcome took the approve transition");
    assert.equal(instance.workItem?.status, "RESOLVED");
    assert.equal(instance.workItem?.outcome, Outcome.APPROVED);
    assert.ok(instance.workItem?.resolvedAt, "resolved_at is set");

    const { entries } = await admin.instances.listActivity({ instanceId: instance.id });
    const story = entries.map((e) => `${ActivityKind[e.kind]} ${e.transitionKey} ${e.message}`).join("\n");
    const outcome = entries.find((e) => e.kind === ActivityKind.OUTCOME);
    assert.ok(outcome, "the outcome is in the timeline:\n" + story);
    assert.match(outcome.message, /tickets/, story);
    assert.match(outcome.message, /ticket\.approved/, story);
    assert.match(outcome.message, /APPROVED/, story);
    assert.equal(outcome.actorId, "", "the outside system, not a user, reported it");
    assert.deepEqual(entries.filter((e) => e.kind === ActivityKind.TRANSITION).map((e) => e.transitionKey), ["submit", "approve"], story);
    assert.equal(entries.at(-1)?.kind, ActivityKind.COMPLETED, story);
  });

  it("shows the ticket's signed callbacks in the Event Log, by connector", async () => {
    const filter = { provider: Provider.CONNECTOR, connector: "tickets", externalId: ticketId };
    const { events, totalSize } = await admin.eventLog.listEvents({ filter });
    const verdicts = events.map((e) => `${e.eventType} ${Verdict[e.verdict]}`).sort();
    assert.deepEqual(verdicts, ["ticket.approved APPLIED", "ticket.created PROGRESS"]);
    assert.equal(totalSize, 2n);
    const applied = events.find((e) => e.eventType === "ticket.approved")!;
    assert.equal(applied.provider, Provider.CONNECTOR);
    assert.equal(applied.connector, "tickets");
    assert.equal(applied.externalId, ticketId);
    assert.equal(applied.instanceId, instance.id);
    assert.equal(applied.workItemId, instance.workItem?.id);

    // What was stored of the delivery authenticates nothing: no signature, no secret.
    const got = await admin.eventLog.getEvent({ id: applied.id });
    for (const [name, value] of Object.entries(got.headers)) {
      assert.ok(!/signature|^authorization$/i.test(name), "kept header " + name);
      assert.ok(!value.includes(account.signingSecret), "a header holds the signing secret");
    }
    const body = JSON.parse(new TextDecoder().decode(got.body)) as { type: string; data: { id: string; reason: string } };
    assert.deepEqual(body.data, { id: ticketId, reason: "good standing" });
    assert.equal(body.type, "ticket.approved");

    // Another connector's name finds nothing; so does another provider.
    const other = await admin.eventLog.listEvents({ filter: { ...filter, connector: "other" } });
    assert.deepEqual(other.events, []);
    const docusign = await admin.eventLog.listEvents({ filter: { provider: Provider.DOCUSIGN, externalId: ticketId } });
    assert.deepEqual(docusign.events, []);
  });

  it("lists the instance by provider and connector", async () => {
    const found = await admin.instances.listInstances({ filter: { provider: Provider.CONNECTOR, connector: "tickets" } });
    assert.deepEqual(found.instances.map((i) => i.id), [instance.id]);
    assert.equal(found.instances[0]?.connector, "tickets");
    const byTicket = await admin.instances.listInstances({ filter: { provider: Provider.CONNECTOR, externalId: ticketId } });
    assert.deepEqual(byTicket.instances.map((i) => i.id), [instance.id]);
    const none = await admin.instances.listInstances({ filter: { provider: Provider.CONNECTOR, connector: "other" } });
    assert.deepEqual(none.instances, []);
  });

  it("updates the connector at its revision, and keeps it while a workflow uses it", async () => {
    const update = {
      name: "tickets",
      displayName: "Ticketing",
      createUrl: account.createUrl,
      statusUrl: account.statusUrl,
      cancelUrl: account.cancelUrl,
      outcomes: outcomesOf(account),
    };
    // A stale revision is refused, and changes nothing.
    await assert.rejects(
      admin.settings.updateConnector({ ...update, expectedRevision: tickets.revision + 1n }),
      (err) => errorCode(err) === Code.Aborted,
    );
    assert.equal((await admin.settings.getConnector({ name: "tickets" })).connector?.displayName, "Tickets");

    const updated = await admin.settings.updateConnector({ ...update, expectedRevision: tickets.revision });
    tickets = updated.connector!;
    assert.equal(tickets.displayName, "Ticketing");
    assert.equal(tickets.revision, 2n);
    assert.equal(tickets.signingSecretSet, true, "an empty signing secret keeps the stored one");
    assert.equal(tickets.previousSigningSecretValidUntil, undefined, "no secret was replaced");
    assert.ok(!text(tickets).includes(account.signingSecret));

    // The published version names it: it cannot go.
    const err = await admin.settings.deleteConnector({ name: "tickets" }).then(
      () => assert.fail("a connector in use was deleted"),
      (e: unknown) => e,
    );
    assert.equal(errorCode(err), Code.FailedPrecondition, describeError(err));
    assert.match(describeError(err), /in use/);
    assert.equal((await admin.settings.getConnector({ name: "tickets" })).connector?.revision, 2n, "still there");
  });

  it("generates a signing secret when none is given, shows it once, and deletes a connector no one uses", async () => {
    const created = await admin.settings.createConnector({
      name: "helpdesk",
      createUrl: "https://helpdesk.example.com/api/items",
      statusUrl: "https://helpdesk.example.com/api/items/{id}",
      outcomes: { "item.done": Outcome.FINISHED },
    });
    const secret = created.signingSecret;
    assert.match(secret, /^whsec_[A-Za-z0-9+/=]{32,}$/, "a generated Standard Webhooks secret");
    stage.secret(secret);
    const helpdesk = created.connector!;
    assert.equal(helpdesk.signingSecretSet, true);
    assert.equal(helpdesk.displayName, "helpdesk", "the display name defaults to the name");
    assert.equal(helpdesk.webhookUrl, server.baseUrl + "/webhooks/c2i/helpdesk");
    assert.ok(!text(helpdesk).includes(secret), "the connector holds its secret");
    const got = await admin.settings.getConnector({ name: "helpdesk" });
    assert.equal(got.connector?.signingSecretSet, true);
    assert.ok(!text(got.connector).includes(secret), "Get shows the secret again");

    // Listed by name, a page at a time.
    const names: string[] = [];
    let count = 0;
    for await (const page of pages(admin.settings.listConnectors, { pageSize: 1 })) {
      count++;
      assert.equal(page.totalSize, 2n);
      names.push(...page.connectors.map((c) => c.name));
    }
    assert.deepEqual(names, ["helpdesk", "tickets"]);
    assert.equal(count, 2);

    // No workflow names it: it goes, and is gone.
    await admin.settings.deleteConnector({ name: "helpdesk" });
    await assert.rejects(admin.settings.getConnector({ name: "helpdesk" }), (err) => errorCode(err) === Code.NotFound);
    await assert.rejects(admin.settings.deleteConnector({ name: "helpdesk" }), (err) => errorCode(err) === Code.NotFound);
    const left = await admin.settings.listConnectors({});
    assert.deepEqual(left.connectors.map((c) => c.name), ["tickets"]);
  });
});
