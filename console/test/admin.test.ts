// Workflow Manage, the Event Log and Settings against the real server (`flowhook dev` with the
// sandbox): what each page shows is checked against the API's own answers (dev.rpc).
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import type { Browser, Page } from "puppeteer-core";
import {
  cancelFromManage,
  connectorDraft,
  docusignDraft,
  makeFailedInstance,
  openDeliveryFor,
  publish,
  retryFromManage,
  reviewDraft,
  start,
  waitForExternalId,
  waitForInstance,
} from "./drivers/admin.js";
import { Dev, launch, open, screenshot, type ConsolePage } from "./harness.js";

let dev: Dev;
let browser: Browser;
const fx = {
  reviewer: { id: "", key: "" },
  reviewWf: "",
  ticketWf: "",
  docusignWf: "",
  reviews: [] as string[],
  tickets: [] as { id: string; externalId: string }[],
  envelope: { id: "", externalId: "" },
};

before(async () => {
  [dev, browser] = await Promise.all([Dev.start(), launch()]);
  fx.reviewer = await dev.user("rita@example.com", ["ROLE_USER"], "Rita Reviewer");
  fx.reviewWf = await publish(dev, reviewDraft("Expense review", fx.reviewer.id));
  fx.ticketWf = await publish(dev, connectorDraft("IT ticket", "sandbox"));
  fx.docusignWf = await publish(dev, docusignDraft("Contract signature"));
  for (let n = 0; n < 12; n++) fx.reviews.push(await start(dev, fx.reviewWf, { title: `expense ${n}` }));
  for (let n = 0; n < 3; n++) {
    const id = await start(dev, fx.ticketWf, { title: `ticket ${n}` });
    fx.tickets.push({ id, externalId: await waitForExternalId(dev, id) });
  }
  const env = await start(dev, fx.docusignWf, { signer_name: "Sam Signer", signer_email: "sam@example.com" });
  fx.envelope = { id: env, externalId: await waitForExternalId(dev, env) };
});
after(async () => {
  await browser?.close();
  await dev?.stop();
});

/** Extra screenshots for looking at states during development ($ADMIN_PEEK: a directory). */
async function peek(page: Page, name: string) {
  const dir = process.env["ADMIN_PEEK"];
  if (dir) await page.screenshot({ path: `${dir}/${name}.png`, fullPage: true });
}

const STATUSES = ["ACTIVE", "WAITING_EXTERNAL", "FAILED", "COMPLETED", "CANCELLED"];

async function listIds(filter: Record<string, unknown>, pageSize = 200): Promise<string[]> {
  const r = await dev.rpc("WorkflowInstanceService/ListInstances", { filter, pageSize });
  return (r.instances ?? []).map((i: any) => i.id).sort();
}

/** The ids of the rows shown, once the table settled on the expected count. */
async function shownIds(page: Page): Promise<string[]> {
  return (await page.$$eval("#manage-table tbody tr", (rows) => rows.map((r) => r.id.replace(/^row-/, "")))).sort();
}

/** Waits until the Manage table shows exactly these ids (sorted). */
async function waitForRows(cp: ConsolePage, ids: string[]) {
  await cp.page.waitForFunction(
    (want: string[]) => {
      const rows = Array.from(document.querySelectorAll("#manage-table tbody tr")).map((r) => r.id.replace(/^row-/, "")).sort();
      if (want.length === 0) return !!document.querySelector("#manage-empty");
      return JSON.stringify(rows) === JSON.stringify(want);
    },
    { timeout: 20_000, polling: 100 },
    ids,
  );
}

async function pressEnterIn(page: Page, selector: string, text: string) {
  await page.click(selector, { count: 3 });
  await page.keyboard.press("Backspace");
  await page.type(selector, text);
  await page.keyboard.press("Enter");
}

test("Workflow Manage: counts per status, and each filter narrows the list as the API does", async () => {
  const cp = await open(browser, dev, dev.adminKey, "/console/manage");
  await cp.page.waitForSelector("#manage-table");
  for (const s of STATUSES) {
    const r = await dev.rpc("WorkflowInstanceService/ListInstances", { filter: { status: `INSTANCE_STATUS_${s}` }, pageSize: 1 });
    const want = String(r.totalSize ?? "0");
    await cp.page.waitForFunction((id, n) => document.querySelector(`#count-${id} .n`)?.textContent === n, { timeout: 20_000 }, s, want);
  }
  const all = await dev.rpc("WorkflowInstanceService/ListInstances", { pageSize: 1 });
  await cp.page.waitForFunction((n) => document.querySelector("#count-ALL .n")?.textContent === n, {}, String(all.totalSize));
  await cp.axe("manage");
  await screenshot(cp.page, "manage");

  // Status: the select, kept in the URL.
  await cp.page.select("#f-status", "WAITING_EXTERNAL");
  const waiting = await listIds({ status: "INSTANCE_STATUS_WAITING_EXTERNAL" });
  assert.equal(waiting.length, 4);
  await waitForRows(cp, waiting);
  assert.equal(new URL(cp.page.url()).searchParams.get("status"), "WAITING_EXTERNAL");
  // Waiting rows name the system and the item they wait on, and never an assignee.
  await cp.page.waitForFunction(() => Array.from(document.querySelectorAll("#manage-table [data-waiting]")).every((e) => !!e.querySelector("code")));
  const cells = await cp.page.$$eval("#manage-table tbody tr", (rows) =>
    rows.map((r) => ({ waiting: r.querySelector("[data-waiting]")?.textContent ?? "", assignee: !!r.querySelector("[data-assignee]"), text: r.textContent ?? "" })),
  );
  for (const c of cells) {
    assert.match(c.waiting, /^Waiting on (DocuSign|Connector sandbox) · \S+/);
    assert.equal(c.assignee, false);
    assert.doesNotMatch(c.text, /Rita/);
  }
  for (const t of [...fx.tickets, fx.envelope]) {
    const w = await cp.page.$eval(`tr[id="row-${t.id}"] [data-waiting]`, (e) => e.textContent ?? "");
    assert.ok(w.includes(t.externalId), `${w} names ${t.externalId}`);
  }
  await cp.axe("manage filtered to waiting");

  // A shared view: the URL alone gives the same list.
  await cp.page.reload();
  await waitForRows(cp, waiting);
  assert.equal(await cp.page.$eval("#f-status", (e) => (e as HTMLSelectElement).value), "WAITING_EXTERNAL");

  // Provider.
  await cp.page.select("#f-status", "");
  await cp.page.select("#f-provider", "DOCUSIGN");
  await waitForRows(cp, await listIds({ provider: "PROVIDER_DOCUSIGN" }));
  assert.deepEqual(await shownIds(cp.page), [fx.envelope.id]);
  await cp.page.select("#f-provider", "CONNECTOR");
  const byConnector = await listIds({ provider: "PROVIDER_CONNECTOR" });
  assert.deepEqual(byConnector, fx.tickets.map((t) => t.id).sort());
  await waitForRows(cp, byConnector);
  await cp.page.waitForSelector('#f-provider option[value="CONNECTOR:sandbox"]');
  await cp.page.select("#f-provider", "CONNECTOR:sandbox");
  await waitForRows(cp, await listIds({ provider: "PROVIDER_CONNECTOR", connector: "sandbox" }));
  assert.equal(new URL(cp.page.url()).searchParams.get("connector"), "sandbox");
  await cp.page.select("#f-provider", "");

  // External id.
  await pressEnterIn(cp.page, "#f-external", fx.tickets[1].externalId);
  await waitForRows(cp, await listIds({ externalId: fx.tickets[1].externalId }));
  assert.deepEqual(await shownIds(cp.page), [fx.tickets[1].id]);
  assert.equal(new URL(cp.page.url()).searchParams.get("external"), fx.tickets[1].externalId);
  await pressEnterIn(cp.page, "#f-external", "");

  // Workflow and state.
  await cp.page.select("#f-workflow", fx.ticketWf);
  await waitForRows(cp, await listIds({ workflowId: fx.ticketWf }));
  await cp.page.select("#f-workflow", "");

  // Overdue: open instances whose deadline passed; the reviews' deadline is an hour away.
  await cp.page.click("#f-overdue");
  const overdue = await listIds({ overdueBefore: new Date().toISOString() });
  await waitForRows(cp, overdue);
  assert.deepEqual(overdue, []);
  assert.equal(new URL(cp.page.url()).searchParams.get("overdue"), "1");
  // … and the reviews carry their deadline.
  await cp.goto(`/manage?workflow=${fx.reviewWf}&size=100`);
  await waitForRows(cp, await listIds({ workflowId: fx.reviewWf }));
  const deadline = await cp.page.$eval(`tr[id="row-${fx.reviews[0]}"] time`, () => true).catch(() => false);
  assert.ok(deadline);
  const row = await cp.page.$eval(`tr[id="row-${fx.reviews[0]}"]`, (e) => e.textContent ?? "");
  assert.match(row, /in (60 min|1 h)/);
  assert.match(row, /Rita Reviewer/);
  await cp.close();
});

test("Workflow Manage: paging through more than one page", async () => {
  const cp = await open(browser, dev, dev.adminKey, `/console/manage?workflow=${fx.reviewWf}&size=10`);
  const all = await listIds({ workflowId: fx.reviewWf });
  assert.equal(all.length, 12);
  await cp.page.waitForFunction(() => document.querySelectorAll("#manage-table tbody tr").length === 10);
  await cp.waitForText("Page 1 · 12 in all");
  const first = await shownIds(cp.page);
  const [next] = await cp.page.$$("xpath/.//button[normalize-space()='Next page']");
  await next.click();
  await cp.waitForText("Page 2 · 12 in all");
  await cp.page.waitForFunction(() => document.querySelectorAll("#manage-table tbody tr").length === 2);
  const second = await shownIds(cp.page);
  assert.deepEqual([...first, ...second].sort(), all);
  assert.equal(await cp.page.$eval("xpath/.//button[normalize-space()='Next page']", (b) => (b as HTMLButtonElement).disabled), true);
  await cp.axe("manage page 2");
  const [firstBtn] = await cp.page.$$("xpath/.//button[normalize-space()='First page']");
  await firstBtn.click();
  await cp.waitForText("Page 1 · 12 in all");
  await cp.close();
});

test("Workflow Manage: paging through overdue instances keeps the time the first page was read at", async () => {
  // The browser's clock two hours on: for it the reviews' deadlines (an hour away) have passed.
  const ahead = 2 * 3600 * 1000;
  const want = await listIds({ workflowId: fx.reviewWf, overdueBefore: new Date(Date.now() + ahead).toISOString() });
  assert.ok(want.length > 10, `more than a page of overdue reviews: ${want.length}`);
  const cp = await open(browser, dev, dev.adminKey, `/console/manage?workflow=${fx.reviewWf}&overdue=1&size=10`);
  const page = cp.page;
  await page.evaluateOnNewDocument(`{
    const Real = Date;
    globalThis.Date = class extends Real {
      constructor(...a) { if (a.length === 0) super(Real.now() + ${ahead}); else super(...a); }
      static now() { return Real.now() + ${ahead}; }
    };
  }`);
  await page.reload();
  await cp.waitForText(`Page 1 · ${want.length} in all`);

  // Every later read of page 2, each with the filter it sends: the page follows the clock (every
  // 5 s) and polls; three answers are at least one of each.
  const reads: { overdueBefore: string; status: number }[] = [];
  let third: () => void;
  const threeRead = new Promise<void>((resolve) => (third = resolve));
  page.on("response", (r) => {
    if (!r.url().endsWith("/flowhook.v1.WorkflowInstanceService/ListInstances")) return;
    const body = JSON.parse(r.request().postData() ?? "{}");
    if (!body.pageToken) return;
    reads.push({ overdueBefore: body.filter?.overdueBefore, status: r.status() });
    if (reads.length === 3) third();
  });
  const [next] = await page.$$("xpath/.//button[normalize-space()='Next page']");
  await next.click();
  await cp.waitForText(`Page 2 · ${want.length} in all`);
  await threeRead;
  assert.deepEqual(
    reads.map((r) => r.status),
    [200, 200, 200],
    `page 2 read with the token of page 1: ${JSON.stringify(reads)}`,
  );
  assert.equal(new Set(reads.map((r) => r.overdueBefore)).size, 1, "one overdue_before for the pages after the first");
  assert.equal(await page.$("main .error"), null);
  assert.equal(await page.$$eval("#manage-table tbody tr", (rows) => rows.length), want.length - 10);
  // Back on the first page, it follows the clock again.
  const [firstBtn] = await page.$$("xpath/.//button[normalize-space()='First page']");
  await firstBtn.click();
  await cp.waitForText(`Page 1 · ${want.length} in all`);
  await cp.close();
});

test("Workflow Manage: bulk cancel of several with one reason, and the driver's single cancel", async () => {
  const cp = await open(browser, dev, dev.adminKey, `/console/manage?workflow=${fx.reviewWf}&status=ACTIVE&size=100`);
  const picked = fx.reviews.slice(0, 3);
  for (const id of picked) {
    await cp.page.waitForSelector(`input[id="select-${id}"]`);
    await cp.page.click(`input[id="select-${id}"]`);
  }
  await cp.waitForText("3 selected");
  await cp.page.click("#cancel-selected");
  await cp.page.waitForSelector("#cancel-reason");
  assert.equal(await cp.page.$eval("#confirm-cancel", (b) => (b as HTMLButtonElement).disabled), true, "no reason, no cancel");
  await cp.axe("manage confirm cancel");
  await peek(cp.page, "confirm-cancel");
  await cp.page.type("#cancel-reason", "Duplicate requests");
  await cp.page.click("#confirm-cancel");
  await cp.page.waitForSelector("#cancel-results");
  assert.equal(await cp.page.$$eval("#cancel-results li[data-ok=true]", (l) => l.length), 3);
  assert.match(await cp.page.$eval("#cancel-results", (e) => e.textContent ?? ""), /3 of 3 cancelled/);
  for (const id of picked) {
    const { instance } = await dev.rpc("WorkflowInstanceService/GetInstance", { instanceId: id });
    assert.equal(instance.status, "INSTANCE_STATUS_CANCELLED");
  }
  // They leave the ACTIVE view.
  await waitForRows(cp, await listIds({ workflowId: fx.reviewWf, status: "INSTANCE_STATUS_ACTIVE" }));
  await cp.axe("manage cancel results");
  await peek(cp.page, "cancel-results");

  await cancelFromManage(cp, fx.reviews[3], "Withdrawn by the requester");
  const { instance } = await dev.rpc("WorkflowInstanceService/GetInstance", { instanceId: fx.reviews[3] });
  assert.equal(instance.status, "INSTANCE_STATUS_CANCELLED");
  await cp.close();
});

test("Workflow Manage: a FAILED instance shows why and is retried", async () => {
  const { instanceId } = await makeFailedInstance(dev);
  const cp = await open(browser, dev, dev.adminKey, "/console/manage?status=FAILED");
  await cp.page.waitForSelector(`tr[id="row-${instanceId}"][data-status=FAILED]`);
  const row = await cp.page.$eval(`tr[id="row-${instanceId}"]`, (e) => e.textContent ?? "");
  assert.match(row, /creating the .* work item failed/);
  // CancelInstance takes FAILED instances too: one can be selected to cancel.
  assert.equal(await cp.page.$eval(`input[id="select-${instanceId}"]`, (e) => (e as HTMLInputElement).disabled), false);
  await cp.axe("manage failed");
  await peek(cp.page, "manage-failed");
  await retryFromManage(cp, instanceId);
  const i = await waitForInstance(dev, instanceId, (x) => x.status !== "INSTANCE_STATUS_FAILED");
  assert.equal(i.status, "INSTANCE_STATUS_WAITING_EXTERNAL");
  await cp.close();
});

test("Event Log: the Webhook Receiver debug switch round-trips", async () => {
  const cp = await open(browser, dev, dev.adminKey, "/console/events");
  await cp.page.waitForSelector("#receiver-debug");
  assert.equal(await cp.page.$eval("#receiver-debug", (e) => (e as HTMLInputElement).checked), false);
  await cp.page.click("#receiver-debug");
  await cp.page.click("#save-security");
  await cp.page.waitForSelector("#security-saved");
  assert.match(await cp.page.$eval("#security-saved", (e) => e.textContent ?? ""), /debug option is on/);
  const { settings } = await dev.rpc("ProviderSettingsService/GetSecuritySettings", {});
  assert.equal(settings.webhookReceiverDebug, true);
  await cp.page.reload();
  await cp.page.waitForFunction(() => (document.querySelector("#receiver-debug") as HTMLInputElement | null)?.checked === true);
  await cp.axe("event log receiver settings");
  await cp.close();
});

test("Event Log: a sandbox delivery shows up with its whole story, replay and reconcile", async () => {
  const t = fx.tickets[0];
  const res = await fetch(`${dev.base}/sandbox/work-items/${encodeURIComponent(t.externalId)}/complete`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ reason: "fixed the printer" }),
  });
  assert.equal(res.status, 200, await res.text());
  await waitForInstance(dev, t.id, (i) => i.status === "INSTANCE_STATUS_COMPLETED");

  const cp = await open(browser, dev, dev.adminKey, "/console/events");
  await cp.page.waitForSelector(`#events-table tr[data-external-id="${t.externalId}"]`);
  const listed = await cp.page.$eval(`#events-table tr[data-external-id="${t.externalId}"]`, (e) => e.textContent ?? "");
  assert.match(listed, /Connector sandbox/);
  assert.match(listed, /ticket\.resolved/);
  assert.match(listed, /Applied/);
  await cp.axe("event log");
  await screenshot(cp.page, "event-log");

  // Filters narrow like the API does.
  await cp.page.select("#ef-verdict", "APPLIED");
  const applied = await dev.rpc("EventLogService/ListEvents", { filter: { verdict: "VERDICT_APPLIED" }, pageSize: 200 });
  await cp.page.waitForFunction(
    (n) => document.querySelectorAll("#events-table tbody tr").length === n && Array.from(document.querySelectorAll("#events-table [data-verdict]")).every((e) => e.getAttribute("data-verdict") === "APPLIED"),
    { timeout: 20_000 },
    applied.events.length,
  );
  await cp.page.select("#ef-verdict", "");
  await cp.page.select("#ef-provider", "DOCUSIGN");
  const ds = await dev.rpc("EventLogService/ListEvents", { filter: { provider: "PROVIDER_DOCUSIGN" }, pageSize: 200 });
  if ((ds.events ?? []).length === 0) await cp.page.waitForSelector("#events-empty");
  else await cp.page.waitForFunction((n) => document.querySelectorAll("#events-table tbody tr").length === n, {}, ds.events.length);

  await openDeliveryFor(cp, t.externalId);
  const events = await dev.rpc("EventLogService/ListEvents", { filter: { externalId: t.externalId }, pageSize: 10 });
  const ev = await dev.rpc("EventLogService/GetEvent", { id: events.events[0].id });
  assert.equal(new URL(cp.page.url()).pathname, `/console/events/${ev.event.id}`);
  assert.equal(await cp.page.$eval("#event-verdict", (e) => e.getAttribute("data-verdict")), ev.event.verdict.replace(/^VERDICT_/, ""));
  assert.equal(await cp.page.$eval("#event-instance", (e) => e.textContent), t.id);
  const steps = await cp.page.$$eval("#event-steps li", (l) => l.map((x) => x.getAttribute("data-step")));
  assert.equal(steps.length, ev.entries.length);
  assert.ok(steps.includes("RECEIVED") && steps.includes("VERDICT"), steps.join(","));
  assert.match(await cp.page.$eval("#event-steps li a", (a) => (a as HTMLAnchorElement).href), /\/trace\/[0-9a-f]+$/);
  // Headers: none that authenticates; anything named like a signature is masked.
  assert.ok(!Object.keys(ev.headers ?? {}).some((h) => /signature/i.test(h)), "the server keeps no signature header");
  const headers = await cp.page.$$eval("#event-headers tbody tr", (rows) => rows.map((r) => [r.getAttribute("data-header"), r.children[1].textContent ?? ""]));
  assert.ok(headers.length > 0);
  for (const [name, value] of headers) {
    if (/signature|authorization|secret|key/i.test(name ?? "")) assert.match(value ?? "", /masked/);
  }
  const text = await cp.page.evaluate(() => document.body.innerText);
  assert.doesNotMatch(text, /v1,[A-Za-z0-9+/=]{20,}/, "no Standard Webhooks signature on the page");
  assert.doesNotMatch(text, /whsec_/);
  const body = await cp.page.$eval("#event-body", (e) => e.textContent ?? "");
  assert.match(body, /"type": "ticket\.resolved"/);
  await cp.axe("event detail");
  await screenshot(cp.page, "event-detail");

  // Replay: shows what the server answers (replaying an applied outcome changes nothing more).
  await cp.page.click("#replay-event");
  await cp.page.waitForSelector("#replay-result");
  const shown = await cp.page.$$eval("#replay-result [data-verdict]", (e) => e.map((x) => x.getAttribute("data-verdict")));
  const after = await dev.rpc("EventLogService/GetEvent", { id: ev.event.id });
  assert.equal(shown[0], "APPLIED");
  assert.equal(shown[1], after.event.verdict.replace(/^VERDICT_/, ""));
  await cp.axe("event replayed");
  await peek(cp.page, "event-replayed");
  const instance = await dev.rpc("WorkflowInstanceService/GetInstance", { instanceId: t.id });
  assert.equal(instance.instance.status, "INSTANCE_STATUS_COMPLETED");

  // Reconcile now, from the list.
  await cp.goto("/events");
  await cp.page.click("#reconcile-now");
  await cp.page.waitForSelector("#reconcile-result");
  assert.match(await cp.page.$eval("#reconcile-result", (e) => e.textContent ?? ""), /^Checked \d+ work items?: \d+ had an outcome, \d+ new events? stored\./);
  await cp.axe("reconcile result");
  await peek(cp.page, "reconcile");
  await cp.close();
});

test("Settings: DocuSign and OneSpan show their secrets as set, the webhook URL, and test the connection", async () => {
  const cp = await open(browser, dev, dev.adminKey, "/console/settings/docusign");
  const { settings: ds } = await dev.rpc("ProviderSettingsService/GetDocuSignSettings", {});
  await cp.page.waitForSelector("#ds-private-key-state");
  assert.equal(await cp.page.$eval("#ds-private-key-state", (e) => e.textContent), ds.privateKeySet ? "Set" : "Not set");
  assert.equal(await cp.page.$eval("#ds-hmac-state", (e) => e.textContent), `${ds.hmacKeyCount} set`);
  assert.equal(await cp.page.$eval("#docusign-webhook-url", (e) => e.textContent), ds.webhookUrl);
  assert.equal(await cp.page.$eval("#ds-integration-key", (e) => (e as HTMLInputElement).value), ds.integrationKey);
  assert.equal(await cp.page.$eval("#ds-private-key", (e) => (e as HTMLTextAreaElement).value), "");
  await cp.page.click("#docusign-test");
  await cp.page.waitForSelector("#docusign-test-result");
  assert.equal(await cp.page.$eval("#docusign-test-result", (e) => e.getAttribute("data-ok")), "true");
  await cp.axe("settings docusign");
  await screenshot(cp.page, "settings-docusign");

  await cp.page.click("#tab-onespan");
  await cp.page.waitForSelector("#os-api-key-state");
  assert.equal(await cp.page.$eval("#os-api-key-state", (e) => e.textContent), "Set");
  assert.equal(await cp.page.$eval("#os-api-key", (e) => (e as HTMLInputElement).value), "");
  await cp.page.click("#onespan-test");
  await cp.page.waitForSelector("#onespan-test-result");
  assert.equal(await cp.page.$eval("#onespan-test-result", (e) => e.getAttribute("data-ok")), "true");
  await cp.axe("settings onespan");
  await peek(cp.page, "onespan");

  // A secret set through the API is never on the page.
  const hmac = "hmac-secret-" + Math.random().toString(36).slice(2);
  const { settings: before } = await dev.rpc("ProviderSettingsService/GetDocuSignSettings", {});
  await dev.rpc("ProviderSettingsService/UpdateDocuSignSettings", {
    accountId: before.accountId,
    integrationKey: before.integrationKey,
    userId: before.userId,
    oauthBaseUrl: before.oauthBaseUrl,
    hmacKeys: [hmac, hmac + "-next"],
    replaceHmacKeys: true,
    expectedRevision: before.revision,
  });
  await cp.goto("/settings/docusign");
  await cp.page.waitForFunction(() => document.querySelector("#ds-hmac-state")?.textContent === "2 set");
  const html = await cp.page.content();
  assert.ok(!html.includes(hmac), "the HMAC key is not on the page");
  await cp.page.click("#save-docusign");
  await cp.page.waitForSelector("#docusign-saved");
  const { settings: saved } = await dev.rpc("ProviderSettingsService/GetDocuSignSettings", {});
  assert.equal(saved.hmacKeyCount, 2, "saving the form keeps the secrets");
  assert.equal(saved.revision, String(Number(before.revision) + 2));
  await cp.close();
});

test("Settings: connectors — create shows the signing secret once, test connection", async () => {
  const cp = await open(browser, dev, dev.adminKey, "/console/settings/connectors");
  await cp.page.waitForSelector("#connector-sandbox");
  await cp.page.click("#test-sandbox");
  await cp.page.waitForSelector("#test-sandbox-result");
  assert.equal(await cp.page.$eval("#test-sandbox-result", (e) => e.getAttribute("data-ok")), "true");
  await cp.axe("settings connectors");

  await cp.page.type("#nc-name", "acme-tickets");
  await cp.page.type("#nc-display", "Acme tickets");
  await cp.page.type("#nc-create-url", "https://tickets.acme.example/api/items");
  await cp.page.type("#nc-outcomes", "item.done=FINISHED\nitem.refused=DENIED");
  await cp.page.click("#create-connector");
  await cp.page.waitForSelector("#connector-secret");
  const secret = await cp.page.$eval("#connector-secret", (e) => e.textContent ?? "");
  assert.match(secret, /^whsec_/);
  const { connector } = await dev.rpc("ProviderSettingsService/GetConnector", { name: "acme-tickets" });
  assert.equal(connector.displayName, "Acme tickets");
  assert.deepEqual(connector.outcomes, { "item.done": "OUTCOME_FINISHED", "item.refused": "OUTCOME_DENIED" });
  assert.equal(connector.signingSecretSet, true);
  await cp.page.waitForSelector("#connector-acme-tickets");
  await cp.axe("settings connector created");
  await peek(cp.page, "connector-created");
  await cp.goto("/settings/connectors");
  await cp.page.waitForSelector("#connector-acme-tickets");
  assert.ok(!(await cp.page.content()).includes(secret), "the secret is shown once only");

  // Edit at its revision; then delete, after a confirm.
  await cp.page.click('button[aria-label="Edit acme-tickets"]');
  await cp.page.waitForSelector("#edit-connector");
  assert.equal(await cp.page.$eval("#ec-secret", (e) => (e as HTMLInputElement).value), "");
  await cp.page.click("#ec-display", { count: 3 });
  await cp.page.type("#ec-display", "Acme ticket desk");
  await cp.page.click("#save-connector");
  await cp.waitForText("Saved (revision 2)");
  const edited = await dev.rpc("ProviderSettingsService/GetConnector", { name: "acme-tickets" });
  assert.equal(edited.connector.displayName, "Acme ticket desk");
  assert.equal(edited.connector.revision, "2");
  await cp.axe("settings connector edit");

  // Another admin saves it meanwhile; the list here is read again (here: after a connector is
  // created), the form keeps the revision it was filled from and the save is a conflict.
  await cp.page.click("#ec-display", { count: 3 });
  await cp.page.type("#ec-display", "Acme (mine)");
  const { connector: cur } = await dev.rpc("ProviderSettingsService/GetConnector", { name: "acme-tickets" });
  await dev.rpc("ProviderSettingsService/UpdateConnector", {
    name: "acme-tickets",
    displayName: "Acme (theirs)",
    createUrl: cur.createUrl,
    outcomes: cur.outcomes,
    expectedRevision: cur.revision,
  });
  await cp.page.type("#nc-name", "acme-other");
  await cp.page.type("#nc-create-url", "https://other.acme.example/api/items");
  await cp.page.click("#create-connector");
  await cp.page.waitForSelector("#connector-acme-other");
  await cp.page.waitForFunction(() => /revision 3/.test(document.querySelector("#connector-acme-tickets")?.textContent ?? ""));
  await cp.page.click("#save-connector");
  await cp.page.waitForFunction(() => !!document.querySelector("#connector-conflict") || document.body.innerText.includes("Saved (revision 4)"));
  const after = await dev.rpc("ProviderSettingsService/GetConnector", { name: "acme-tickets" });
  assert.equal(after.connector.displayName, "Acme (theirs)", "their change is not overwritten");
  assert.match(await cp.page.$eval("#connector-conflict", (e) => e.textContent ?? ""), /changed meanwhile/);
  assert.equal(await cp.page.$eval("#ec-display", (e) => (e as HTMLInputElement).value), "Acme (mine)", "our entries are kept");
  await cp.axe("settings connector conflict");
  await cp.page.click("#connector-reload");
  await cp.page.waitForFunction(() => (document.querySelector("#ec-display") as HTMLInputElement | null)?.value === "Acme (theirs)");
  await cp.page.click("#save-connector");
  await cp.waitForText("Saved (revision 4)");
  await cp.page.click('button[aria-label="Delete acme-other"]');
  await cp.page.click("#confirm-delete-acme-other");
  await cp.page.waitForFunction(() => !document.querySelector("#connector-acme-other"));
  await cp.page.click('button[aria-label="Delete acme-tickets"]');
  await cp.page.click("#confirm-delete-acme-tickets");
  await cp.page.waitForFunction(() => !document.querySelector("#connector-acme-tickets"));
  const gone = await fetch(`${dev.base}/flowhook.v1.ProviderSettingsService/GetConnector`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${dev.adminKey}` },
    body: JSON.stringify({ name: "acme-tickets" }),
  });
  assert.equal(gone.status, 404);
  await cp.close();
});

test("Settings: users, groups and API keys", async () => {
  const cp = await open(browser, dev, dev.adminKey, "/console/settings/users");
  await cp.page.waitForSelector("#users-table");
  await cp.page.type("#nu-name", "Dora Designer");
  await cp.page.type("#nu-email", "dora@example.com");
  await cp.page.click("#nu-role-DESIGNER");
  await cp.page.click("#create-user");
  await cp.page.waitForSelector("#user-created");
  await cp.page.waitForSelector('#users-table tr[data-email="dora@example.com"]');
  const users = await dev.rpc("IdentityService/ListUsers", { pageSize: 500 });
  const dora = users.users.find((u: any) => u.email === "dora@example.com");
  assert.deepEqual(dora.roles.sort(), ["ROLE_DESIGNER", "ROLE_USER"]);
  await cp.axe("settings users");
  await screenshot(cp.page, "settings-users");

  await cp.page.click(`button[aria-label="Deactivate dora@example.com"]`);
  await cp.page.waitForSelector(`button[aria-label="Reactivate dora@example.com"]`);
  assert.equal((await dev.rpc("IdentityService/ListUsers", { pageSize: 500 })).users.find((u: any) => u.id === dora.id).deactivated, true);
  await cp.page.click(`button[aria-label="Reactivate dora@example.com"]`);
  await cp.page.waitForSelector(`button[aria-label="Deactivate dora@example.com"]`);
  assert.ok(!(await dev.rpc("IdentityService/ListUsers", { pageSize: 500 })).users.find((u: any) => u.id === dora.id).deactivated);

  await cp.page.click("#tab-groups");
  await cp.page.waitForSelector("#ng-name");
  await cp.page.type("#ng-name", "Legal");
  await cp.page.type("#ng-desc", "Countersigns contracts");
  await cp.page.click("#create-group");
  await cp.page.waitForSelector('div[data-name="Legal"]');
  const legal = (await dev.rpc("IdentityService/ListGroups", { pageSize: 500 })).groups.find((g: any) => g.name === "Legal");
  await cp.page.select(`select[id="add-${legal.id}"]`, dora.id);
  await cp.page.click(`div[data-name="Legal"] button[type=submit]`);
  await cp.page.waitForSelector(`button[aria-label="Remove dora@example.com from Legal"]`);
  assert.deepEqual((await dev.rpc("IdentityService/ListGroups", { pageSize: 500 })).groups.find((g: any) => g.id === legal.id).memberIds, [dora.id]);
  await cp.axe("settings groups");
  await peek(cp.page, "groups");
  await cp.page.click(`button[aria-label="Remove dora@example.com from Legal"]`);
  await cp.page.waitForFunction(() => document.querySelector('div[data-name="Legal"]')?.textContent?.includes("No members."));

  await cp.page.click("#tab-keys");
  await cp.page.waitForSelector("#keys-user");
  await cp.page.select("#keys-user", dora.id);
  await cp.page.waitForSelector("#keys-empty");
  await cp.page.type("#nk-name", "dora laptop");
  await cp.page.click("#create-key");
  await cp.page.waitForSelector("#new-key-secret");
  const secret = await cp.page.$eval("#new-key-secret", (e) => e.textContent ?? "");
  const who = await dev.rpc("IdentityService/WhoAmI", {}, secret);
  assert.equal(who.user.id, dora.id);
  await cp.page.waitForSelector('#keys-table tr[data-name="dora laptop"][data-revoked=false]');
  await cp.axe("settings keys");
  await peek(cp.page, "keys");
  // The secret was Dora's key's: the keys of another user do not show it.
  const me = await dev.rpc("IdentityService/WhoAmI", {});
  await cp.page.select("#keys-user", me.user.id);
  await cp.page.waitForFunction(() => /New API key for (?!dora@)/.test(document.querySelector("#new-key-title")?.textContent ?? ""));
  assert.equal(await cp.page.$("#new-key-secret"), null, "another user's keys show no secret");
  await cp.page.select("#keys-user", dora.id);
  await cp.page.waitForSelector('#keys-table tr[data-name="dora laptop"]');
  assert.equal(await cp.page.$("#new-key-secret"), null, "shown once: not again on coming back");
  await cp.page.click('#keys-table tr[data-name="dora laptop"] button.danger');
  await cp.page.click('#keys-table tr[data-name="dora laptop"] [id^=confirm-revoke-]');
  await cp.page.waitForSelector('#keys-table tr[data-name="dora laptop"][data-revoked=true]');
  const keys = await dev.rpc("IdentityService/ListApiKeys", { userId: dora.id });
  assert.ok(keys.apiKeys[0].revokedAt);
  const refused = await fetch(`${dev.base}/flowhook.v1.IdentityService/WhoAmI`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${secret}` },
    body: "{}",
  });
  assert.equal(refused.status, 401);

  await cp.page.click("#tab-security");
  await cp.page.waitForSelector("#receiver-debug");
  await cp.axe("settings security");
  await peek(cp.page, "security");
  await cp.page.click("#tab-console");
  await cp.page.waitForSelector("#jaeger-url");
  await cp.page.click("#jaeger-url", { count: 3 });
  await cp.page.type("#jaeger-url", "http://jaeger.internal:16686/");
  await cp.page.click("#save-console");
  await cp.page.waitForSelector("#console-saved");
  assert.equal(await cp.page.evaluate(() => localStorage.getItem("flowhook.jaegerUrl")), "http://jaeger.internal:16686");
  await cp.axe("settings console");
  await peek(cp.page, "console");
  await cp.close();
});

test("Workflow Manage: instances assigned to a deactivated user", async () => {
  await dev.rpc("IdentityService/DeactivateUser", { userId: fx.reviewer.id });
  const want = await listIds({ assigneeInactive: true });
  assert.ok(want.length > 0);
  const cp = await open(browser, dev, dev.adminKey, "/console/manage");
  await cp.page.waitForSelector("#f-inactive");
  await cp.page.click("#f-inactive");
  await waitForRows(cp, want);
  assert.equal(new URL(cp.page.url()).searchParams.get("inactive"), "1");
  assert.match(await cp.page.$eval("#manage-table tbody tr [data-assignee]", (e) => e.textContent ?? ""), /Rita Reviewer \(deactivated\)/);
  await cp.axe("manage assignee inactive");
  await dev.rpc("IdentityService/ReactivateUser", { userId: fx.reviewer.id });
  await cp.close();
});
