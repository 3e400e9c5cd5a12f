// The SDK against the running server: the whole life of a signing workflow, as a front end
// drives it, with DocuSign played by the provider fakes.
import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import {
  ActivityKind,
  Code,
  ConnectError,
  EventStep,
  InstanceSchema,
  InstanceStatus,
  Outcome,
  Provider,
  Role,
  Verdict,
  createFlowhookClient,
  describeError,
  equals,
  errorCode,
  validationProblems,
  type FlowhookClient,
  type Instance,
} from "@flowhook/sdk";
import { Fakes, Server, Stage, eventually } from "./harness.js";
import { signingDraft } from "./workflow.js";

interface DocuSignAccount {
  accountId: string;
  integrationKey: string;
  userId: string;
  privateKeyPem: string;
  hmacKeys: string[];
}

interface ActionResult {
  status: string;
  deliveries: { event: string; statusCode: number; url: string }[];
}

describe("a signing workflow through the SDK", () => {
  let server: Server;
  let fakes: Fakes;
  let admin: FlowhookClient;
  let alice: FlowhookClient;
  let aliceId: string;
  let legalId: string;
  let workflowId: string;
  let account: DocuSignAccount;
  const stage = Stage.setUp();

  before(() => {
    ({ server, fakes } = stage);
    admin = createFlowhookClient({ baseUrl: server.baseUrl, apiKey: server.adminKey });
  });

  it("configures DocuSign and the Webhook Receiver debug option", async () => {
    account = await fakes.control<DocuSignAccount>("GET", "/docusign/account");
    stage.secret(account.hmacKeys[0]!, account.privateKeyPem.split("\n")[1]!);
    // As the README does: read the settings, then save at their revision (0: never saved).
    const { settings: docusign } = await admin.settings.getDocuSignSettings({});
    assert.equal(docusign?.revision, 0n);
    const saved = await admin.settings.updateDocuSignSettings({
      accountId: account.accountId,
      integrationKey: account.integrationKey,
      userId: account.userId,
      oauthBaseUrl: fakes.urls.docusign,
      privateKeyPem: account.privateKeyPem,
      hmacKeys: account.hmacKeys,
      replaceHmacKeys: true,
      expectedRevision: docusign!.revision,
    });
    assert.equal(saved.settings?.privateKeySet, true);
    assert.equal(saved.settings?.hmacKeyCount, 1);
    assert.equal(saved.settings?.webhookUrl, server.baseUrl + "/webhooks/DocuSign");
    // Secrets are write-only: nothing in the answer holds them.
    assert.ok(!JSON.stringify(saved.settings, (_k, v) => (typeof v === "bigint" ? String(v) : v)).includes(account.hmacKeys[0]!));

    const test = await admin.settings.testProviderConnection({ provider: Provider.DOCUSIGN });
    assert.equal(test.ok, true, test.message);

    // UpdateSecuritySettings replaces every value: the others are carried over.
    const { $typeName: _, revision, updatedAt: _at, ...current } = (await admin.settings.getSecuritySettings({})).settings!;
    const security = await admin.settings.updateSecuritySettings({ ...current, webhookReceiverDebug: true, expectedRevision: revision });
    assert.equal(security.settings?.webhookReceiverDebug, true);
  });

  it("sets up a group, a user and her API key", async () => {
    const group = await admin.identity.createGroup({ name: "legal" });
    legalId = group.group!.id;
    const user = await admin.identity.createUser({ displayName: "Alice", email: "alice@example.com", roles: [Role.USER] });
    aliceId = user.user!.id;
    await admin.identity.addGroupMember({ groupId: legalId, userId: aliceId });
    const key = await admin.identity.createApiKey({ userId: aliceId, name: "sdk test" });
    assert.ok(key.secret.length >= 20);
    stage.secret(key.secret);
    alice = createFlowhookClient({ baseUrl: server.baseUrl, apiKey: key.secret });
    const me = await alice.identity.whoAmI({});
    assert.equal(me.user?.email, "alice@example.com");
    assert.deepEqual(me.groupIds, [legalId]);
  });

  it("designs, validates and publishes the workflow", async () => {
    const draft = signingDraft("Contract signing", legalId);
    const checked = await admin.design.validateWorkflow({ workflow: draft });
    assert.deepEqual(checked.problems, [], "a valid draft has no problems");
    const created = await admin.design.createWorkflow({ workflow: draft });
    workflowId = created.workflow!.id;
    assert.equal(created.workflow?.revision, 1n);
    const published = await admin.design.publishWorkflow({ workflowId, expectedRevision: 1n });
    assert.equal(published.version?.version, 1);
    const submit = published.version?.transitions.find((t) => t.key === "submit");
    assert.equal(submit?.actions.length, 1, "the transition into the DocuSign state creates an envelope");
    const versions = await admin.design.listWorkflowVersions({ workflowId });
    assert.deepEqual(versions.versions.map((v) => v.version), [1]);
  });

  let instance: Instance;
  let envelopeId: string;

  it("starts an instance that waits on a DocuSign envelope", async () => {
    const start = {
      workflowId,
      formData: { signer_name: "Ada Lovelace", signer_email: "Ada@Example.com", amount: 1200.5 },
      requestId: "sdk-test-1",
    };
    const started = await alice.instances.startInstance(start);
    instance = started.instance!;
    assert.equal(instance.stateKey, "sign");
    assert.equal(instance.status, InstanceStatus.WAITING_EXTERNAL);
    assert.equal(instance.provider, Provider.DOCUSIGN);
    assert.equal(instance.formData?.["signer_email"], "ada@example.com", "emails are kept lower-case");

    // The same request id with the same input returns the same instance: a front end may retry
    // safely. With other input it is refused, as idempotency keys are (Stripe's, for one).
    const again = await alice.instances.startInstance(start);
    assert.equal(again.instance?.id, instance.id);
    const reused = await alice.instances
      .startInstance({ ...start, formData: { signer_name: "Ada Lovelace", signer_email: "ada@example.com" } })
      .then(() => undefined, (err: unknown) => err);
    assert.equal(errorCode(reused), Code.AlreadyExists, "a request id reused with other input is refused");

    // The envelope is created by a job just after the transition commits.
    instance = await eventually("the envelope is created and coupled", async () => {
      const got = await alice.instances.getInstance({ instanceId: instance.id });
      return got.instance?.workItem?.externalId ? got.instance : undefined;
    });
    envelopeId = instance.workItem!.externalId;
    const { envelopes } = await fakes.control<{ envelopes: { envelopeId: string; status: string; subject: string }[] }>("GET", "/docusign/envelopes");
    const envelope = envelopes.find((e) => e.envelopeId.toLowerCase() === envelopeId.toLowerCase());
    assert.ok(envelope, "DocuSign holds the envelope the instance is coupled to");
    assert.equal(envelope.status, "sent");
    assert.equal(envelope.subject, "Please sign your contract");
  });

  it("moves on when DocuSign's webhook reports the envelope completed", async () => {
    const done = await fakes.control<ActionResult>("POST", `/docusign/envelopes/${envelopeId}/complete`);
    assert.equal(done.status, "completed");
    assert.deepEqual(done.deliveries.map((d) => d.event), ["recipient-completed", "envelope-completed"]);
    for (const d of done.deliveries) {
      assert.equal(d.url, server.baseUrl + "/webhooks/DocuSign");
      assert.equal(d.statusCode, 200, "flowhook acknowledged " + d.event);
    }
    instance = await eventually("the instance reaches countersign", async () => {
      const got = await admin.instances.getInstance({ instanceId: instance.id });
      return got.instance?.stateKey === "countersign" ? got.instance : undefined;
    });
    assert.equal(instance.status, InstanceStatus.ACTIVE);
    assert.equal(instance.workItem?.status, "RESOLVED");
    assert.equal(instance.workItem?.outcome, Outcome.FINISHED);
    assert.deepEqual(instance.assignee?.assignee, { case: "groupId", value: legalId });
  });

  it("lists the instance in alice's work and lets her take the transition", async () => {
    const mine = await alice.instances.listAssignedToMe({});
    assert.deepEqual(mine.instances.map((i) => i.id), [instance.id]);
    assert.equal(mine.instances[0]?.stateKey, "countersign");

    // A stale revision is refused, and changes nothing.
    await assert.rejects(
      alice.instances.takeTransition({ instanceId: instance.id, transitionKey: "archive", expectedRevision: instance.revision - 1n }),
      (err) => errorCode(err) === Code.Aborted,
    );
    const took = await alice.instances.takeTransition({
      instanceId: instance.id,
      transitionKey: "archive",
      formData: { note: "countersigned" },
      expectedRevision: instance.revision,
    });
    assert.equal(took.instance?.stateKey, "done");
    assert.equal(took.instance?.status, InstanceStatus.COMPLETED);
    assert.equal(took.instance?.formData?.["note"], "countersigned");
    assert.deepEqual((await alice.instances.listAssignedToMe({})).instances, []);

    // Taking it twice is a clear error, not a second transition.
    await assert.rejects(
      alice.instances.takeTransition({ instanceId: instance.id, transitionKey: "archive" }),
      (err) => err instanceof ConnectError && err.code === Code.FailedPrecondition,
    );
  });

  it("tells the story in the activity timeline", async () => {
    const { entries } = await alice.instances.listActivity({ instanceId: instance.id });
    const story = entries.map((e) => [ActivityKind[e.kind], e.transitionKey, e.toState].filter(Boolean).join(" "));
    const seq = entries.map((e) => Number(e.sequence));
    assert.deepEqual(seq, seq.map((_, i) => i + 1), "sequence numbers count up from 1");
    const transitions = entries.filter((e) => e.kind === ActivityKind.TRANSITION).map((e) => e.transitionKey);
    assert.deepEqual(transitions, ["submit", "signed", "archive"], story.join("\n"));
    assert.equal(entries[0]?.kind, ActivityKind.STARTED);
    assert.equal(entries[0]?.actorId, aliceId);
    assert.ok(entries.some((e) => e.kind === ActivityKind.OUTCOME), story.join("\n"));
    assert.equal(entries.at(-1)?.kind, ActivityKind.COMPLETED, story.join("\n"));
    const signed = entries.find((e) => e.transitionKey === "signed");
    assert.equal(signed?.actorId, "", "the provider, not a user, took the signed transition");
  });

  it("shows DocuSign's notifications in the Event Log, with their steps", async () => {
    const list = await admin.eventLog.listEvents({ filter: { instanceId: instance.id } });
    const byType = new Map(list.events.map((e) => [e.eventType, e]));
    const completed = byType.get("envelope-completed");
    assert.ok(completed, "envelope-completed is in the Event Log: " + list.events.map((e) => e.eventType).join(", "));
    assert.equal(completed.provider, Provider.DOCUSIGN);
    assert.equal(completed.verdict, Verdict.APPLIED, completed.verdictReason);
    assert.equal(completed.externalId.toLowerCase(), envelopeId.toLowerCase());
    assert.equal(byType.get("recipient-completed")?.verdict, Verdict.PROGRESS);
    assert.equal(list.totalSize, BigInt(list.events.length));

    const got = await admin.eventLog.getEvent({ id: completed.id });
    const steps = got.entries.map((e) => e.step);
    for (const step of [EventStep.RECEIVED, EventStep.AUTHENTICATED, EventStep.PARSED, EventStep.MATCHED, EventStep.OUTCOME, EventStep.TRANSITION, EventStep.VERDICT]) {
      assert.ok(steps.includes(step), `step ${EventStep[step]} is recorded: ${steps.map((s) => EventStep[s]).join(", ")}`);
    }
    const body = JSON.parse(new TextDecoder().decode(got.body)) as { event: string };
    assert.equal(body.event, "envelope-completed");
    // The stored headers keep nothing that authenticates the delivery: no signature, no key.
    for (const [name, value] of Object.entries(got.headers)) {
      assert.ok(!/signature|^authorization$/i.test(name), "kept header " + name);
      assert.ok(!value.includes(account.hmacKeys[0]!), "a header holds the HMAC key");
    }

    // Replaying an applied event never applies it twice.
    const before = await admin.instances.getInstance({ instanceId: instance.id });
    const replay = await admin.eventLog.replayEvent({ id: completed.id });
    assert.equal(replay.previousVerdict, Verdict.APPLIED);
    const verdict = replay.entries.find((e) => e.step === EventStep.VERDICT);
    assert.match(verdict?.message ?? "", /already took effect/, replay.entries.map((e) => e.message).join("\n"));
    const after = await admin.instances.getInstance({ instanceId: instance.id });
    assert.equal(after.instance?.revision, before.instance?.revision, "the replay changed nothing");
    assert.equal(after.instance?.stateKey, "done");

    // Admin only: alice may not read it.
    await assert.rejects(alice.eventLog.listEvents({}), (err) => errorCode(err) === Code.PermissionDenied);
  });

  it("keeps everything across a restart, and the same clients carry on", async () => {
    const before = await admin.instances.getInstance({ instanceId: instance.id });
    // By envelope: a notification that beat the coupling (envelope-sent) is matched to the
    // instance by a job, which may run on either side of the restart.
    const eventsBefore = await admin.eventLog.listEvents({ filter: { externalId: envelopeId } });
    assert.equal(await server.restart(), 0, "the server drains and exits cleanly:\n" + server.output());
    const after = await admin.instances.getInstance({ instanceId: instance.id });
    assert.ok(equals(InstanceSchema, after.instance!, before.instance!), "the instance is as it was");
    assert.equal((await alice.identity.whoAmI({})).user?.id, aliceId, "her key still works");
    const eventsAfter = await admin.eventLog.listEvents({ filter: { externalId: envelopeId } });
    assert.deepEqual(eventsAfter.events.map((e) => e.id), eventsBefore.events.map((e) => e.id));
    // The bootstrap ran on the empty database only: there is still one admin.
    const users = await admin.identity.listUsers({});
    assert.equal(users.users.filter((u) => u.roles.includes(Role.ADMIN)).length, 1);
    // DocuSign keeps reaching it: the next test's webhooks go to the restarted server.
    const settings = await admin.settings.getDocuSignSettings({});
    assert.equal(settings.settings?.webhookUrl, server.baseUrl + "/webhooks/DocuSign");
  });

  it("answers a duplicate webhook delivery without a second transition", async () => {
    const started = await alice.instances.startInstance({ workflowId, formData: { signer_name: "Grace Hopper", signer_email: "grace@example.com" } });
    const waiting = await eventually("the second envelope is coupled", async () => {
      const got = await alice.instances.getInstance({ instanceId: started.instance!.id });
      return got.instance?.workItem?.externalId ? got.instance : undefined;
    });
    // DocuSign posts every message three times: each copy is acknowledged, one counts.
    await fakes.control("PUT", "/docusign/duplicates", { count: 3 });
    let declined: ActionResult;
    try {
      declined = await fakes.control<ActionResult>("POST", `/docusign/envelopes/${waiting.workItem!.externalId}/decline`, { reason: "wrong amount" });
    } finally {
      await fakes.control("PUT", "/docusign/duplicates", { count: 1 });
    }
    assert.equal(declined.status, "declined");
    assert.deepEqual(declined.deliveries.map((d) => d.event), [...Array(3).fill("recipient-declined"), ...Array(3).fill("envelope-declined")]);
    assert.ok(declined.deliveries.every((d) => d.statusCode === 200), "every copy is acknowledged");
    const rejected = await eventually("the instance is rejected", async () => {
      const got = await admin.instances.getInstance({ instanceId: waiting.id });
      return got.instance?.stateKey === "rejected" ? got.instance : undefined;
    });
    assert.equal(rejected.status, InstanceStatus.COMPLETED);
    // The fake's void after a decline is refused by DocuSign's rules: nothing else changes.
    await assert.rejects(fakes.control("POST", `/docusign/envelopes/${waiting.workItem!.externalId}/void`), /409/);
    const { entries } = await admin.instances.listActivity({ instanceId: waiting.id });
    assert.equal(entries.filter((e) => e.transitionKey === "declined").length, 1);
    assert.ok(entries.some((e) => e.message.includes("wrong amount")), "the decline reason is in the timeline");
    // The Event Log keeps one event per notification; the copies are answered as redeliveries.
    const { events } = await admin.eventLog.listEvents({ filter: { externalId: waiting.workItem!.externalId, eventType: "envelope-declined" } });
    assert.equal(events.length, 1, events.map((e) => Verdict[e.verdict]).join(", "));
    assert.equal(events[0]?.verdict, Verdict.APPLIED);
  });

  it("reports a broken draft as InvalidArgument with every problem readable", async () => {
    const broken = signingDraft("Broken", legalId);
    broken.states = broken.states!.filter((s) => s.key !== "start");
    broken.transitions = [...broken.transitions!, { key: "nowhere", fromState: "countersign", toState: "missing" }];
    const err = await admin.design.createWorkflow({ workflow: broken }).then(
      () => assert.fail("a broken draft was accepted"),
      (e: unknown) => e,
    );
    assert.equal(errorCode(err), Code.InvalidArgument);
    const problems = validationProblems(err);
    assert.ok(problems.length >= 2, describeError(err));
    const paths = problems.map((p) => p.path);
    assert.ok(paths.includes("workflow.states"), "the missing START state is reported: " + paths.join(", "));
    assert.ok(paths.some((p) => /^workflow\.transitions\[\d+\]\.to_state$/.test(p)), "the unknown target state is reported: " + paths.join(", "));
    for (const p of problems) {
      assert.ok(p.message.length > 0 && !/panic|goroutine|sql|ent:/i.test(p.message), "a readable message: " + p.message);
    }
    const text = describeError(err);
    assert.match(text, /^invalid_argument: /);
    assert.ok(text.includes("missing"), text);

    // ValidateWorkflow reports the same problems without failing, with paths into the draft
    // (the error's paths are into the request, so they start with "workflow.").
    const checked = await admin.design.validateWorkflow({ workflow: broken });
    assert.deepEqual(checked.problems.map((p) => "workflow." + p.path).sort(), [...paths].sort());
  });

  it("rejects a bad start form with the field at fault", async () => {
    const err = await alice.instances.startInstance({ workflowId, formData: { signer_name: "", signer_email: "not an email" } }).then(
      () => assert.fail("a bad form was accepted"),
      (e: unknown) => e,
    );
    assert.equal(errorCode(err), Code.InvalidArgument, describeError(err));
    const paths = validationProblems(err).map((p) => p.path);
    assert.ok(paths.some((p) => p.includes("signer_email")), paths.join(", "));
  });
});
