// The console's frame: sign-in, the pages each role sees, a refused key, a page opened by URL
// that the caller's roles do not allow, and the CSP holding with no violation.
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
