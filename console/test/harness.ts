// The console's browser-test harness: the real flowhook binary in `dev` mode (embedded SQLite in
// a temporary directory, the sandbox on, the console embedded) on a free port, headless Chromium
// driven by puppeteer-core, and axe-core run inside each page. The binary is $FLOWHOOK_BIN (the
// Makefile builds it) or built here with `go build`.
import assert from "node:assert/strict";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import puppeteer, { type Browser, type Page } from "puppeteer-core";

/** The repository root: the nearest directory above this file with a go.mod. */
export function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, "go.mod"))) {
    const up = dirname(dir);
    if (up === dir) throw new Error("harness: no go.mod above " + fileURLToPath(import.meta.url));
    dir = up;
  }
  return dir;
}

let builtBin: string | undefined;
function flowhookBin(): string {
  const given = process.env["FLOWHOOK_BIN"];
  if (given) {
    if (!existsSync(given)) throw new Error(`harness: FLOWHOOK_BIN=${given} does not exist`);
    return given;
  }
  if (builtBin) return builtBin;
  const dir = mkdtempSync(join(tmpdir(), "flowhook-console-bin-"));
  process.on("exit", () => rmSync(dir, { recursive: true, force: true }));
  const out = join(dir, "flowhook");
  const res = spawnSync("go", ["build", "-o", out, "./server/cmd/flowhook"], { cwd: repoRoot(), stdio: ["ignore", "inherit", "inherit"] });
  if (res.error || res.status !== 0) throw new Error(`harness: go build ./server/cmd/flowhook failed (${res.error?.message ?? "exit " + res.status})`);
  builtBin = out;
  return out;
}

/** The Chromium the tests drive: $FLOWHOOK_CHROMIUM, else the first usual name on PATH. */
export function chromiumPath(): string {
  const given = process.env["FLOWHOOK_CHROMIUM"];
  if (given) {
    if (!existsSync(given)) throw new Error(`harness: FLOWHOOK_CHROMIUM=${given} does not exist`);
    return given;
  }
  for (const name of ["chromium-headless-shell", "chromium", "chromium-browser", "google-chrome"]) {
    for (const dir of (process.env["PATH"] ?? "").split(":")) {
      if (dir && existsSync(join(dir, name))) return join(dir, name);
    }
  }
  throw new Error("harness: no Chromium found: run tools/ensure-chromium.sh, or set FLOWHOOK_CHROMIUM");
}

/** A running `flowhook dev`. */
export class Dev {
  readonly lines: string[] = [];
  private constructor(
    readonly base: string,
    readonly adminKey: string,
    private readonly child: ChildProcess,
    private readonly dataDir: string,
  ) {}

  /** Starts `flowhook dev` on a free port with a fresh data dir and a known admin key. */
  static async start(): Promise<Dev> {
    const dataDir = mkdtempSync(join(tmpdir(), "flowhook-console-data-"));
    const adminKey = "fh_console_test_" + randomBytes(16).toString("hex");
    const child = spawn(flowhookBin(), ["dev", "-addr", "127.0.0.1:0", "-data-dir", dataDir], {
      cwd: dataDir,
      env: { ...process.env, FLOWHOOK_BOOTSTRAP_ADMIN_KEY: adminKey, FLOWHOOK_LOG_FORMAT: "json"},
      stdio: ["ignore", "pipe", "pipe"],
    });
    const lines: string[] = [];
    const base = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("harness: flowhook dev did not print its banner in 60 s:\n" + lines.join("\n"))), 60_000);
      child.on("exit", (code) => {
        clearTimeout(timer);
        reject(new Error(`harness: flowhook dev exited (${code}):\n` + lines.join("\n")));
      });
      for (const stream of [child.stdout!, child.stderr!]) {
        createInterface({ input: stream }).on("line", (line) => {
          lines.push(line);
          const m = /^ {2}API +(http:\/\/\S+)/.exec(line);
          if (m) {
            clearTimeout(timer);
            resolve(m[1]);
          }
        });
      }
    });
    child.removeAllListeners("exit");
    const dev = new Dev(base, adminKey, child, dataDir);
    dev.lines.push(...lines);
    return dev;
  }

  async stop(): Promise<void> {
    if (this.child.exitCode === null) {
      const exited = new Promise((r) => this.child.once("exit", r));
      this.child.kill("SIGTERM");
      await exited;
    }
    rmSync(this.dataDir, { recursive: true, force: true });
  }

  /** Calls an RPC with the Connect protocol's JSON: rpc("IdentityService/CreateUser", {...}). */
  async rpc<T = any>(method: string, body: unknown, key = this.adminKey): Promise<T> {
    const res = await fetch(`${this.base}/flowhook.v1.${method}`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${key}` },
      body: JSON.stringify(body),
    });
    const text = await res.text();
    assert.equal(res.status, 200, `${method}: HTTP ${res.status}: ${text}`);
    return JSON.parse(text) as T;
  }

  /** A user with the roles and a key of theirs: {id, key}. */
  async user(email: string, roles: string[], displayName = email.split("@")[0]): Promise<{ id: string; key: string }> {
    const { user } = await this.rpc("IdentityService/CreateUser", { email, displayName, roles });
    const k = await this.rpc("IdentityService/CreateApiKey", { userId: user.id, name: "console test" });
    return { id: user.id, key: k.secret };
  }
}

/** Headless Chromium. */
export async function launch(): Promise<Browser> {
  return puppeteer.launch({
    executablePath: chromiumPath(),
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
    defaultViewport: { width: 1280, height: 860 },
  });
}

/**
 * A new page of the console signed in with key (through the sign-in form), at path. Console
 * errors, failed requests of the page's own origin and CSP violations fail the test at close.
 */
export async function open(browser: Browser, dev: Dev, key: string, path = "/console/"): Promise<ConsolePage> {
  const page = await browser.newPage();
  const cp = new ConsolePage(page, dev);
  await page.goto(dev.base + path);
  await page.locator("#api-key").fill(key);
  await page.locator("button[type=submit]").click();
  await page.waitForSelector("header.top");
  return cp;
}

export class ConsolePage {
  readonly problems: string[] = [];
  constructor(
    readonly page: Page,
    readonly dev: Dev,
  ) {
    page.on("pageerror", (err) => this.problems.push(`page error: ${String(err)}`));
    page.on("console", (msg) => {
      if (msg.type() === "error" && !/the server responded with a status of (401|403|404|409|400|412)/.test(msg.text())) {
        this.problems.push(`console error: ${msg.text()}`);
      }
    });
  }

  /** Goes to a console path (e.g. "/manage") the way a user would: a link or the address bar. */
  async goto(path: string) {
    await this.page.goto(this.dev.base + "/console" + path);
    await this.page.waitForSelector("#page-title");
  }

  /** Waits until the page's text contains text. */
  async waitForText(text: string, timeout = 20_000) {
    await this.page.waitForFunction((t) => document.body.innerText.includes(t), { timeout, polling: 100 }, text);
  }

  /** Runs axe-core on the page and fails on serious or critical violations. */
  async axe(name: string) {
    await checkA11y(this.page, name);
  }

  async close() {
    await this.page.close();
    assert.deepEqual(this.problems, [], "the page logged errors");
  }
}

const axeSource = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");

/** axe-core inside the page (evaluated, not a <script>: the CSP forbids those). */
export async function checkA11y(page: Page, name: string) {
  const loaded = await page.evaluate(() => typeof (window as any).axe !== "undefined");
  if (!loaded) await page.evaluate(axeSource);
  const violations: { id: string; impact: string; help: string; nodes: { target: string[] }[] }[] = await page.evaluate(async () => {
    const r = await (window as any).axe.run(document, { resultTypes: ["violations"] });
    return r.violations.map((v: any) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n: any) => ({ target: n.target })) }));
  });
  const bad = violations.filter((v) => v.impact === "serious" || v.impact === "critical");
  assert.deepEqual(
    bad.map((v) => `${v.impact} ${v.id}: ${v.help} at ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`),
    [],
    `accessibility violations on ${name}`,
  );
}

/** Saves a screenshot into $FLOWHOOK_SCREENSHOTS (make console-screenshots sets it to docs/console). */
export async function screenshot(page: Page, name: string) {
  const dir = process.env["FLOWHOOK_SCREENSHOTS"];
  if (!dir) return;
  mkdirSync(dir, { recursive: true });
  await page.screenshot({ path: join(dir, `${name}.png`) as `${string}.png`, fullPage: false });
}
