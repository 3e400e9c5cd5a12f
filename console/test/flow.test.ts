// The whole story through the console, as the issue tells it: an administrator designs a workflow
// with a DocuSign state in the Designer and publishes it; a requester starts an instance; a
// second user approves it from their Inbox; the sandbox button completes the envelope; Form
// Activity shows each step and the Event Log the delivery; Workflow Manage cancels one instance
// and retries a failed one; a non-admin does not see the admin pages. axe runs on every page.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import type { Browser } from "puppeteer-core";
import { cancelFromManage, makeFailedInstance, openDeliveryFor, retryFromManage, waitForExternalId } from "./drivers/admin.js";
import { designSigningWorkflow } from "./drivers/designer.js";
import { sandboxAction, startInstance, takeTransitionFromInbox, waitForInstanceStatus } from "./drivers/work.js";
import { Dev, launch, open, type ConsolePage } from "./harness.js";

let dev: Dev;
let browser: Browser;
before(async () => {
  [dev, browser] = await Promise.all([Dev.start(), launch()]);
});
after(async () => {
  await browser?.close();
  await dev?.stop();
});

async function instance(id: string) {
  return (await dev.rpc("WorkflowInstanceService/GetInstance", { instanceId: id })).instance;
}

const startValues = { "Signer name": "Sam Signer", "Signer email": "sam@example.com", Amount: "1200" };

test("design, start, approve, sign, follow, cancel and retry — all in the browser", async () => {
  const ann = await dev.user("ann@example.com", ["ROLE_USER"], "Ann Approver");
  const rita = await dev.user("rita@example.com", ["ROLE_USER"], "Rita Requester");

  // An administrator designs and publishes the workflow.
  const admin = await open(browser, dev, dev.adminKey, "/console/designer");
  const { workflowId, version } = await designSigningWorkflow(admin, { name: "Contract signing", approverEmail: "ann@example.com" });
  assert.equal(version, 1);
  const published = await dev.rpc("WorkflowDesignService/GetWorkflowVersion", { workflowId, version: 1 });
  assert.ok(
    published.version.states.some((s: any) => s.kind === "STATE_KIND_EXTERNAL" && s.external.provider === "PROVIDER_DOCUSIGN"),
    "the published version has a DocuSign state",
  );

  // A requester starts it; the approver sees it in their inbox and approves it.
  const requester = await open(browser, dev, rita.key);
  const id = await startInstance(requester, "Contract signing", startValues);
  let in1 = await instance(id);
  assert.equal(in1.status, "INSTANCE_STATUS_ACTIVE");
  assert.equal(in1.startedBy, rita.id);
  assert.equal(in1.formData.signer_email, "sam@example.com");
  await requester.axe("form activity (requester)");

  const approver = await open(browser, dev, ann.key);
  await takeTransitionFromInbox(approver, id, "approve");
  assert.equal((await instance(id)).status, "INSTANCE_STATUS_WAITING_EXTERNAL");
  // The envelope is created by a job after the transition commits: its id comes a moment later.
  const envelope = await waitForExternalId(dev, id);
  // Waiting on DocuSign, it is nobody's work.
  await approver.goto("/inbox");
  await approver.page.waitForFunction((i) => !document.querySelector(`a[href$="/instances/${i}"]`), { polling: 200, timeout: 20_000 }, id);
  await approver.axe("inbox after approving");

  // The administrator plays DocuSign with the sandbox button and follows it on Form Activity.
  await admin.goto(`/instances/${id}`);
  await waitForInstanceStatus(admin, "Waiting external");
  await admin.waitForText(envelope);
  await admin.axe("form activity (waiting, sandbox)");
  await sandboxAction(admin, id, "complete");
  await waitForInstanceStatus(admin, "Completed");
  in1 = await instance(id);
  assert.equal(in1.status, "INSTANCE_STATUS_COMPLETED");
  assert.equal(in1.workItem.outcome, "OUTCOME_FINISHED");
  for (const text of [envelope, "DocuSign", "Finished", "Ann Approver"]) await admin.waitForText(text);
  await admin.axe("form activity (completed)");

  // The Event Log has the delivery, with its story.
  await openDeliveryFor(admin, envelope);
  await admin.waitForText("Applied");
  await admin.axe("event log delivery");

  // Workflow Manage: cancel a second instance, retry a failed one.
  const id2 = await startInstance(requester, "Contract signing", startValues);
  await cancelFromManage(admin, id2, "the customer withdrew");
  const in2 = await instance(id2);
  assert.equal(in2.status, "INSTANCE_STATUS_CANCELLED");
  assert.equal(in2.reason, "the customer withdrew");
  await admin.axe("workflow manage");

  const { instanceId: failed } = await makeFailedInstance(dev);
  await retryFromManage(admin, failed);
  assert.notEqual((await instance(failed)).status, "INSTANCE_STATUS_FAILED");

  // The approver is not an admin: the admin pages are not in their navigation and say so by URL.
  const labels = await approver.page.$$eval("header.top nav a", (as) => as.map((a) => a.textContent?.trim()));
  assert.deepEqual(labels, ["Inbox", "Start"]);
  for (const path of ["/manage", "/events", "/settings", "/designer"]) {
    await approver.goto(path);
    await approver.page.waitForSelector("#not-allowed");
  }
  await approver.axe("not allowed");

  for (const cp of [admin, requester, approver] as ConsolePage[]) await cp.close();
});
