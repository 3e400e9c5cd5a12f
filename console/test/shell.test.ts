// The console's frame: sign-in, the pages each role sees (and the home page it lands on), a
// refused key, a page opened by URL that the caller's roles do not allow, a failed check of the
// account that leaves the page be, and the CSP holding with no violation.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import type { Browser } from "puppeteer-core";
import { checkA11y, Dev, launch, open, screenshot } from "./harness.js";

let dev: Dev;
let browser: Browser;
before(async () => {
  [dev, browser] = await Promise.all([Dev.start(), launch()]);
});
after(async () => {
  await browser?.close();
  await dev?.stop();
});

const navLabels = (p: import("puppeteer-core").Page) =>
  p.$$eval("header.top nav a", (as) => as.map((a) => a.textContent?.trim() ?? ""));

test("the server serves the console with its CSP and no violation", async () => {
  const res = await fetch(dev.base + "/console/inbox");
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-security-policy") ?? "", /script-src 'self'/);
  assert.equal((await fetch(dev.base + "/", { redirect: "manual" })).headers.get("location"), "/console/");

  const page = await browser.newPage();
  await page.evaluateOnNewDocument(() => {
    (window as any).__csp = [];
    document.addEventListener("securitypolicyviolation", (e) => (window as any).__csp.push(`${e.violatedDirective} ${e.blockedURI}`));
  });
  await page.goto(dev.base + "/console/");
  await page.waitForSelector("#api-key");
  await checkA11y(page, "sign-in");
  await screenshot(page, "sign-in");
  await page.locator("#api-key").fill(dev.adminKey);
  await page.locator("button[type=submit]").click();
  await page.waitForSelector("header.top nav");
  assert.deepEqual(await navLabels(page), ["Inbox", "Start", "Workflow Manage", "Designer", "Event Log", "Settings"]);
  assert.equal(new URL(page.url()).pathname, "/console/inbox");
  assert.deepEqual(await page.evaluate(() => (window as any).__csp), []);
  await page.close();
});

test("a wrong key gets a clear page, and a revoked one too", async () => {
  const page = await browser.newPage();
  await page.goto(dev.base + "/console/");
  await page.locator("#api-key").fill("fh_not_a_real_key_0000000000000000");
  await page.locator("button[type=submit]").click();
  await page.waitForSelector("#key-refused");
  assert.match(await page.$eval("#key-refused", (e) => e.textContent ?? ""), /Your API key was refused/);
  await checkA11y(page, "key refused");

  const u = await dev.user("revoked@example.com", ["ROLE_USER"]);
  await page.locator("#api-key").fill(u.key);
  await page.locator("button[type=submit]").click();
  await page.waitForSelector("header.top nav");
  const keys = await dev.rpc("IdentityService/ListApiKeys", { userId: u.id });
  for (const k of keys.apiKeys) await dev.rpc("IdentityService/RevokeApiKey", { apiKeyId: k.id });
  await page.reload();
  await page.waitForSelector("#key-refused");
  await page.close();
});

test("a user sees only their pages and a clear message on an admin page opened by URL", async () => {
  const u = await dev.user("ursula@example.com", ["ROLE_USER"], "Ursula");
  const cp = await open(browser, dev, u.key, "/console/manage");
  await cp.page.waitForSelector("#not-allowed");
  assert.match(await cp.page.$eval("#not-allowed", (e) => e.textContent ?? ""), /Workflow Manage is for administrators/);
  assert.deepEqual(await navLabels(cp.page), ["Inbox", "Start"]);
  await cp.axe("not allowed");
  for (const path of ["/events", "/settings", "/settings/docusign", "/designer"]) {
    await cp.goto(path);
    await cp.page.waitForSelector("#not-allowed");
  }
  await cp.goto("/no/such/page");
  await cp.waitForText("There is no page at");
  await cp.close();
});

test("a designer who is not a user lands on the Designer, and is offered only what their role allows", async () => {
  const d = await dev.user("desi@example.com", ["ROLE_DESIGNER"], "Desi");
  const cp = await open(browser, dev, d.key);
  // The inbox and Start are USER work (ListAssignedToMe, StartInstance): not a designer's home.
  await cp.page.waitForFunction(() => location.pathname === "/console/designer");
  await cp.page.waitForSelector("#workflow-table");
  assert.deepEqual(await navLabels(cp.page), ["Designer"]);
  assert.equal(await cp.page.$eval("header.top a.brand", (a) => a.getAttribute("href")), "/console/designer");
  await cp.axe("designer's home");
  for (const path of ["/inbox", "/start"]) {
    await cp.goto(path);
    await cp.page.waitForSelector("#not-allowed");
    assert.match(await cp.page.$eval("#not-allowed", (e) => e.textContent ?? ""), /is for users and administrators/);
    assert.equal(await cp.page.$eval("#not-allowed a", (a) => a.getAttribute("href")), "/console/designer");
  }
  await cp.axe("a designer on the inbox");
  await cp.close();

  // A user with both roles keeps the inbox as home, and has both.
  const both = await dev.user("dual@example.com", ["ROLE_DESIGNER", "ROLE_USER"], "Dual");
  const cp2 = await open(browser, dev, both.key);
  await cp2.page.waitForFunction(() => location.pathname === "/console/inbox");
  assert.deepEqual(await navLabels(cp2.page), ["Inbox", "Start", "Designer"]);
  await cp2.close();
});

test("a failed check of the account keeps the page and what it shows; a refused key still signs out", async () => {
  const cp = await open(browser, dev, dev.adminKey, "/console/settings/keys");
  const page = cp.page;
  await page.waitForSelector("#keys-user");
  // From now on WhoAmI fails as when the server restarts; every other call goes through.
  let whoAmI: "unavailable" | "refused" | "" = "unavailable";
  let failed = 0;
  await page.setRequestInterception(true);
  page.on("request", (r) => {
    if (whoAmI !== "" && r.url().endsWith("/flowhook.v1.IdentityService/WhoAmI")) {
      failed++;
      const [status, code] = whoAmI === "unavailable" ? [503, "unavailable"] : [401, "unauthenticated"];
      void r.respond({ status, contentType: "application/json", body: JSON.stringify({ code, message: `WhoAmI ${code} (test)` }) });
    } else {
      void r.continue();
    }
  });
  // Creating a key reads every query again (WhoAmI included): the new secret, shown once, stays.
  await page.type("#nk-name", "kept on screen");
  await page.click("#create-key");
  await page.waitForSelector("#new-key-secret");
  await page.waitForFunction(() => document.querySelector("#session-stale") || document.querySelector("main.signin"), { timeout: 20_000 });
  assert.ok(failed > 0, "WhoAmI was asked again");
  assert.equal(await page.$("main.signin"), null, "the page is not replaced");
  assert.ok(await page.$("#new-key-secret"), "the new key's secret is still shown");
  assert.match(await page.$eval("#session-stale", (e) => e.textContent ?? ""), /could not be reached/);
  await cp.axe("account check failed");
  // Asked again once the server answers: the note goes.
  whoAmI = "";
  await page.click("#session-stale button");
  await page.waitForFunction(() => !document.querySelector("#session-stale"));
  assert.ok(await page.$("#new-key-secret"));
  // The 503s were on purpose.
  cp.problems.splice(0, cp.problems.length, ...cp.problems.filter((p) => !/status of 503/.test(p)));

  // A key refused at the next check (revoked meanwhile): the sign-in says so, as on a reload.
  whoAmI = "refused";
  await page.type("#nk-name", "another");
  await page.click("#create-key");
  await page.waitForSelector("#key-refused");
  assert.equal(await page.$("header.top"), null);
  await cp.close();
});
