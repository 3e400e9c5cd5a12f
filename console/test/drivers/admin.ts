// Drivers for Workflow Manage, the Event Log and Settings, used by admin.test.ts and by the
// end-to-end test. They act the way a user does (clicks, keys) and wait on what the page shows.
//
// Stable selectors of these pages (kept on purpose; tests may rely on them):
//   Workflow Manage (/manage?status=FAILED&provider=CONNECTOR&external=…&overdue=1&inactive=1&workflow=…&state=…&connector=…&size=10)
//     #f-workflow #f-status #f-provider #f-state #f-external #f-overdue #f-inactive #f-size  filters (text ones apply on Enter/blur);
//     #f-provider values: "", DOCUSIGN, ONESPAN, CONNECTOR (any connector), CONNECTOR:{name} (one connector)
//     #count-ALL, #count-ACTIVE, #count-WAITING_EXTERNAL, #count-FAILED, #count-COMPLETED, #count-CANCELLED  counts (".n" holds the number)
//     #manage-table, rows tr#row-{instanceId}[data-status=ACTIVE|WAITING_EXTERNAL|…], #select-{id} checkbox,
//     [data-waiting] "Waiting on …" cell text, [data-assignee] assignee text, #retry-{id} Retry button
//     #cancel-selected → #cancel-reason, #confirm-cancel → #cancel-results (li[data-ok])
//     #manage-total "N instances match"; pager buttons "Next page" / "First page"
//   Event Log (/events?provider=CONNECTOR&connector=…&verdict=APPLIED&type=…&external=…&instance=…&since=…)
//     #ef-provider (values as #f-provider) #ef-verdict #ef-type #ef-external #ef-instance #ef-since #auto-refresh
//     #events-table rows tr#event-{eventId}[data-external-id], a.open-event;
//     #reconcile-provider #reconcile-now → #reconcile-result
//     #receiver-settings: #receiver-debug (switch) #sec-event-days #sec-form-days #sec-doc-days #save-security → #security-saved
//   Event detail (/events/{id}): #event-detail, #event-verdict[data-verdict], #event-steps (li[data-step]),
//     #event-headers (tr[data-header]), #event-body, #replay-event → #replay-result
//   Settings (/settings/{docusign|onespan|connectors|security|users|groups|keys|console}): #tab-{key};
//     DocuSign #ds-* fields, #ds-private-key-state / #ds-hmac-state, #docusign-webhook-url(-copy), #docusign-test → #docusign-test-result[data-ok]
//     OneSpan #os-*, #os-api-key-state, #os-callback-key-state, #onespan-test → #onespan-test-result
//     Connectors #nc-* create fields, #create-connector → #connector-created + #connector-secret (once); tr#connector-{name};
//       edit: #ec-* fields, #save-connector → "Saved (revision N)" or #connector-conflict (+ #connector-reload)
//     Users #nu-name #nu-email #nu-role-{ADMIN|DESIGNER|USER} #create-user; tr#user-{id}[data-email]
//     Groups #ng-name #create-group; div#group-{id}[data-name], select#add-{groupId}
//     Keys #keys-user #nk-name #create-key → #new-key-secret; tr#key-{id}[data-name][data-revoked]; #confirm-revoke-{id}
//     Console #jaeger-url #save-console
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { ConsolePage, Dev } from "../harness.js";

/** Waits until fn (evaluated in the page with arg) is truthy. */
async function until<A>(cp: ConsolePage, fn: (arg: A) => unknown, arg: A, timeout = 20_000) {
  await cp.page.waitForFunction(fn as any, { timeout, polling: 100 }, arg);
}

/**
 * On /manage (no filter, 100 a page: the instance must be among the newest 100), selects the
 * instance's checkbox, clicks "Cancel selected", gives the reason, confirms, and waits until its
 * row shows Cancelled.
 */
export async function cancelFromManage(cp: ConsolePage, instanceId: string, reason: string): Promise<void> {
  await cp.goto("/manage?size=100");
  await cp.page.waitForSelector(`input[id="select-${instanceId}"]:not([disabled])`);
  await cp.page.click(`input[id="select-${instanceId}"]`);
  await cp.page.click("#cancel-selected");
  await cp.page.waitForSelector("#cancel-reason");
  await cp.page.type("#cancel-reason", reason);
  await cp.page.click("#confirm-cancel");
  await cp.page.waitForSelector("#cancel-results");
  await until(cp, (id: string) => document.querySelector(`tr[id="row-${id}"]`)?.getAttribute("data-status") === "CANCELLED", instanceId);
}

/** On /manage filtered to FAILED, clicks the instance's Retry and waits until it is no longer Failed. */
export async function retryFromManage(cp: ConsolePage, instanceId: string): Promise<void> {
  await cp.goto("/manage?status=FAILED&size=100");
  await cp.page.waitForSelector(`button[id="retry-${instanceId}"]`);
  await cp.page.click(`button[id="retry-${instanceId}"]`);
  // Once retried the instance leaves the FAILED filter (its row goes) or its row changes status.
  await until(
    cp,
    (id: string) => {
      const row = document.querySelector(`tr[id="row-${id}"]`);
      return !row || row.getAttribute("data-status") !== "FAILED";
    },
    instanceId,
  );
}

/** On /events filtered by the external id, opens the newest delivery and waits for its steps and verdict. */
export async function openDeliveryFor(cp: ConsolePage, externalId: string): Promise<void> {
  await cp.goto(`/events?external=${encodeURIComponent(externalId)}`);
  await cp.page.waitForSelector("#events-table a.open-event");
  await cp.page.click("#events-table tbody tr:first-child a.open-event");
  await cp.page.waitForSelector("#event-verdict[data-verdict]");
  await cp.page.waitForSelector("#event-steps");
  const shown = await cp.page.$eval("#event-external-id", (e) => e.textContent ?? "");
  assert.equal(shown, externalId);
}

// ---- Test setup through the API ----

type Draft = Record<string, unknown>;

/** Creates and publishes a workflow; returns its id. */
export async function publish(dev: Dev, draft: Draft): Promise<string> {
  const { workflow } = await dev.rpc("WorkflowDesignService/CreateWorkflow", { workflow: draft });
  await dev.rpc("WorkflowDesignService/PublishWorkflow", { workflowId: workflow.id, expectedRevision: workflow.revision });
  return workflow.id;
}

/** START → EXTERNAL at a connector → END (each outcome ends it). */
export function connectorDraft(name: string, connector: string, timeoutSeconds = 0): Draft {
  return {
    name,
    description: "Sent to an outside system through a connector",
    states: [
      { key: "start", name: "Request", kind: "STATE_KIND_START", formFields: [{ name: "title", label: "Title", type: "FIELD_TYPE_STRING" }] },
      {
        key: "ticket",
        name: "Ticket",
        kind: "STATE_KIND_EXTERNAL",
        external: { provider: "PROVIDER_CONNECTOR", connector },
        ...(timeoutSeconds ? { timeout: `${timeoutSeconds}s` } : {}),
      },
      { key: "done", name: "Done", kind: "STATE_KIND_END" },
      { key: "refused", name: "Refused", kind: "STATE_KIND_END" },
    ],
    transitions: [
      { key: "submit", fromState: "start", toState: "ticket" },
      { key: "resolved", fromState: "ticket", toState: "done", onOutcome: "OUTCOME_FINISHED" },
      { key: "approved", fromState: "ticket", toState: "done", onOutcome: "OUTCOME_APPROVED" },
      { key: "rejected", fromState: "ticket", toState: "refused", onOutcome: "OUTCOME_DENIED" },
      { key: "deleted", fromState: "ticket", toState: "refused", onOutcome: "OUTCOME_DELETED" },
      { key: "expired", fromState: "ticket", toState: "refused", onOutcome: "OUTCOME_EXPIRED" },
    ],
  };
}

/** START → HUMAN (a user's, with a timeout) → END. */
export function reviewDraft(name: string, userId: string, timeoutSeconds = 3600): Draft {
  return {
    name,
    description: "Reviewed by one person",
    states: [
      { key: "start", name: "Request", kind: "STATE_KIND_START", formFields: [{ name: "title", label: "Title", type: "FIELD_TYPE_STRING" }] },
      { key: "review", name: "Review", kind: "STATE_KIND_HUMAN", assignee: { userId }, timeout: `${timeoutSeconds}s` },
      { key: "done", name: "Done", kind: "STATE_KIND_END" },
    ],
    transitions: [
      { key: "submit", fromState: "start", toState: "review" },
      { key: "approve", fromState: "review", toState: "done" },
      { key: "lapse", fromState: "review", toState: "done", onTimeout: true },
    ],
  };
}

/** START (signer) → EXTERNAL at DocuSign → END. */
export function docusignDraft(name: string): Draft {
  return {
    name,
    description: "Signed at DocuSign",
    states: [
      {
        key: "start",
        name: "Request",
        kind: "STATE_KIND_START",
        formFields: [
          { name: "signer_name", label: "Signer", type: "FIELD_TYPE_STRING", required: true },
          { name: "signer_email", label: "Signer email", type: "FIELD_TYPE_EMAIL", required: true },
        ],
      },
      {
        key: "sign",
        name: "Signature",
        kind: "STATE_KIND_EXTERNAL",
        external: { provider: "PROVIDER_DOCUSIGN", emailSubject: "Please sign", documentTitle: "Contract", signers: [{ nameField: "signer_name", emailField: "signer_email" }] },
      },
      { key: "done", name: "Done", kind: "STATE_KIND_END" },
      { key: "refused", name: "Refused", kind: "STATE_KIND_END" },
    ],
    transitions: [
      { key: "submit", fromState: "start", toState: "sign" },
      { key: "signed", fromState: "sign", toState: "done", onOutcome: "OUTCOME_FINISHED" },
      { key: "declined", fromState: "sign", toState: "refused", onOutcome: "OUTCOME_DENIED" },
      { key: "voided", fromState: "sign", toState: "refused", onOutcome: "OUTCOME_DELETED" },
    ],
  };
}

export async function start(dev: Dev, workflowId: string, formData: Record<string, unknown> = {}, key = dev.adminKey): Promise<string> {
  const { instance } = await dev.rpc("WorkflowInstanceService/StartInstance", { workflowId, formData }, key);
  return instance.id;
}

/** Polls GetInstance (no sleep: each poll is a round trip) until pred holds. */
export async function waitForInstance(dev: Dev, id: string, pred: (i: any) => boolean, timeoutMs = 30_000): Promise<any> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { instance } = await dev.rpc("WorkflowInstanceService/GetInstance", { instanceId: id });
    if (pred(instance)) return instance;
    if (Date.now() > deadline) throw new Error(`instance ${id} did not reach the expected state: ${JSON.stringify(instance)}`);
    await new Promise<void>((r) => setTimeout(r, 20)); // a poll interval, not a wait for time
  }
}

/** A waiting instance's work item: its external id once created. */
export async function waitForExternalId(dev: Dev, id: string): Promise<string> {
  const i = await waitForInstance(dev, id, (x) => x.status === "INSTANCE_STATUS_WAITING_EXTERNAL" && !!x.workItem?.externalId);
  return i.workItem.externalId as string;
}

let flaky: { server: Server; url: string; fail: boolean; created: number } | undefined;

/** A local outside system whose create answers 422 while `fail`, and 201 {"id"} after. */
async function flakySystem(): Promise<NonNullable<typeof flaky>> {
  if (flaky) return flaky;
  const state = { fail: true, created: 0 };
  const server = createServer((req, res) => {
    let body = "";
    req.on("data", (c) => (body += c));
    req.on("end", () => {
      if (state.fail) {
        res.writeHead(422, { "content-type": "application/json" });
        res.end(JSON.stringify({ error: "the ticket queue is closed (test switch)" }));
        return;
      }
      state.created++;
      res.writeHead(201, { "content-type": "application/json" });
      res.end(JSON.stringify({ id: `FLAKY-${state.created}-${Date.now()}` }));
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  server.unref();
  const port = (server.address() as AddressInfo).port;
  flaky = Object.assign(state, { server, url: `http://127.0.0.1:${port}/tickets` });
  return flaky;
}

const flakyWorkflow = new WeakMap<Dev, string>();

/**
 * An instance in FAILED whose RetryInstance then succeeds: a connector "flaky-{n}" whose
 * create_url is a local HTTP server answering 422 (a permanent failure: the work item and the
 * instance fail at once, no backoff), switched to answer 201 {"id"} as soon as the instance is
 * FAILED. The server is unref'd: it never keeps the test process alive. Started with key (an
 * administrator's unless given).
 */
export async function makeFailedInstance(dev: Dev, key = dev.adminKey): Promise<{ instanceId: string }> {
  const sys = await flakySystem();
  sys.fail = true;
  let wf = flakyWorkflow.get(dev);
  if (!wf) {
    const name = "flaky-" + Math.random().toString(36).slice(2, 8);
    await dev.rpc("ProviderSettingsService/CreateConnector", {
      name,
      displayName: "Flaky ticket queue (test)",
      createUrl: sys.url,
      outcomes: { "ticket.resolved": "OUTCOME_FINISHED" },
    });
    wf = await publish(dev, connectorDraft(`Flaky tickets ${name}`, name));
    flakyWorkflow.set(dev, wf);
  }
  const instanceId = await start(dev, wf, { title: "will fail first" }, key);
  await waitForInstance(dev, instanceId, (i) => i.status === "INSTANCE_STATUS_FAILED");
  sys.fail = false;
  return { instanceId };
}
