// Drives the Designer the way a person does. Stable selectors (also used by designer.test.ts):
//   list:    #new-workflow-name, #new-workflow (button "New workflow"), #workflow-filter,
//            #include-archived, #workflow-table (rows [data-workflow-id]), buttons "Archive"/"Unarchive"
//   editor:  #designer-graph (SVG): nodes g.node[data-key=<state key>] (id node-<i>), edges
//            g.edge[data-key=<transition key>] (id edge-<i>); both role="button", .problem when
//            they have problems, .selected when selected
//            #select-workflow, #add-state, #add-transition, #save-draft, #publish,
//            #validation-status (aria-busy="true" while a check runs; "No problems" / "N problems"),
//            #problem-list (one button per problem, data-path = the problem's path),
//            #unsaved, #save-result, #save-conflict (+ #reload), #publish-result ("Published version N"),
//            #version-table (newest first, a page at a time; #older-versions reads the next page)
//   panel:   #designer-panel, #panel-title, #element-problems;
//            workflow: #workflow-name, #workflow-description
//            state: #state-key, #state-name, #state-kind, #state-timeout (+ -unit), #assignee-type,
//            #assignee-user / #assignee-group, #field-<j>-name|label|type|required, #add-field,
//            #ext-provider, #ext-connector, #ext-include-document, #ext-email-subject,
//            #ext-document-title, #signer-<k>-name|email, #add-signer, #add-override,
//            #override-<k>-event|outcome (#overrides-duplicate while two have the same event),
//            #remove-state; a field's problems are in #<input id>-problem
//            transition: #transition-key, #transition-name, #transition-from, #transition-to,
//            #transition-outcome, #transition-timeout, #remove-transition, #transition-actions (versions)
//   version: #read-only-note, and the same graph and panel with every input disabled.
import assert from "node:assert/strict";
import type { ConsolePage } from "../harness.js";

type Page = ConsolePage["page"];

/** Sets an input or textarea to value (typing, as a person does). */
export async function setText(page: Page, sel: string, value: string) {
  await page.locator(sel).fill(value);
  await page.waitForFunction((s, v) => (document.querySelector(s) as HTMLInputElement | null)?.value === v, {}, sel, value);
}

export async function choose(page: Page, sel: string, value: string) {
  await page.waitForSelector(sel);
  await page.select(sel, value);
  await page.waitForFunction((s, v) => (document.querySelector(s) as HTMLSelectElement | null)?.value === v, {}, sel, value);
}

export async function check(page: Page, sel: string, on: boolean) {
  const now = await page.$eval(sel, (e) => (e as HTMLInputElement).checked);
  if (now !== on) await page.click(sel);
  await page.waitForFunction((s, v) => (document.querySelector(s) as HTMLInputElement | null)?.checked === v, {}, sel, on);
}

/** Clicks the node of a state and waits for its form. */
export async function selectState(page: Page, key: string) {
  await page.click(`#designer-graph g.node[data-key="${key}"]`);
  await page.waitForFunction((k) => (document.querySelector("#state-key") as HTMLInputElement | null)?.value === k, {}, key);
}

/** Clicks the edge of a transition and waits for its form. */
export async function selectTransition(page: Page, key: string) {
  await page.click(`#designer-graph g.edge[data-key="${key}"] text`);
  await page.waitForFunction((k) => (document.querySelector("#transition-key") as HTMLInputElement | null)?.value === k, {}, key);
}

/** Waits until no check runs and returns the status text ("No problems", "3 problems"). */
export async function settledStatus(page: Page): Promise<string> {
  await page.waitForFunction(() => document.querySelector("#validation-status")?.getAttribute("aria-busy") === "false", { polling: 50 });
  return page.$eval("#validation-status", (e) => e.textContent ?? "");
}

/** Waits until the graph shows exactly these state keys (nodes) and transition keys (edges). */
export async function waitForGraph(page: Page, states: number, transitions: number) {
  await page.waitForFunction(
    (n, e) =>
      document.querySelectorAll("#designer-graph g.node").length === n && document.querySelectorAll("#designer-graph g.edge").length === e,
    {},
    states,
    transitions,
  );
}

/** From /designer: creates a workflow named name (START → END) and opens it; returns its id. */
export async function newWorkflow(cp: ConsolePage, name: string): Promise<string> {
  const page = cp.page;
  await cp.goto("/designer");
  await setText(page, "#new-workflow-name", name);
  await page.click("#new-workflow");
  await page.waitForFunction(() => /\/console\/designer\/[0-9a-f-]{36}$/.test(location.pathname));
  await waitForGraph(page, 2, 1);
  return new URL(page.url()).pathname.split("/").pop()!;
}

async function addState(page: Page, key: string, name: string) {
  const n = await page.$$eval("#designer-graph g.node", (g) => g.length);
  await page.click("#add-state");
  await page.waitForFunction((c) => document.querySelectorAll("#designer-graph g.node").length === c, {}, n + 1);
  await page.waitForSelector("#state-key");
  await setText(page, "#state-key", key);
  await setText(page, "#state-name", name);
}

async function addTransition(page: Page, t: { key: string; name: string; from: string; to: string; outcome?: string }) {
  const n = await page.$$eval("#designer-graph g.edge", (g) => g.length);
  await page.click("#add-transition");
  await page.waitForFunction((c) => document.querySelectorAll("#designer-graph g.edge").length === c, {}, n + 1);
  await page.waitForSelector("#transition-key");
  await setText(page, "#transition-key", t.key);
  await setText(page, "#transition-name", t.name);
  await choose(page, "#transition-from", t.from);
  await choose(page, "#transition-to", t.to);
  if (t.outcome) await choose(page, "#transition-outcome", t.outcome);
}

const KIND = { START: "1", HUMAN: "2", EXTERNAL: "3", END: "4" };
const FIELD = { STRING: "1", NUMBER: "2", BOOL: "3", DATE: "4", EMAIL: "5" };
const OUTCOME = { APPROVED: "1", DENIED: "2", FINISHED: "3", DELETED: "4", EXPIRED: "5" };

/**
 * Builds and publishes the signing workflow entirely through the UI, from /designer:
 *   start (START; form signer_name STRING required, signer_email EMAIL required, amount NUMBER)
 *     --submit--> approve (HUMAN, assigned to the user with approverEmail)
 *     --approve--> sign (EXTERNAL DocuSign, include_document, signer signer_name/signer_email)
 *     --reject--> rejected (END)
 *   sign --signed (on FINISHED: DocuSign's envelope-completed)--> signed (END); sign --declined (on DENIED)--> rejected.
 * Saves, waits for "No problems", publishes, and checks the published version with
 * GetWorkflowVersion. cp must be signed in as an administrator: the assignee is picked by email
 * from ListUsers, which only administrators may call. Leaves the page on the editor.
 */
export async function designSigningWorkflow(cp: ConsolePage, o: { name: string; approverEmail: string }): Promise<{ workflowId: string; version: number }> {
  const page = cp.page;
  const workflowId = await newWorkflow(cp, o.name);

  // The start form.
  await selectState(page, "start");
  const fields: [string, string, string, boolean][] = [
    ["signer_name", "Signer name", FIELD.STRING, true],
    ["signer_email", "Signer email", FIELD.EMAIL, true],
    ["amount", "Amount", FIELD.NUMBER, false],
  ];
  for (const [j, [name, label, type, required]] of fields.entries()) {
    await page.click("#add-field");
    await page.waitForSelector(`#field-${j}-name`);
    await setText(page, `#field-${j}-name`, name);
    await setText(page, `#field-${j}-label`, label);
    await choose(page, `#field-${j}-type`, type);
    await check(page, `#field-${j}-required`, required);
  }

  // The approver.
  await addState(page, "approve", "Approve");
  await choose(page, "#assignee-type", "user");
  const input = await page.$eval("#assignee-user", (e) => e.tagName);
  assert.equal(input, "SELECT", "designSigningWorkflow needs an administrator's session: only they can list users to pick the approver");
  await page.waitForFunction(
    (email) => Array.from((document.querySelector("#assignee-user") as HTMLSelectElement).options).some((op) => op.text.includes(`<${email}>`)),
    {},
    o.approverEmail,
  );
  const userId = await page.$eval(
    "#assignee-user",
    (s, email) => Array.from((s as HTMLSelectElement).options).find((op) => op.text.includes(`<${email}>`))!.value,
    o.approverEmail,
  );
  await choose(page, "#assignee-user", userId);

  // The signature at DocuSign.
  await addState(page, "sign", "Sign at DocuSign");
  await choose(page, "#state-kind", KIND.EXTERNAL);
  await choose(page, "#ext-provider", "1");
  await check(page, "#ext-include-document", true);
  await setText(page, "#ext-email-subject", "Please sign");
  await setText(page, "#ext-document-title", o.name);
  await page.click("#add-signer");
  await choose(page, "#signer-0-name", "signer_name");
  await choose(page, "#signer-0-email", "signer_email");

  // The ends: the draft's "end" becomes "signed", and "rejected".
  await addState(page, "rejected", "Rejected");
  await choose(page, "#state-kind", KIND.END);
  await selectState(page, "end");
  await setText(page, "#state-key", "signed");
  await setText(page, "#state-name", "Signed");

  // The draft's transition start → end (now → signed) becomes submit: start → approve.
  await selectTransition(page, "finish");
  await setText(page, "#transition-key", "submit");
  await setText(page, "#transition-name", "Submit");
  await choose(page, "#transition-to", "approve");
  await addTransition(page, { key: "approve", name: "Approve", from: "approve", to: "sign" });
  await addTransition(page, { key: "reject", name: "Reject", from: "approve", to: "rejected" });
  await addTransition(page, { key: "signed", name: "Signed", from: "sign", to: "signed", outcome: OUTCOME.FINISHED });
  await addTransition(page, { key: "declined", name: "Declined", from: "sign", to: "rejected", outcome: OUTCOME.DENIED });
  await waitForGraph(page, 5, 5);

  const status = await settledStatus(page);
  assert.equal(status, "No problems", `the signing workflow has problems: ${await page.$eval("body", (b) => b.querySelector("#problem-list")?.textContent ?? "")}`);
  await page.click("#save-draft");
  await page.waitForSelector("#save-result");
  await page.waitForFunction(() => !document.querySelector("#unsaved"));
  assert.equal(await settledStatus(page), "No problems");
  await page.waitForSelector("#publish:not([disabled])");
  await page.click("#publish");
  await page.waitForSelector("#publish-result");
  const text = await page.$eval("#publish-result", (e) => e.textContent ?? "");
  const m = /Published version (\d+)/.exec(text);
  assert.ok(m, `publish result: ${text}`);
  const version = Number(m[1]);

  const { version: v } = await cp.dev.rpc("WorkflowDesignService/GetWorkflowVersion", { workflowId, version });
  assert.equal(v.name, o.name);
  const states = (v.states as any[]).map((s) => `${s.key}:${s.kind}`).sort();
  assert.deepEqual(states, [
    "approve:STATE_KIND_HUMAN",
    "rejected:STATE_KIND_END",
    "sign:STATE_KIND_EXTERNAL",
    "signed:STATE_KIND_END",
    "start:STATE_KIND_START",
  ]);
  const transitions = (v.transitions as any[]).map((t) => `${t.key}:${t.fromState}->${t.toState}:${t.onOutcome ?? ""}`).sort();
  assert.deepEqual(transitions, [
    "approve:approve->sign:",
    "declined:sign->rejected:OUTCOME_DENIED",
    "reject:approve->rejected:",
    "signed:sign->signed:OUTCOME_FINISHED",
    "submit:start->approve:",
  ]);
  const byKey = Object.fromEntries((v.states as any[]).map((s) => [s.key, s]));
  assert.deepEqual(
    byKey.start.formFields.map((f: any) => [f.name, f.label, f.type, f.required ?? false]),
    [
      ["signer_name", "Signer name", "FIELD_TYPE_STRING", true],
      ["signer_email", "Signer email", "FIELD_TYPE_EMAIL", true],
      ["amount", "Amount", "FIELD_TYPE_NUMBER", false],
    ],
  );
  assert.equal(byKey.approve.assignee.userId, userId);
  assert.equal(byKey.sign.external.provider, "PROVIDER_DOCUSIGN");
  assert.equal(byKey.sign.external.includeDocument, true);
  assert.deepEqual(byKey.sign.external.signers, [{ nameField: "signer_name", emailField: "signer_email" }]);
  return { workflowId, version };
}
