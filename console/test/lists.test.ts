// Lists past their first page: the pickers and name lookups read every page of users (more
// than the server's 500 a page here), and the Designer's versions list reaches the oldest of
// more than one page of versions.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import type { Browser } from "puppeteer-core";
import { publish, reviewDraft, start } from "./drivers/admin.js";
import { selectState } from "./drivers/designer.js";
import { Dev, launch, open } from "./harness.js";

let dev: Dev;
let browser: Browser;

before(async () => {
  [dev, browser] = await Promise.all([Dev.start(), launch()]);
});
after(async () => {
  await browser?.close();
  await dev?.stop();
});

/** The server's largest page. */
const MAX_PAGE = 500;

test("a user past the first page of users is offered and named", async () => {
  // More users than one page holds (the bootstrap admin is one more).
  for (let n = 0; n < MAX_PAGE + 10; n += 10) {
    await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        dev.rpc("IdentityService/CreateUser", { email: `many${n + i}@example.com`, displayName: `Many ${n + i}`, roles: ["ROLE_USER"] }),
      ),
    );
  }
  const first = await dev.rpc("IdentityService/ListUsers", { pageSize: MAX_PAGE });
  assert.equal(first.users.length, MAX_PAGE);
  assert.ok(first.nextPageToken, "the users take more than one page");
  const second = await dev.rpc("IdentityService/ListUsers", { pageSize: MAX_PAGE, pageToken: first.nextPageToken });
  const far = second.users.find((u: any) => u.email.startsWith("many"));
  assert.ok(far, "one of ours is on the second page");

  // Settings → Groups: the member picker offers them, and they can be added.
  const { group } = await dev.rpc("IdentityService/CreateGroup", { name: "Reviewers" });
  const cp = await open(browser, dev, dev.adminKey, "/console/settings/groups");
  await cp.page.waitForSelector(`select[id="add-${group.id}"] option[value="${far.id}"]`);
  await cp.page.select(`select[id="add-${group.id}"]`, far.id);
  await cp.page.click(`div[data-name="Reviewers"] button[type=submit]`);
  await cp.page.waitForSelector(`button[aria-label="Remove ${far.email} from Reviewers"]`);
  const groups = await dev.rpc("IdentityService/ListGroups", { pageSize: MAX_PAGE });
  assert.deepEqual(groups.groups.find((g: any) => g.id === group.id).memberIds, [far.id]);
  await cp.axe("groups with many users");

  // The Designer: a state assigned to them shows them as its assignee, not an unknown id.
  const wf = await publish(dev, reviewDraft("Far review", far.id));
  await cp.goto(`/designer/${wf}`);
  await cp.page.waitForSelector('#designer-graph g.node[data-key="review"]');
  await selectState(cp.page, "review");
  await cp.page.waitForFunction(
    (id) => {
      const sel = document.querySelector("#assignee-user") as HTMLSelectElement | null;
      return sel !== null && sel.value === id && sel.options.length > 500;
    },
    {},
    far.id,
  );
  const shown = await cp.page.$eval("#assignee-user", (e) => (e as HTMLSelectElement).selectedOptions[0]?.text ?? "");
  assert.equal(shown, `${far.displayName} <${far.email}>`);

  // Workflow Manage: their instance names them.
  const id = await start(dev, wf, { title: "far" });
  await cp.goto(`/manage?workflow=${wf}`);
  await cp.page.waitForFunction(
    (i, name) => document.querySelector(`#row-${i} [data-assignee]`)?.textContent?.includes(name) ?? false,
    {},
    id,
    far.displayName,
  );
  await cp.close();
});

test("the Designer reaches the oldest of more versions than a page shows", async () => {
  const { workflow } = await dev.rpc("WorkflowDesignService/CreateWorkflow", {
    workflow: {
      name: "Often published",
      states: [
        { key: "start", name: "Start", kind: "STATE_KIND_START" },
        { key: "end", name: "End", kind: "STATE_KIND_END" },
      ],
      transitions: [{ key: "finish", name: "Finish", fromState: "start", toState: "end" }],
    },
  });
  // 25 versions: more than the 20 the list shows at first.
  let wf = workflow;
  for (let n = 1; n <= 25; n++) {
    if (n > 1) {
      ({ workflow: wf } = await dev.rpc("WorkflowDesignService/UpdateWorkflow", {
        workflowId: wf.id,
        expectedRevision: wf.revision,
        workflow: { ...wf.draft, description: `edit ${n}` },
      }));
    }
    const { version } = await dev.rpc("WorkflowDesignService/PublishWorkflow", { workflowId: wf.id, expectedRevision: wf.revision });
    assert.equal(version.version, n);
  }

  const cp = await open(browser, dev, dev.adminKey, `/console/designer/${wf.id}`);
  const link = (v: number) => `#version-table a[href$="/designer/${wf.id}/versions/${v}"]`;
  await cp.page.waitForSelector(link(25));
  assert.equal(await cp.page.$(link(1)), null, "the first page holds the newest");
  await cp.page.click("#older-versions");
  await cp.page.waitForSelector(link(1));
  assert.equal(await cp.page.$$eval("#version-table tbody tr", (rows) => rows.length), 25);
  await cp.page.waitForFunction(() => !document.querySelector("#older-versions"));
  await cp.axe("designer with older versions");

  // Version 1 opens from there; the list keeps the pages read.
  await cp.page.click(link(1));
  await cp.page.waitForFunction(() => document.querySelector("#page-title")?.textContent === "Often published: version 1");
  assert.equal(await cp.page.$$eval("#version-table tbody tr", (rows) => rows.length), 25);
  await cp.close();

  // The read-only view of a version, opened afresh, pages its list the same way.
  const vp = await open(browser, dev, dev.adminKey, `/console/designer/${wf.id}/versions/25`);
  await vp.page.waitForSelector("#read-only-note");
  await vp.page.waitForSelector("#older-versions");
  assert.equal(await vp.page.$(link(1)), null);
  await vp.page.click("#older-versions");
  await vp.page.waitForSelector(link(1));
  await vp.close();
});
