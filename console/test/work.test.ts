// Inbox, Start, Form Activity and the sandbox buttons against the real `flowhook dev`: the start
// form checked in the browser and by the server, group work in a member's inbox, the whole
// DocuSign loop clicked through (human approval, the sandbox's "complete", the signed
// document), what admins and users each see, cancel, and live updates.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import type { Browser } from "puppeteer-core";
import { Dev, launch, open, screenshot, type ConsolePage } from "./harness.js";
import { makeFailedInstance } from "./drivers/admin.js";
import { fillByLabel, instanceStatus, sandboxAction, startInstance, takeTransitionFromInbox, waitForInstanceStatus } from "./drivers/work.js";

let dev: Dev;
let browser: Browser;
let requester: { id: string; key: string };
let ann: { id: string; key: string };
let lena: { id: string; key: string };
let legalId: string;
let contractId: string;
let approvedId: string;
let reviewId: string;

const CONTRACT = "Contract signing";
const APPROVED = "Approval by signature";
const REVIEW = "Legal review";

async function publish(draft: unknown): Promise<string> {
  const { workflow } = await dev.rpc("WorkflowDesignService/CreateWorkflow", { workflow: draft });
  await dev.rpc("WorkflowDesignService/PublishWorkflow", { workflowId: workflow.id, expectedRevision: workflow.revision });
  return workflow.id;
}

const startForm = [
  { name: "signer_name", label: "Signer", type: "FIELD_TYPE_STRING", required: true },
  { name: "signer_email", label: "Signer email", type: "FIELD_TYPE_EMAIL", required: true },
  { name: "amount", label: "Amount", type: "FIELD_TYPE_NUMBER" },
  { name: "due", label: "Due date", type: "FIELD_TYPE_DATE" },
  { name: "urgent", label: "Urgent", type: "FIELD_TYPE_BOOL" },
];

before(async () => {
  [dev, browser] = await Promise.all([Dev.start(), launch()]);
  requester = await dev.user("rita@example.com", ["ROLE_USER"], "Rita Requester");
  ann = await dev.user("ann@example.com", ["ROLE_USER"], "Ann Approver");
  lena = await dev.user("lena@example.com", ["ROLE_USER"], "Lena Legal");
  const { group } = await dev.rpc("IdentityService/CreateGroup", { name: "legal", description: "Legal team" });
  legalId = group.id;
  await dev.rpc("IdentityService/AddGroupMember", { groupId: legalId, userId: lena.id });

  contractId = await publish({
    name: CONTRACT,
    description: "Approved by a manager, then signed at DocuSign.",
    states: [
      { key: "start", name: "Request", kind: "STATE_KIND_START", formFields: startForm },
      {
        key: "approve",
        name: "Manager approval",
        kind: "STATE_KIND_HUMAN",
        assignee: { userId: ann.id },
        formFields: [{ name: "comment", label: "Comment", type: "FIELD_TYPE_STRING", required: true }],
      },
      {
        key: "sign",
        name: "Signature",
        kind: "STATE_KIND_EXTERNAL",
        external: {
          provider: "PROVIDER_DOCUSIGN",
          emailSubject: "Please sign your contract",
          documentTitle: "Contract",
          includeDocument: true,
          signers: [{ nameField: "signer_name", emailField: "signer_email" }],
        },
      },
      { key: "done", name: "Signed", kind: "STATE_KIND_END" },
      { key: "declined", name: "Declined", kind: "STATE_KIND_END" },
      { key: "rejected", name: "Rejected", kind: "STATE_KIND_END" },
    ],
    transitions: [
      { key: "submit", name: "Submit", fromState: "start", toState: "approve" },
      { key: "approve", name: "Approve", fromState: "approve", toState: "sign" },
      { key: "reject", name: "Reject", fromState: "approve", toState: "rejected" },
      { key: "signed", fromState: "sign", toState: "done", onOutcome: "OUTCOME_FINISHED" },
      { key: "declined", fromState: "sign", toState: "declined", onOutcome: "OUTCOME_DENIED" },
    ],
  });
  approvedId = await publish({
    name: APPROVED,
    states: [
      { key: "start", name: "Request", kind: "STATE_KIND_START", formFields: startForm },
      {
        key: "sign",
        name: "Approval",
        kind: "STATE_KIND_EXTERNAL",
        external: {
          provider: "PROVIDER_DOCUSIGN",
          emailSubject: "Please approve",
          documentTitle: "Approval",
          signers: [{ nameField: "signer_name", emailField: "signer_email" }],
          outcomeOverrides: { "envelope-completed": "OUTCOME_APPROVED" },
        },
      },
      { key: "done", name: "Approved", kind: "STATE_KIND_END" },
      { key: "no", name: "Denied", kind: "STATE_KIND_END" },
    ],
    transitions: [
      { key: "submit", fromState: "start", toState: "sign" },
      { key: "approved", fromState: "sign", toState: "done", onOutcome: "OUTCOME_APPROVED" },
      { key: "denied", fromState: "sign", toState: "no", onOutcome: "OUTCOME_DENIED" },
    ],
  });
  reviewId = await publish({
    name: REVIEW,
    states: [
      { key: "start", name: "Request", kind: "STATE_KIND_START", formFields: [{ name: "topic", label: "Topic", type: "FIELD_TYPE_STRING", required: true }] },
      {
        key: "review",
        name: "Legal check",
        kind: "STATE_KIND_HUMAN",
        assignee: { groupId: legalId },
        timeout: "172800s",
        formFields: [{ name: "verdict", label: "Verdict", type: "FIELD_TYPE_STRING" }],
      },
      { key: "done", name: "Reviewed", kind: "STATE_KIND_END" },
    ],
    transitions: [
      { key: "submit", fromState: "start", toState: "review" },
      { key: "finish", name: "Finish review", fromState: "review", toState: "done" },
      { key: "late", name: "Too late", fromState: "review", toState: "done", onTimeout: true },
    ],
  });
});
after(async () => {
  await browser?.close();
  await dev?.stop();
});

async function instancesOf(workflowId: string): Promise<any[]> {
  const res = await dev.rpc("WorkflowInstanceService/ListInstances", { filter: { workflowId } });
  return res.instances ?? [];
}

const text = (cp: ConsolePage, sel: string) => cp.page.$eval(sel, (e) => (e as HTMLElement).innerText.trim());

test("start: the form's problems are shown at the fields before any call, the server's at its field", async () => {
  // Admins and designers pick from the published workflows.
  const admin = await open(browser, dev, dev.adminKey, "/console/start");
  await admin.page.waitForSelector("#workflow-list");
  const names = await admin.page.$$eval("#workflow-list h2", (hs) => hs.map((h) => h.textContent));
  assert.deepEqual([...names].sort(), [APPROVED, CONTRACT, REVIEW].sort());
  await admin.axe("start: workflow list");
  await admin.close();

  // A user lists them too (ListPublishedWorkflows: published versions, never drafts), and finds
  // one by name.
  const cp = await open(browser, dev, requester.key, "/console/start");
  await cp.page.waitForSelector("#workflow-list");
  const seen = await cp.page.$$eval("#workflow-list h2", (hs) => hs.map((h) => h.textContent));
  assert.deepEqual([...seen].sort(), [APPROVED, CONTRACT, REVIEW].sort());
  await cp.axe("start: a user's workflow list");
  await fillByLabel(cp, ".filters", { "Find a workflow": "no such workflow" });
  await cp.page.waitForSelector("#start-empty");
  await cp.waitForText("No published workflow matches.");
  await fillByLabel(cp, ".filters", { "Find a workflow": CONTRACT });
  await cp.page.waitForFunction(
    (name) => Array.from(document.querySelectorAll("#workflow-list h2")).map((h) => h.textContent).join("|") === name,
    { polling: 100, timeout: 20_000 },
    CONTRACT,
  );

  const calls: string[] = [];
  cp.page.on("request", (r) => {
    if (r.url().includes("StartInstance")) calls.push(r.url());
  });
  await cp.page.locator(`#workflow-list a[aria-label="Start ${CONTRACT}"]`).click();
  await cp.page.waitForSelector("#start-form");
  assert.equal(new URL(cp.page.url()).pathname, `/console/start/${contractId}`);
  await cp.page.click("#start-submit");
  await cp.waitForText("Signer is required");
  await cp.waitForText("Signer email is required");
  assert.equal(await cp.page.$eval("[aria-invalid=true]", (e) => e === document.activeElement), true, "focus moves to the first problem");

  await fillByLabel(cp, "#start-form", { Signer: "Sam Signer", "Signer email": "not-an-email", Amount: "12x" });
  await cp.page.click("#start-submit");
  await cp.waitForText('Signer email "not-an-email" is not an email address');
  await cp.waitForText("Amount must be a number");
  assert.equal(await cp.page.$$eval(".field.invalid", (fs) => fs.length), 2);
  assert.deepEqual(calls, [], "nothing was sent while the form had problems");
  assert.equal((await instancesOf(contractId)).length, 0);
  await cp.axe("start: client-side problems");
  await screenshot(cp.page, "start");

  // Two dots in a row pass the browser's check but not the server's (Go's net/mail): its
  // problem "form_data.signer_email" is shown at that field.
  await fillByLabel(cp, "#start-form", { "Signer email": "sam..signer@example.com", Amount: "12" });
  await cp.page.click("#start-submit");
  await cp.waitForText('Signer email "sam..signer@example.com" is not an email address');
  assert.equal(calls.length, 1);
  const invalid = await cp.page.$$eval(".field.invalid input", (is) => is.map((i) => (i as HTMLInputElement).name));
  assert.deepEqual(invalid, ["signer_email"]);
  assert.equal((await instancesOf(contractId)).length, 0);
  await cp.axe("start: server problem at its field");

  // Fixed, and clicked twice: one request id, one instance.
  await fillByLabel(cp, "#start-form", { "Signer email": "sam.signer@example.com" });
  await cp.page.click("#start-submit", { count: 2 });
  await cp.page.waitForFunction(() => /\/console\/instances\/[^/]+$/.test(location.pathname));
  const started = await instancesOf(contractId);
  assert.equal(started.length, 1);
  assert.equal(new URL(cp.page.url()).pathname, `/console/instances/${started[0].id}`);
  await cp.page.waitForSelector("#instance-status");
  await dev.rpc("WorkflowInstanceService/CancelInstance", { instanceId: started[0].id, reason: "test cleanup" });
  await cp.close();
});

test("group work shows in a member's inbox; an inbox without work says so", async () => {
  const started = await dev.rpc("WorkflowInstanceService/StartInstance", { workflowId: reviewId, formData: { topic: "NDA" } }, requester.key);
  for (const topic of ["Lease renewal", "Supplier terms"]) {
    await dev.rpc("WorkflowInstanceService/StartInstance", { workflowId: reviewId, formData: { topic } }, requester.key);
  }
  const cp = await open(browser, dev, lena.key, "/console/inbox");
  await cp.page.waitForSelector(`tr[data-instance-id="${started.instance.id}"]`);
  // The state's name comes from the instance's workflow version.
  await cp.page.waitForFunction((id) => document.querySelector(`tr[data-instance-id="${id}"]`)?.textContent?.includes("Legal check"), {}, started.instance.id);
  const row = await text(cp, `tr[data-instance-id="${started.instance.id}"]`);
  assert.match(row, new RegExp(`^${REVIEW} v1\tLegal check\tTopic: NDA\tyour group\t`));
  // The state's timeout gives it a deadline, two days on.
  const deadline = await cp.page.$eval(`tr[data-instance-id="${started.instance.id}"] td:last-child time`, (t) => t.getAttribute("datetime") ?? "");
  assert.equal(deadline, new Date(started.instance.deadline).toISOString());
  assert.equal(await cp.page.$$eval("#inbox-table tbody tr", (rs) => rs.length), 3);
  await cp.page.click(`a[id="open-${started.instance.id}"]`);
  await cp.page.waitForSelector("#action-form");
  assert.equal(new URL(cp.page.url()).pathname, `/console/instances/${started.instance.id}`);
  assert.match(await text(cp, "#action-title"), /Your action: Legal check/);
  await cp.page.goBack();
  await cp.page.waitForSelector("#inbox-table");
  await cp.axe("inbox with work");
  await screenshot(cp.page, "inbox");
  await cp.close();

  const nobody = await dev.user("nobody@example.com", ["ROLE_USER"], "Nobody");
  const empty = await open(browser, dev, nobody.key, "/console/inbox");
  await empty.page.waitForSelector("#inbox-empty");
  assert.match(await text(empty, "#inbox-empty"), /Nothing is waiting for you/);
  assert.equal(await empty.page.$("#inbox-table"), null);
  await empty.axe("inbox empty");
  // Someone else's instance is not theirs to see: said so, not shown.
  await empty.goto(`/instances/${started.instance.id}`);
  await empty.waitForText("This instance is not yours to see");
  assert.equal(await empty.page.$("#instance-status"), null);
  await empty.axe("form activity: not allowed");
  await empty.close();
});

test("the DocuSign loop: start, approve from the inbox, the sandbox completes, the timeline and the signed document", async () => {
  const rita = await open(browser, dev, requester.key);
  const id = await startInstance(rita, CONTRACT, {
    Signer: "Sam Signer",
    "Signer email": "sam@example.com",
    Amount: "1200",
    "Due date": "2026-12-31",
    Urgent: "true",
  });
  assert.equal(await instanceStatus(rita), "Active");
  assert.equal(await text(rita, '#form-data dd[data-field="amount"]'), "1200");
  assert.equal(await text(rita, '#form-data dd[data-field="due"]'), "2026-12-31");
  assert.equal(await text(rita, '#form-data dd[data-field="urgent"]'), "Yes");
  const startedData = (await dev.rpc("WorkflowInstanceService/GetInstance", { instanceId: id })).instance.formData;
  assert.deepEqual(startedData, { signer_name: "Sam Signer", signer_email: "sam@example.com", amount: 1200, due: "2026-12-31", urgent: true });
  assert.equal(await rita.page.$("#action-panel"), null, "the requester is not the approver");

  // The approver: a missing comment is refused at the field, then Approve moves it on.
  const annPage = await open(browser, dev, ann.key);
  await annPage.goto("/inbox");
  await annPage.page.waitForSelector(`a[id="open-${id}"]`);
  await annPage.page.click(`a[id="open-${id}"]`);
  await annPage.page.waitForSelector("#action-form");
  await annPage.page.click("#take-transition");
  await annPage.waitForText("Comment is required");
  await annPage.axe("form activity: action form with a problem");
  await takeTransitionFromInbox(annPage, id, "Approve", { Comment: "Looks right" });
  await waitForInstanceStatus(annPage, "Waiting external");
  await annPage.close();

  // An admin follows it: the sandbox panel acts as DocuSign.
  const admin = await open(browser, dev, dev.adminKey);
  await admin.goto(`/instances/${id}`);
  await admin.page.waitForSelector('#sandbox-panel button[data-sandbox-action="complete"]', { timeout: 30_000 });
  assert.match(await text(admin, "#sandbox-panel h2"), /^Sandbox — act as DocuSign$/);
  const actions = await admin.page.$$eval("#sandbox-panel button[data-sandbox-action]", (bs) => bs.map((b) => b.getAttribute("data-sandbox-action")));
  for (const a of ["complete", "decline", "void"]) assert.ok(actions.includes(a), `action ${a} in ${actions}`);
  await admin.axe("form activity: waiting, sandbox");
  await screenshot(admin.page, "sandbox");

  await sandboxAction(admin, id, "complete");
  assert.match(await text(admin, "#sandbox-result"), /HTTP 200/);
  await waitForInstanceStatus(admin, "Completed");
  const server = (await dev.rpc("WorkflowInstanceService/GetInstance", { instanceId: id })).instance;
  assert.equal(server.status, "INSTANCE_STATUS_COMPLETED");
  assert.equal(server.stateKey, "done");
  assert.equal(server.formData.comment, "Looks right");
  await admin.page.waitForFunction(
    (ext) => document.querySelector("#work-item-external-id")?.textContent === ext,
    { timeout: 20_000 },
    server.workItem.externalId,
  );
  assert.equal(await text(admin, "#work-item-outcome"), "Finished");
  assert.equal(await text(admin, "#instance-state"), "Signed");

  // Every step is on the timeline, in words.
  await admin.page.waitForSelector('#timeline li[data-kind="COMPLETED"]');
  const kinds = await admin.page.$$eval("#timeline li", (ls) => ls.map((l) => l.getAttribute("data-kind")));
  for (const k of ["STARTED", "TRANSITION", "ASSIGNED", "WAITING_EXTERNAL", "OUTCOME", "COMPLETED"]) assert.ok(kinds.includes(k), `${k} in ${kinds}`);
  const timeline = await text(admin, "#timeline");
  assert.match(timeline, /Rita Requester started the instance in Request/);
  assert.match(timeline, /Ann Approver took “Approve” from Manager approval to Signature/);
  assert.match(timeline, /Waiting in Signature for DocuSign/);
  assert.match(timeline, new RegExp(`Comment\t—\tLooks right`));
  assert.match(timeline, /Manager approval is assigned to Ann Approver/);
  assert.match(timeline, /Looks right/);
  assert.match(timeline, /Completed in Signed/);

  // The signed document, downloadable, with its hash.
  await admin.page.waitForSelector("#signed-document a[download]", { timeout: 30_000 });
  const doc = await dev.rpc("WorkflowInstanceService/GetSignedDocument", { instanceId: id });
  assert.match(await text(admin, "#signed-document"), new RegExp(doc.sha256));
  const href = await admin.page.$eval("#signed-document a[download]", (a) => (a as HTMLAnchorElement).href);
  // A Blob URL of this origin (the CSP's connect-src keeps the page itself from reading it back).
  assert.ok(href.startsWith(`blob:${dev.base}/`), href);
  assert.equal(await admin.page.$eval("#signed-document a[download]", (a) => a.getAttribute("download")), doc.name);
  assert.ok(Buffer.from(doc.content, "base64").length > 0);

  // The webhooks that moved it, from the Event Log, with links.
  const events = await dev.rpc("EventLogService/ListEvents", { filter: { instanceId: id } });
  assert.ok(events.events.length > 0);
  await admin.page.waitForFunction((n) => document.querySelectorAll("#instance-events tr[data-event-id]").length === n, { timeout: 20_000 }, events.events.length);
  const rows = await admin.page.$$eval("#instance-events tr[data-event-id]", (rs) => rs.map((r) => r.getAttribute("data-event-id")));
  assert.deepEqual([...rows].sort(), events.events.map((e: any) => e.id).sort());
  assert.match(await text(admin, "#instance-events"), /envelope-completed/);
  assert.match(await text(admin, "#instance-events"), /Applied/);
  const first = events.events[0];
  assert.equal(await admin.page.$eval(`tr[data-event-id="${first.id}"] a`, (a) => a.getAttribute("href")), `/console/events/${first.id}`);
  if (first.traceId) {
    assert.equal(await admin.page.$eval(`tr[data-event-id="${first.id}"] a[target=_blank]`, (a) => a.getAttribute("href")), `http://127.0.0.1:16686/trace/${first.traceId}`);
  }
  assert.equal(await admin.page.$("#instance-events-more"), null, "every webhook of the instance is on the card");
  assert.equal(await admin.page.$("#cancel-instance"), null, "a completed instance cannot be cancelled");
  await admin.page.evaluate(() => window.scrollTo(0, 0));
  await admin.axe("form activity: completed");
  await admin.page.setViewport({ width: 1280, height: Math.min(2400, await admin.page.evaluate(() => document.body.scrollHeight)) });
  await screenshot(admin.page, "form-activity");
  await admin.close();

  // An instance with more webhooks than the card reads (200) says so and links to all of them in
  // the Event Log (its answer here given a next page, as ListEvents gives past 200).
  const many = await open(browser, dev, dev.adminKey, `/console/instances/${id}`);
  await many.page.setRequestInterception(true);
  many.page.on("request", (r) => {
    if (new URL(r.url()).pathname.endsWith(".EventLogService/ListEvents")) {
      void r.respond({ status: 200, contentType: "application/json", body: JSON.stringify({ ...events, nextPageToken: "more" }) });
    } else void r.continue();
  });
  await many.page.reload();
  await many.page.waitForSelector("#instance-events-more");
  assert.match(await text(many, "#instance-events-more"), new RegExp(`The newest ${events.events.length} are shown`));
  assert.equal(await many.page.$eval("#instance-events-more a", (a) => a.getAttribute("href")), `/console/events?instance=${encodeURIComponent(id)}`);
  await many.close();

  // A signed document of another work item (an earlier signature step's) is not this step's:
  // the card says this one's is being fetched, and offers no download.
  const earlier = await open(browser, dev, dev.adminKey, `/console/instances/${id}`);
  await earlier.page.setRequestInterception(true);
  earlier.page.on("request", (r) => {
    if (new URL(r.url()).pathname.endsWith(".WorkflowInstanceService/GetSignedDocument")) {
      void r.respond({ status: 200, contentType: "application/json", body: JSON.stringify({ ...doc, workItemId: "0190a8c4-0000-7000-8000-000000000001" }) });
    } else void r.continue();
  });
  await earlier.page.reload();
  await earlier.page.waitForSelector("#signed-document-pending");
  assert.match(await text(earlier, "#signed-document-pending"), /being fetched/);
  assert.equal(await earlier.page.$("#signed-document a[download]"), null);
  await earlier.close();

  // The requester (not an admin) sees the same instance without the admin parts.
  await rita.goto(`/instances/${id}`);
  await waitForInstanceStatus(rita, "Completed");
  await rita.page.waitForSelector("#signed-document a[download]");
  assert.equal(await rita.page.$("#instance-events"), null);
  assert.equal(await rita.page.$("#admin-actions"), null);
  assert.equal(await rita.page.$("#sandbox-panel"), null);
  await rita.axe("form activity: completed, as the requester");
  await rita.close();
});

test("an override makes DocuSign's completion APPROVED, its signed document kept; without the sandbox there is no sandbox panel", async () => {
  const started = await dev.rpc(
    "WorkflowInstanceService/StartInstance",
    { workflowId: approvedId, formData: { signer_name: "Sue", signer_email: "sue@example.com" } },
    requester.key,
  );
  const id = started.instance.id;

  // A server not in sandbox mode answers /sandbox/… with 404: no sandbox panel at all.
  const off = await open(browser, dev, requester.key, `/console/instances/${id}`);
  await off.page.setRequestInterception(true);
  off.page.on("request", (r) => {
    if (new URL(r.url()).pathname.startsWith("/sandbox/")) void r.respond({ status: 404, contentType: "application/json", body: '{"error":"not found"}' });
    else void r.continue();
  });
  const asked = off.page.waitForResponse((r) => new URL(r.url()).pathname === "/sandbox/work-items" && r.status() === 404);
  await off.page.reload();
  await asked;
  await waitForInstanceStatus(off, "Waiting external");
  await off.page.waitForSelector("#work-item-external-id code");
  assert.equal(await off.page.$("#sandbox-panel"), null);
  assert.doesNotMatch(await text(off, "main"), /Sandbox/);
  await off.close();

  const cp = await open(browser, dev, requester.key, `/console/instances/${id}`);
  await waitForInstanceStatus(cp, "Waiting external");
  await sandboxAction(cp, id, "complete");
  await waitForInstanceStatus(cp, "Completed");
  await cp.page.waitForFunction(() => document.querySelector("#work-item-outcome")?.textContent === "Approved", { timeout: 20_000 });
  const server = (await dev.rpc("WorkflowInstanceService/GetInstance", { instanceId: id })).instance;
  assert.equal(server.workItem.outcome, "OUTCOME_APPROVED");
  assert.equal(await cp.page.$("#cancel-instance"), null);
  // The envelope was still completed: its signed document is kept and offered.
  await cp.page.waitForSelector("#signed-document a[download]", { timeout: 20_000 });
  const doc = await dev.rpc("WorkflowInstanceService/GetSignedDocument", { instanceId: id });
  assert.match(await text(cp, "#signed-document"), new RegExp(doc.sha256));
  await cp.close();
});

test("a user sees no Cancel, Retry or Event Log; an admin cancels with a reason", async () => {
  const started = await dev.rpc("WorkflowInstanceService/StartInstance", { workflowId: reviewId, formData: { topic: "Lease" } }, requester.key);
  const id = started.instance.id;
  const member = await open(browser, dev, lena.key, `/console/instances/${id}`);
  await member.page.waitForSelector("#action-form");
  assert.equal(await member.page.$("#admin-actions"), null);
  assert.equal(await member.page.$("#cancel-instance"), null);
  assert.equal(await member.page.$("#retry-instance"), null);
  assert.equal(await member.page.$("#instance-events"), null);
  await member.axe("form activity: active, as the assignee");
  await member.close();

  const admin = await open(browser, dev, dev.adminKey, `/console/instances/${id}`);
  await admin.page.waitForSelector("#cancel-instance");
  assert.equal(await admin.page.$("#retry-instance"), null, "retry is for FAILED instances only");
  // Reassign: from the legal group to Ann, with a reason kept in the timeline.
  await admin.page.click("#reassign-instance");
  await admin.waitForText("Choose who takes the work over.");
  const annOption = await admin.page.$eval("#admin-actions select", (s, id) => Array.from((s as HTMLSelectElement).options).find((o) => o.value === `user:${id}`)?.value ?? "", ann.id);
  await admin.page.select("#admin-actions select", annOption);
  await fillByLabel(admin, "#admin-actions", { "Why (optional, kept in the timeline)": "Legal is on holiday" });
  await admin.page.click("#reassign-instance");
  await admin.page.waitForSelector("#reassign-result");
  assert.match(await text(admin, "#reassign-result"), /Reassigned to Ann Approver/);
  const moved = (await dev.rpc("WorkflowInstanceService/GetInstance", { instanceId: id })).instance;
  assert.deepEqual(moved.assignee, { userId: ann.id });
  await admin.page.waitForSelector('#timeline li[data-kind="REASSIGNED"]');
  assert.match(await text(admin, '#timeline li[data-kind="REASSIGNED"]'), /reassigned the work to Ann Approver[\s\S]*Legal is on holiday/);

  await admin.page.click("#cancel-instance");
  await admin.page.waitForSelector("#confirm-cancel");
  await admin.page.click("#confirm-cancel");
  await admin.waitForText("Reason is required");
  assert.equal((await dev.rpc("WorkflowInstanceService/GetInstance", { instanceId: id })).instance.status, "INSTANCE_STATUS_ACTIVE");
  await admin.axe("form activity: cancel confirm");
  await admin.page.locator("#admin-actions textarea").fill("Withdrawn by the customer");
  await admin.page.click("#confirm-cancel");
  await admin.page.waitForSelector("#admin-result");
  await waitForInstanceStatus(admin, "Cancelled");
  const server = (await dev.rpc("WorkflowInstanceService/GetInstance", { instanceId: id })).instance;
  assert.equal(server.status, "INSTANCE_STATUS_CANCELLED");
  assert.equal(server.reason, "Withdrawn by the customer");
  await admin.page.waitForSelector('#timeline li[data-kind="CANCELLED"]');
  assert.match(await text(admin, '#timeline li[data-kind="CANCELLED"]'), /cancelled the instance in Legal check[\s\S]*Withdrawn by the customer/);
  assert.equal(await admin.page.$("#action-panel"), null);
  await admin.close();
});

test("live: a transition taken elsewhere shows on the open page without a reload", async () => {
  const started = await dev.rpc("WorkflowInstanceService/StartInstance", { workflowId: reviewId, formData: { topic: "Merger" } }, requester.key);
  const id = started.instance.id;
  const cp = await open(browser, dev, lena.key, `/console/instances/${id}`);
  await cp.page.waitForSelector("#action-form");
  assert.equal(await instanceStatus(cp), "Active");
  await cp.page.evaluate(() => ((window as any).__same = true));
  await dev.rpc(
    "WorkflowInstanceService/TakeTransition",
    { instanceId: id, transitionKey: "finish", formData: { verdict: "fine" }, expectedRevision: started.instance.revision },
    lena.key,
  );
  await waitForInstanceStatus(cp, "Completed");
  await cp.page.waitForSelector('#timeline li[data-kind="COMPLETED"]');
  assert.equal(await cp.page.evaluate(() => (window as any).__same), true, "the page was not reloaded");
  assert.equal(await text(cp, '#form-data dd[data-field="verdict"]'), "fine");
  assert.equal(await cp.page.$("#action-panel"), null);
  await cp.close();
});

test("a FAILED instance: its reason, and Retry for an admin", async () => {
  // Its outside system refuses to create the work item (a 422: a permanent failure), so the
  // instance fails; the system accepts again once it has.
  const { instanceId: id } = await makeFailedInstance(dev, requester.key);

  // Its starter sees why, and Cancel but not Retry (admins').
  const user = await open(browser, dev, requester.key, `/console/instances/${id}`);
  await waitForInstanceStatus(user, "Failed");
  assert.match(await text(user, "#instance-reason"), /creating the .* work item failed/);
  await user.page.waitForSelector('#timeline li[data-kind="FAILED"]');
  assert.equal(await user.page.$("#retry-instance"), null);
  await user.page.waitForSelector("#cancel-instance");
  await user.close();

  const cp = await open(browser, dev, dev.adminKey, `/console/instances/${id}`);
  await waitForInstanceStatus(cp, "Failed");
  assert.match(await text(cp, "#instance-reason"), /creating the .* work item failed/);
  await cp.page.waitForSelector('#timeline li[data-kind="FAILED"]');
  await cp.page.waitForSelector("#retry-instance");
  await cp.page.waitForSelector("#cancel-instance");
  await cp.axe("form activity: failed");
  await cp.page.click("#retry-instance");
  await cp.page.waitForSelector("#admin-result");
  assert.match(await text(cp, "#admin-result"), /being retried/);
  await cp.page.waitForSelector('#timeline li[data-kind="RETRIED"]');
  assert.match(await text(cp, '#timeline li[data-kind="RETRIED"]'), /You \(Administrator\) retried the failed step/);
  const activity = await dev.rpc("WorkflowInstanceService/ListActivity", { instanceId: id });
  assert.ok(activity.entries.some((e: any) => e.kind === "ACTIVITY_KIND_RETRIED"));
  await waitForInstanceStatus(cp, "Waiting external");
  await cp.close();
});

// purchase is a workflow whose START has two ways out, to Ann or to the legal group.
function purchase(name: string) {
  return {
    name,
    states: [
      { key: "start", name: "Order", kind: "STATE_KIND_START", formFields: [{ name: "item", label: "Item", type: "FIELD_TYPE_STRING", required: true }] },
      { key: "small", name: "Small purchase", kind: "STATE_KIND_HUMAN", assignee: { userId: ann.id } },
      { key: "large", name: "Large purchase", kind: "STATE_KIND_HUMAN", assignee: { groupId: legalId } },
      { key: "done", name: "Bought", kind: "STATE_KIND_END" },
    ],
    transitions: [
      { key: "cheap", name: "Under 1000", fromState: "start", toState: "small" },
      { key: "dear", name: "1000 or more", fromState: "start", toState: "large" },
      { key: "buy", fromState: "small", toState: "done" },
      { key: "buy2", fromState: "large", toState: "done" },
    ],
  };
}

test("a START with two ways out asks which to take", async () => {
  const wf = await publish(purchase("Purchase"));
  const cp = await open(browser, dev, dev.adminKey, `/console/start/${wf}`);
  await cp.page.waitForSelector("#start-way-dear");
  assert.equal(await cp.page.$eval("#start-way-cheap", (r) => (r as HTMLInputElement).checked), true, "the first way is chosen at first");
  assert.match(await text(cp, "#start-form fieldset"), /1000 or more → Large purchase/);
  await cp.axe("start: two ways out");
  await fillByLabel(cp, "#start-form", { Item: "Server rack" });
  await cp.page.click("#start-way-dear");
  await cp.page.click("#start-submit");
  await cp.page.waitForSelector("#instance-status");
  await cp.page.waitForFunction(() => document.querySelector("#instance-state")?.textContent === "Large purchase");
  const id = decodeURIComponent(new URL(cp.page.url()).pathname.split("/").pop()!);
  assert.equal((await dev.rpc("WorkflowInstanceService/GetInstance", { instanceId: id })).instance.stateKey, "large");
  await cp.close();
});

test("a conflict: the form was filled against an older revision", async () => {
  const started = await dev.rpc("WorkflowInstanceService/StartInstance", { workflowId: contractId, formData: { signer_name: "Tom", signer_email: "tom@example.com" } }, requester.key);
  const id = started.instance.id;
  const cp = await open(browser, dev, dev.adminKey, `/console/instances/${id}`);
  await cp.page.waitForSelector("#action-form");
  // Meanwhile an admin elsewhere reassigns it (a new revision, still in the same state).
  await dev.rpc("WorkflowInstanceService/ReassignInstance", { instanceId: id, assignee: { userId: lena.id }, reason: "Ann is away" });
  await fillByLabel(cp, "#action-form", { Comment: "late" });
  await cp.page.click("#transition-reject");
  await cp.page.click("#take-transition");
  await cp.page.waitForSelector("#take-conflict");
  assert.match(await text(cp, "#take-conflict"), /changed meanwhile/);
  assert.equal((await dev.rpc("WorkflowInstanceService/GetInstance", { instanceId: id })).instance.stateKey, "approve");
  await cp.axe("form activity: conflict");
  await cp.page.click("#take-conflict button");
  await cp.page.waitForFunction(() => !document.querySelector("#take-conflict"));
  await cp.page.click("#take-transition");
  await cp.page.waitForSelector("#take-result");
  await waitForInstanceStatus(cp, "Completed");
  assert.equal((await dev.rpc("WorkflowInstanceService/GetInstance", { instanceId: id })).instance.stateKey, "rejected");
  await cp.close();
});

test("the user who started an instance cancels it, with a reason; others who see it do not", async () => {
  const started = await dev.rpc("WorkflowInstanceService/StartInstance", { workflowId: reviewId, formData: { topic: "Changed my mind" } }, requester.key);
  const id = started.instance.id;
  // The assignee sees it, and acts on it, but did not start it.
  const member = await open(browser, dev, lena.key, `/console/instances/${id}`);
  await member.page.waitForSelector("#action-form");
  assert.equal(await member.page.$("#cancel-instance"), null);
  await member.close();

  const cp = await open(browser, dev, requester.key, `/console/instances/${id}`);
  await cp.page.waitForSelector("#cancel-instance");
  assert.equal(await cp.page.$("#admin-actions"), null, "the starter is no admin");
  assert.equal(await cp.page.$("#retry-instance"), null);
  await cp.page.click("#cancel-instance");
  await cp.page.waitForSelector("#confirm-cancel");
  await cp.page.click("#confirm-cancel");
  await cp.waitForText("Reason is required");
  assert.equal((await dev.rpc("WorkflowInstanceService/GetInstance", { instanceId: id })).instance.status, "INSTANCE_STATUS_ACTIVE");
  await cp.axe("form activity: the starter cancels");
  await cp.page.locator("#starter-actions textarea").fill("No longer needed");
  await cp.page.click("#confirm-cancel");
  await cp.page.waitForSelector("#starter-result");
  await waitForInstanceStatus(cp, "Cancelled");
  const server = (await dev.rpc("WorkflowInstanceService/GetInstance", { instanceId: id })).instance;
  assert.equal(server.status, "INSTANCE_STATUS_CANCELLED");
  assert.equal(server.reason, "No longer needed");
  await cp.page.waitForSelector('#timeline li[data-kind="CANCELLED"]');
  assert.equal(await cp.page.$("#cancel-instance"), null);
  await cp.close();
});

test("a transition back into the same state: the next one is taken at the revision it answered", async () => {
  const wf = await publish({
    name: "Back and forth",
    states: [
      { key: "start", name: "Request", kind: "STATE_KIND_START" },
      { key: "review", name: "Review", kind: "STATE_KIND_HUMAN", assignee: { userId: lena.id }, formFields: [{ name: "note", label: "Note", type: "FIELD_TYPE_STRING" }] },
      { key: "done", name: "Done", kind: "STATE_KIND_END" },
    ],
    transitions: [
      { key: "submit", fromState: "start", toState: "review" },
      { key: "again", name: "Ask again", fromState: "review", toState: "review" },
      { key: "finish", name: "Finish", fromState: "review", toState: "done" },
    ],
  });
  const started = await dev.rpc("WorkflowInstanceService/StartInstance", { workflowId: wf, formData: {} }, requester.key);
  const id = started.instance.id;
  const cp = await open(browser, dev, lena.key, `/console/instances/${id}`);
  await cp.page.waitForSelector("#transition-again");
  await cp.page.click("#transition-again");
  await fillByLabel(cp, "#action-form", { Note: "once more" });
  await cp.page.click("#take-transition");
  await cp.page.waitForSelector("#take-result");
  assert.match(await text(cp, "#take-result"), /“Ask again” taken; the instance is now in Review/);
  // Still in Review: a new form, and the next transition goes through (no conflict with itself).
  await cp.page.waitForSelector("#transition-finish:not([disabled])");
  await cp.page.click("#transition-finish");
  await cp.page.click("#take-transition");
  await cp.page.waitForFunction(
    () => document.querySelector("#take-conflict") || document.querySelector("#instance-status .badge")?.textContent?.trim() === "Completed",
    { timeout: 20_000, polling: 100 },
  );
  assert.equal(await cp.page.$("#take-conflict"), null, "the second transition was refused as a conflict");
  const server = (await dev.rpc("WorkflowInstanceService/GetInstance", { instanceId: id })).instance;
  assert.equal(server.stateKey, "done");
  await cp.close();
});

test("start: choosing another way out after a lost answer is a new request", async () => {
  const wf = await publish(purchase("Purchase, lost answer"));
  const cp = await open(browser, dev, requester.key, `/console/start/${wf}`);
  await cp.page.waitForSelector("#start-way-dear");
  // The first StartInstance reaches the server, but its answer is lost on the way back.
  let lose = true;
  await cp.page.setRequestInterception(true);
  cp.page.on("request", (r) => {
    if (lose && r.url().endsWith("/flowhook.v1.WorkflowInstanceService/StartInstance")) {
      lose = false;
      void fetch(r.url(), { method: "POST", headers: r.headers(), body: r.postData() }).then(() =>
        r.respond({ status: 503, contentType: "application/json", body: JSON.stringify({ code: "unavailable", message: "the answer was lost (test)" }) }),
      );
    } else {
      void r.continue();
    }
  });
  await fillByLabel(cp, "#start-form", { Item: "Desk" });
  await cp.page.click("#start-submit");
  await cp.waitForText("the answer was lost (test)");
  assert.equal((await instancesOf(wf)).length, 1, "the first request started an instance");
  // Not what was meant: the other way, and Start again.
  await cp.page.click("#start-way-dear");
  await cp.page.click("#start-submit");
  await cp.page.waitForFunction(
    () => /\/console\/instances\/[^/]+$/.test(location.pathname) || /already used/.test(document.querySelector("#start-form")?.textContent ?? ""),
    { timeout: 20_000, polling: 100 },
  );
  assert.doesNotMatch(await text(cp, "main"), /already used/);
  await cp.page.waitForFunction(() => document.querySelector("#instance-state")?.textContent === "Large purchase");
  const states = (await instancesOf(wf)).map((i) => i.stateKey).sort();
  assert.deepEqual(states, ["large", "small"]);
  cp.problems.splice(0, cp.problems.length, ...cp.problems.filter((p) => !/status of 503/.test(p)));
  await cp.close();
});
