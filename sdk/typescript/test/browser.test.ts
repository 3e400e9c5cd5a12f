// The SDK in a real browser (headless Chromium): the root entry bundled for the browser with
// esbuild (which fails on any Node built-in), loaded by a page on another origin than
// flowhook, so that every call goes through a real CORS preflight with the bearer key.
import assert from "node:assert/strict";
import { createServer, type Server as HTTPServer } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { build } from "esbuild";
import puppeteer, { type Browser } from "puppeteer-core";
import { Code } from "@flowhook/sdk";
import { Server, chromiumPath, sdkDir } from "./harness.js";

// What the page runs: plain SDK use, as a front end would write it.
const app = `
import { createFlowhookClient, errorCode, validationProblems, describeError, Role } from "@flowhook/sdk";
import { createGrpcWebTransport } from "@connectrpc/connect-web";

window.runFlowhook = async (baseUrl, apiKey) => {
  const out = {};
  const flowhook = createFlowhookClient({ baseUrl, apiKey });
  const me = await flowhook.identity.whoAmI({});
  out.email = me.user.email;
  out.admin = me.user.roles.includes(Role.ADMIN);
  try {
    await flowhook.design.createWorkflow({ workflow: { name: "" } });
  } catch (err) {
    out.code = errorCode(err);
    out.problems = validationProblems(err).map((p) => p.path);
    out.described = describeError(err);
  }
  out.binary = (await createFlowhookClient({ baseUrl, apiKey, useBinaryFormat: true }).identity.whoAmI({})).user.email;
  out.grpcWeb = (await createFlowhookClient({ transport: createGrpcWebTransport({ baseUrl }), apiKey }).identity.whoAmI({})).user.email;
  try {
    await createFlowhookClient({ baseUrl, apiKey: "fh_wrong_key_000000000000000" }).identity.whoAmI({});
  } catch (err) {
    out.wrongKey = errorCode(err);
  }
  return out;
};
window.tryFlowhook = async (baseUrl, apiKey) => {
  try {
    await createFlowhookClient({ baseUrl, apiKey }).identity.whoAmI({});
    return { ok: true };
  } catch (err) {
    return { ok: false, code: errorCode(err), message: String(err.message) };
  }
};
`;

/** Serves the page and its bundle; each instance is its own origin. */
async function pageServer(bundle: string): Promise<{ origin: string; server: HTTPServer }> {
  const server = createServer((req, res) => {
    if (req.url === "/app.js") {
      res.writeHead(200, { "Content-Type": "text/javascript" }).end(bundle);
    } else if (req.url === "/") {
      res.writeHead(200, { "Content-Type": "text/html" }).end('<!doctype html><title>flowhook</title><script type="module" src="/app.js"></script>');
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return { origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

describe("in a browser", () => {
  let browser: Browser;
  let allowed: { origin: string; server: HTTPServer };
  let other: { origin: string; server: HTTPServer };
  let server: Server;

  before(async () => {
    const out = await build({
      stdin: { contents: app, resolveDir: sdkDir(), loader: "js" },
      bundle: true,
      platform: "browser",
      format: "esm",
      target: "es2022",
      write: false,
      logLevel: "silent",
    });
    const bundle = out.outputFiles[0]!.text;
    [allowed, other] = await Promise.all([pageServer(bundle), pageServer(bundle)]);
    [server, browser] = await Promise.all([
      Server.start({ env: { FLOWHOOK_CORS_ORIGINS: allowed.origin } }),
      puppeteer.launch({ executablePath: chromiumPath(), headless: true, args: ["--no-sandbox", "--disable-gpu"] }),
    ]);
  });

  after(async () => {
    await browser?.close();
    allowed?.server.close();
    other?.server.close();
    assert.equal(await server?.stop(), 0, server?.output());
  });

  it("calls flowhook from an allowed origin over Connect JSON, binary and gRPC-Web", async () => {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(String(e)));
    await page.goto(allowed.origin + "/", { waitUntil: "load" });
    await page.waitForFunction("typeof window.runFlowhook === 'function'");
    const got = (await page.evaluate(`window.runFlowhook(${JSON.stringify(server.baseUrl)}, ${JSON.stringify(server.adminKey)})`)) as Record<string, unknown>;
    assert.deepEqual(errors, []);
    assert.equal(got["email"], "admin@flowhook.local");
    assert.equal(got["admin"], true);
    assert.equal(got["code"], Code.InvalidArgument);
    assert.ok((got["problems"] as string[]).includes("workflow.name"), String(got["described"]));
    assert.match(String(got["described"]), /^invalid_argument: /);
    assert.equal(got["binary"], "admin@flowhook.local");
    assert.equal(got["grpcWeb"], "admin@flowhook.local");
    assert.equal(got["wrongKey"], Code.Unauthenticated, "a wrong key is refused with a readable code, CORS headers and all");
    await page.close();
  });

  it("is refused by the browser from an origin flowhook does not allow", async () => {
    const page = await browser.newPage();
    await page.goto(other.origin + "/", { waitUntil: "load" });
    await page.waitForFunction("typeof window.tryFlowhook === 'function'");
    const got = (await page.evaluate(`window.tryFlowhook(${JSON.stringify(server.baseUrl)}, ${JSON.stringify(server.adminKey)})`)) as { ok: boolean; code?: Code; message?: string };
    assert.equal(got.ok, false, "the browser handed a cross-origin answer to a page flowhook does not allow");
    assert.equal(got.code, Code.Unknown, got.message);
    assert.match(got.message ?? "", /fetch/i);
    await page.close();
  });
});
