// The Designer: the signing workflow built and published through the UI (the driver), the graph
// (a node per state, an edge per transition, keyboard selection), elkjs loaded only when a graph
// shows, live validation placing every problem on its element and clearing when fixed, a save
// conflict, the read-only view of a published version, and the list's archive toggle.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import type { Browser } from "puppeteer-core";
import { docusignDraft } from "./drivers/admin.js";
import { check, choose, designSigningWorkflow, selectState, selectTransition, setText, settledStatus, waitForGraph } from "./drivers/designer.js";
import { ConsolePage, Dev, launch, open, screenshot } from "./harness.js";

let dev: Dev;
let browser: Browser;
let approver: { id: string; key: string };
let published: { workflowId: string; version: number } | undefined;

before(async () => {
  [dev, browser] = await Promise.all([Dev.start(), launch()]);
  approver = await dev.user("anna.approver@example.com", ["ROLE_USER"], "Anna Approver");
});
after(async () => {
  await browser?.close();
  await dev?.stop();
});

const minimal = (name: string) => ({
  name,
  states: [
    { key: "start", name: "Start", kind: "STATE_KIND_START" },
    { key: "end", name: "End", kind: "STATE_KIND_END" },
  ],
  transitions: [{ key: "finish", name: "Finish", fromState: "start", toState: "end" }],
});

/** Presses Tab from the toolbar until sel has the focus (the graph's elements are in the tab order). */
async function tabTo(page: import("puppeteer-core").Page, sel: string) {
  await page.focus("#add-transition");
  for (let i = 0; i < 40; i++) {
    await page.keyboard.press("Tab");
    if (await page.evaluate((s) => document.activeElement === document.querySelector(s), sel)) return;
  }
  assert.fail(`Tab never reached ${sel}`);
}

const classes = (cp: ConsolePage, sel: string) => cp.page.$eval(sel, (e) => e.getAttribute("class") ?? "");

test("the signing workflow built through the UI: graph, keyboard, lazy elkjs, list", async () => {
  // Sign in on a page of our own to see every request from the first one.
  const page = await browser.newPage();
  const requests: string[] = [];
  page.on("request", (r) => requests.push(r.url()));
  const cp = new ConsolePage(page, dev);
  await page.goto(dev.base + "/console/");
  await page.locator("#api-key").fill(dev.adminKey);
  await page.locator("button[type=submit]").click();
  await page.waitForSelector("header.top");
  await cp.goto("/designer");
  await page.waitForSelector("#workflow-table");
  assert.deepEqual(
    requests.filter((u) => /elk/.test(u)),
    [],
    "elkjs is not loaded by the sign-in page, the inbox or the list",
  );
  await cp.axe("designer list");

  published = await designSigningWorkflow(cp, { name: "Contract signing", approverEmail: "anna.approver@example.com" });
  assert.equal(published.version, 1);
  assert.ok(
    requests.some((u) => /\/console\/assets\/elk\.bundled-[\w-]+\.js$/.test(u)),
    "the editor loads elkjs as a chunk of its own",
  );

  // A node per state, an edge per transition, labelled.
  await waitForGraph(page, 5, 5);
  const nodes = await page.$$eval("#designer-graph g.node", (g) => g.map((n) => n.getAttribute("data-key")).sort());
  assert.deepEqual(nodes, ["approve", "rejected", "sign", "signed", "start"]);
  const edges = await page.$$eval("#designer-graph g.edge", (g) => g.map((n) => n.textContent ?? ""));
  assert.ok(edges.includes("Signed · on Finished"), edges.join(" | "));
  assert.ok(edges.includes("Declined · on Denied"), edges.join(" | "));
  assert.match(await page.$eval('g.node[data-key="sign"]', (e) => e.textContent ?? ""), /External · DocuSign/);
  assert.equal(await page.$$eval("#designer-graph g.problem", (e) => e.length), 0);

  // Keyboard: focus a node, Enter selects it; Space selects an edge.
  await tabTo(page, '#designer-graph g.node[data-key="sign"]');
  await page.keyboard.press("Enter");
  await page.waitForFunction(() => document.querySelector("#panel-title")?.textContent === "State “sign”");
  assert.equal(await page.$eval("#ext-provider", (e) => (e as HTMLSelectElement).value), "1");
  assert.equal(await page.$eval("#ext-include-document", (e) => (e as HTMLInputElement).checked), true);
  assert.match(await classes(cp, 'g.node[data-key="sign"]'), /selected/);
  assert.equal(await page.$eval('g.node[data-key="sign"]', (e) => e.getAttribute("aria-pressed")), "true");
  await screenshot(page, "designer");
  await cp.axe("designer editor");

  await tabTo(page, '#designer-graph g.edge[data-key="approve"]');
  await page.keyboard.press(" ");
  await page.waitForFunction(() => document.querySelector("#panel-title")?.textContent === "Transition “approve”");
  assert.equal(await page.$eval("#transition-from", (e) => (e as HTMLSelectElement).value), "approve");
  assert.equal(await page.$eval("#transition-to", (e) => (e as HTMLSelectElement).value), "sign");

  // The version is listed; the list shows it and archives and unarchives.
  await page.waitForSelector("#version-table");
  assert.match(await page.$eval("#version-table", (e) => e.textContent ?? ""), /Version 1/);
  await cp.goto("/designer");
  const row = `#workflow-table tr[data-workflow-id="${published.workflowId}"]`;
  await page.waitForSelector(row);
  assert.match(await page.$eval(row, (e) => e.textContent ?? ""), /Contract signing.*Version 1/);
  await page.click(`${row} button[aria-label="Archive Contract signing"]`);
  await page.waitForSelector("#archive-result");
  await page.waitForFunction((r) => !document.querySelector(r), {}, row);
  assert.equal((await dev.rpc("WorkflowDesignService/GetWorkflow", { workflowId: published.workflowId })).workflow.archived, true);
  await check(page, "#include-archived", true);
  await page.waitForSelector(`${row} button[aria-label="Unarchive Contract signing"]`);
  assert.match(await page.$eval(row, (e) => e.textContent ?? ""), /Archived/);
  await cp.axe("designer list with archived");
  await screenshot(page, "designer-list");
  await page.click(`${row} button[aria-label="Unarchive Contract signing"]`);
  await page.waitForSelector(`${row} button[aria-label="Archive Contract signing"]`);
  assert.equal((await dev.rpc("WorkflowDesignService/GetWorkflow", { workflowId: published.workflowId })).workflow.archived ?? false, false);
  await setText(page, "#workflow-filter", "no such workflow");
  await cp.waitForText("No workflows whose name contains");
  await cp.close();
});

test("a published version is read-only, with the transitions' actions", async () => {
  assert.ok(published, "the first test published a version");
  const cp = await open(browser, dev, dev.adminKey, `/console/designer/${published.workflowId}/versions/${published.version}`);
  const page = cp.page;
  await page.waitForSelector("#read-only-note");
  await waitForGraph(page, 5, 5);
  await cp.waitForText("Contract signing: version 1");
  const enabled = () =>
    page.$$eval("#designer-panel input, #designer-panel select, #designer-panel textarea, #designer-panel button", (els) =>
      els.filter((e) => !(e as HTMLInputElement).disabled && !(e as HTMLInputElement).closest("fieldset:disabled")).map((e) => e.id || e.outerHTML),
    );
  assert.deepEqual(await enabled(), []);
  await cp.axe("designer version");

  await selectState(page, "sign");
  assert.deepEqual(await enabled(), []);
  assert.equal(await page.$eval("#signer-0-name", (e) => (e as HTMLSelectElement).value), "signer_name");
  assert.equal(await page.$$eval("#add-signer, #remove-state, #add-field", (e) => e.length), 0);
  await selectState(page, "start");
  assert.deepEqual(await enabled(), []);
  assert.equal(await page.$eval("#field-1-name", (e) => (e as HTMLInputElement).value), "signer_email");
  await selectTransition(page, "approve");
  assert.deepEqual(await enabled(), []);
  assert.match(await page.$eval("#transition-actions", (e) => e.textContent ?? ""), /Docusign create envelope/);
  await selectTransition(page, "reject");
  assert.match(await page.$eval("#transition-actions", (e) => e.textContent ?? ""), /None/);
  await cp.axe("designer version transition");
  await screenshot(page, "designer-version");
  await cp.close();
});

test("a broken draft shows every problem on its element, and fixing them clears them", async () => {
  const { workflow } = await dev.rpc("WorkflowDesignService/CreateWorkflow", { workflow: minimal("Broken on purpose") });
  const cp = await open(browser, dev, dev.adminKey, `/console/designer/${workflow.id}`);
  const page = cp.page;
  await waitForGraph(page, 2, 1);
  assert.equal(await settledStatus(page), "No problems");

  // An EXTERNAL state without signers, reached by nothing and leading nowhere…
  await page.click("#add-state");
  await waitForGraph(page, 3, 1);
  await choose(page, "#state-kind", "3");
  // …and a transition out of start to no state at all.
  await selectState(page, "start");
  await page.click("#add-transition");
  await waitForGraph(page, 3, 2);
  await page.waitForFunction(() => document.querySelector("#panel-title")?.textContent === "Transition “transition_2”");
  await page.waitForSelector("#unsaved");

  const status = await settledStatus(page);
  const n = Number(/^(\d+) problems$/.exec(status)?.[1] ?? 0);
  assert.ok(n >= 3, `several problems at once: ${status}`);
  const paths = await page.$$eval("#problem-list button", (b) => b.map((x) => x.getAttribute("data-path")));
  assert.equal(paths.length, n);
  for (const p of ["states[2].external.signers", "transitions[1].to_state", "states[2]"]) assert.ok(paths.includes(p), `${p} in ${paths.join(", ")}`);
  // On the elements: the state node and the edge, not the others.
  assert.match(await classes(cp, 'g.node[data-key="state_3"]'), /problem/);
  assert.match(await classes(cp, 'g.edge[data-key="transition_2"]'), /problem/);
  assert.doesNotMatch(await classes(cp, 'g.node[data-key="start"]'), /problem/);
  assert.doesNotMatch(await classes(cp, 'g.edge[data-key="finish"]'), /problem/);
  assert.match(await page.$eval('g.node[data-key="state_3"]', (e) => e.textContent ?? ""), /\d+ problems?/);
  // In the side form, at the field.
  assert.match(await page.$eval("#transition-to-problem", (e) => e.textContent ?? ""), /required/);
  assert.equal(await page.$eval("#transition-to", (e) => e.getAttribute("aria-invalid")), "true");
  await screenshot(page, "designer-problems");
  await cp.axe("designer problems");
  await page.click('#problem-list button[data-path="states[2].external.signers"]');
  await page.waitForFunction(() => document.querySelector("#panel-title")?.textContent === "State “state_3”");
  assert.match(await page.$eval("#signers-problem", (e) => e.textContent ?? ""), /at least one signer/);
  assert.match(await page.$eval("#element-problems", (e) => e.textContent ?? ""), /cannot be reached from the START state/);
  await cp.axe("designer problems on a state");

  // Saving is refused with the same problems.
  await page.click("#save-draft");
  await cp.waitForText("The draft was not saved");

  // Fix: a start form with a name and an email, a signer, the transition into the state and one out.
  await setText(page, "#state-key", "sign");
  await selectState(page, "start");
  for (const [j, name, type] of [
    [0, "who", "1"],
    [1, "mail", "5"],
  ] as const) {
    await page.click("#add-field");
    await page.waitForSelector(`#field-${j}-name`);
    await setText(page, `#field-${j}-name`, name);
    await choose(page, `#field-${j}-type`, type);
  }
  await screenshot(page, "designer-start-form");
  await selectState(page, "sign");
  await page.click("#add-signer");
  assert.equal(await page.$eval("#signer-0-name", (e) => (e as HTMLSelectElement).value), "who");
  assert.equal(await page.$eval("#signer-0-email", (e) => (e as HTMLSelectElement).value), "mail");
  await selectTransition(page, "transition_2");
  await choose(page, "#transition-to", "sign");
  await selectState(page, "sign");
  await page.click("#add-transition");
  await waitForGraph(page, 3, 3);
  await choose(page, "#transition-to", "end");
  await choose(page, "#transition-outcome", "3");
  assert.equal(await settledStatus(page), "No problems");
  await page.waitForFunction(() => !document.querySelector("#problem-list"));
  assert.equal(await page.$$eval("#designer-graph g.problem", (e) => e.length), 0);

  await page.click("#save-draft");
  await page.waitForSelector("#save-result");
  const saved = await dev.rpc("WorkflowDesignService/GetWorkflow", { workflowId: workflow.id });
  assert.equal(saved.workflow.revision, "2");
  assert.deepEqual(
    saved.workflow.draft.transitions.map((t: any) => `${t.fromState}->${t.toState}`),
    ["start->end", "start->sign", "sign->end"],
  );
  await cp.close();
});

test("a save conflict says someone else saved, and reload brings their draft", async () => {
  const { workflow } = await dev.rpc("WorkflowDesignService/CreateWorkflow", { workflow: minimal("Shared draft") });
  const cp = await open(browser, dev, dev.adminKey, `/console/designer/${workflow.id}`);
  const page = cp.page;
  await waitForGraph(page, 2, 1);
  await page.click("#select-workflow");
  await setText(page, "#workflow-name", "Shared draft (mine)");
  await page.waitForSelector("#unsaved");

  await dev.rpc("WorkflowDesignService/UpdateWorkflow", {
    workflowId: workflow.id,
    expectedRevision: "1",
    workflow: { ...minimal("Shared draft (theirs)"), description: "saved elsewhere" },
  });
  await page.click("#save-draft");
  await page.waitForSelector("#save-conflict");
  assert.match(await page.$eval("#save-conflict", (e) => e.textContent ?? ""), /Someone else saved this workflow since you opened it/);
  // Nothing of ours was saved; our edit is still on the page.
  assert.equal((await dev.rpc("WorkflowDesignService/GetWorkflow", { workflowId: workflow.id })).workflow.draft.name, "Shared draft (theirs)");
  assert.equal(await page.$eval("#workflow-name", (e) => (e as HTMLInputElement).value), "Shared draft (mine)");
  await cp.axe("designer conflict");

  await page.click("#reload");
  await page.waitForFunction(() => (document.querySelector("#workflow-name") as HTMLInputElement | null)?.value === "Shared draft (theirs)");
  await cp.waitForText("Reloaded revision 2");
  assert.equal(await page.$eval("#workflow-description", (e) => (e as HTMLTextAreaElement).value), "saved elsewhere");
  assert.equal(await page.$$eval("#save-conflict, #unsaved", (e) => e.length), 0);
  await cp.close();
});

test("a designer who is not an admin types the assignee's id", async () => {
  const d = await dev.user("dora.designer@example.com", ["ROLE_DESIGNER"], "Dora");
  const { workflow } = await dev.rpc("WorkflowDesignService/CreateWorkflow", { workflow: minimal("Dora's") });
  const cp = await open(browser, dev, d.key, `/console/designer/${workflow.id}`);
  const page = cp.page;
  await waitForGraph(page, 2, 1);
  await page.click("#add-state");
  await waitForGraph(page, 3, 1);
  assert.equal(await page.$eval("#assignee-user", (e) => e.tagName), "INPUT");
  await setText(page, "#assignee-user", "no-such-user");
  await settledStatus(page);
  await page.waitForFunction(() => /no user has the id/.test(document.querySelector("#assignee-user-problem")?.textContent ?? ""));
  await setText(page, "#assignee-user", approver.id);
  await page.waitForFunction(() => !document.querySelector("#assignee-user-problem"));
  await cp.axe("designer as designer");
  await cp.close();
});

test("a HUMAN state's timeout needs its on_timeout transition", async () => {
  const { workflow } = await dev.rpc("WorkflowDesignService/CreateWorkflow", {
    workflow: {
      name: "Review with a deadline",
      states: [
        { key: "start", kind: "STATE_KIND_START" },
        { key: "review", name: "Review", kind: "STATE_KIND_HUMAN", assignee: { userId: approver.id } },
        { key: "end", kind: "STATE_KIND_END" },
      ],
      transitions: [
        { key: "submit", fromState: "start", toState: "review" },
        { key: "done", fromState: "review", toState: "end" },
      ],
    },
  });
  const cp = await open(browser, dev, dev.adminKey, `/console/designer/${workflow.id}`);
  const page = cp.page;
  await waitForGraph(page, 3, 2);
  await selectState(page, "review");
  assert.equal(await page.$eval("#assignee-user", (e) => (e as HTMLSelectElement).value), approver.id);
  await choose(page, "#state-timeout-unit", "3600");
  await setText(page, "#state-timeout", "2");
  assert.equal(await settledStatus(page), "1 problem");
  await page.waitForFunction(() => /no transition marked on_timeout/.test(document.querySelector("#state-timeout-problem")?.textContent ?? ""));
  assert.match(await classes(cp, 'g.node[data-key="review"]'), /problem/);
  await selectTransition(page, "done");
  await check(page, "#transition-timeout", true);
  assert.equal(await settledStatus(page), "No problems");
  assert.match(await page.$eval('g.edge[data-key="done"]', (e) => e.textContent ?? ""), /timeout/);
  await page.click("#save-draft");
  await page.waitForSelector("#save-result");
  const saved = await dev.rpc("WorkflowDesignService/GetWorkflow", { workflowId: workflow.id });
  assert.equal(saved.workflow.draft.states[1].timeout, "7200s");
  assert.equal(saved.workflow.draft.transitions[1].onTimeout, true);
  await cp.close();
});

test("while a save runs the draft is not editable; leaving unsaved changes asks first", async () => {
  const { workflow } = await dev.rpc("WorkflowDesignService/CreateWorkflow", { workflow: minimal("Saved while typing") });
  const cp = await open(browser, dev, dev.adminKey, `/console/designer/${workflow.id}`);
  const page = cp.page;
  await waitForGraph(page, 2, 1);
  await page.click("#select-workflow");
  await setText(page, "#workflow-name", "Saved while typing (mine)");
  await page.waitForSelector("#unsaved");
  const beforeUnload = () =>
    page.evaluate(() => {
      const e = new Event("beforeunload", { cancelable: true });
      window.dispatchEvent(e);
      return e.defaultPrevented;
    });

  // Leaving: a reload or a closed tab asks (beforeunload); the console's own links confirm.
  assert.equal(await beforeUnload(), true, "beforeunload asks while there are unsaved changes");
  const dialogs: string[] = [];
  page.on("dialog", (d) => {
    dialogs.push(`${d.type()}: ${d.message()}`);
    void (dialogs.length === 1 ? d.dismiss() : d.accept());
  });
  await page.click("p.crumbs a");
  assert.deepEqual(dialogs, ["confirm: This workflow has unsaved changes. Leave it and lose them?"]);
  assert.equal(new URL(page.url()).pathname, `/console/designer/${workflow.id}`, "dismissed: still on the editor");
  assert.equal(await page.$eval("#workflow-name", (e) => (e as HTMLInputElement).value), "Saved while typing (mine)");

  // Saving: held at the server's door until we see the editor wait for it.
  let release: (() => void) | undefined;
  let arrived: () => void;
  const held = new Promise<void>((resolve) => (arrived = resolve));
  await page.setRequestInterception(true);
  page.on("request", (r) => {
    if (r.url().endsWith("/flowhook.v1.WorkflowDesignService/UpdateWorkflow")) {
      release = () => void r.continue();
      arrived();
    } else {
      void r.continue();
    }
  });
  await page.click("#save-draft");
  await held;
  await page.waitForFunction(() => document.querySelector("#save-draft")?.textContent === "Saving…");
  assert.equal(await page.$eval("#workflow-name", (e) => (e as HTMLInputElement).matches(":disabled")), true, "the inputs wait while it saves");
  assert.equal(await page.$eval("#add-state", (e) => (e as HTMLButtonElement).disabled), true);
  release!();
  await page.waitForSelector("#save-result");
  await page.waitForFunction(() => !(document.querySelector("#workflow-name") as HTMLInputElement).matches(":disabled"));
  assert.equal(await page.$eval("#workflow-name", (e) => (e as HTMLInputElement).value), "Saved while typing (mine)");
  assert.equal((await dev.rpc("WorkflowDesignService/GetWorkflow", { workflowId: workflow.id })).workflow.draft.name, "Saved while typing (mine)");

  // Saved: leaving asks nothing.
  await page.waitForFunction(() => !document.querySelector("#unsaved"));
  assert.equal(await beforeUnload(), false);
  await page.click("p.crumbs a");
  await page.waitForSelector("#workflow-table");
  assert.equal(dialogs.length, 1, "no question once saved");
  await cp.close();
});

test("outcome overrides: two rows with the same event are both kept while typing", async () => {
  const { workflow } = await dev.rpc("WorkflowDesignService/CreateWorkflow", { workflow: docusignDraft("Overrides typed") });
  const cp = await open(browser, dev, dev.adminKey, `/console/designer/${workflow.id}`);
  const page = cp.page;
  await waitForGraph(page, 4, 4);
  await selectState(page, "sign");
  const events = () => page.$$eval("input[id^=override-][id$=-event]", (is) => is.map((i) => (i as HTMLInputElement).value));
  await page.click("#add-override");
  await page.waitForSelector("#override-0-event");
  await page.click("#add-override");
  await page.waitForSelector("#override-1-event");
  assert.deepEqual(await events(), ["event-1", "event-2"]);

  // Typed over, the second passes through the first's event on its way.
  await setText(page, "#override-1-event", "envelope-declined");
  await setText(page, "#override-0-event", "envelope-voided");
  await setText(page, "#override-1-event", "envelope-voidedx");
  assert.deepEqual(await events(), ["envelope-voided", "envelope-voidedx"]);
  // One character taken back: both are "envelope-voided" — still two rows, and a problem.
  await page.focus("#override-1-event");
  await page.keyboard.press("Backspace");
  await page.waitForSelector("#overrides-duplicate");
  assert.deepEqual(await events(), ["envelope-voided", "envelope-voided"]);
  assert.match(await page.$eval("#overrides-duplicate", (e) => e.textContent ?? ""), /Two overrides are for the event “envelope-voided”/);
  assert.equal(await page.$eval("#override-1-event", (e) => e.getAttribute("aria-invalid")), "true");
  await cp.axe("designer: overrides with the same event");
  for (let n = 0; n < "voided".length; n++) await page.keyboard.press("Backspace");
  await page.keyboard.type("declined");
  await page.waitForFunction(() => !document.querySelector("#overrides-duplicate"));
  await choose(page, "#override-1-outcome", "5");
  assert.deepEqual(await events(), ["envelope-voided", "envelope-declined"]);

  await page.click("#save-draft");
  await page.waitForSelector("#save-result");
  const saved = await dev.rpc("WorkflowDesignService/GetWorkflow", { workflowId: workflow.id });
  const sign = saved.workflow.draft.states.find((s: any) => s.key === "sign");
  assert.deepEqual(sign.external.outcomeOverrides, { "envelope-voided": "OUTCOME_DENIED", "envelope-declined": "OUTCOME_EXPIRED" });
  await cp.close();
});
