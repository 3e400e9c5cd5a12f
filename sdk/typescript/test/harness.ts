// The test harness: the real flowhook binary, started on a free port with its embedded SQLite
// database in a temporary directory, and the provider fakes (server/cmd/fakeproviders) that
// stand in for DocuSign and OneSpan. Both are built from this repository with `go build`
// unless FLOWHOOK_BIN / FLOWHOOK_FAKES_BIN name binaries already built (the Makefile does).
import assert from "node:assert/strict";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { createInterface } from "node:readline";
import { after, before } from "node:test";
import { fileURLToPath } from "node:url";

/** The repository root: the nearest directory above this file with a go.mod. */
export function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, "go.mod"))) {
    const up = dirname(dir);
    if (up === dir) {
      throw new Error("harness: no go.mod above " + fileURLToPath(import.meta.url));
    }
    dir = up;
  }
  return dir;
}

/** The SDK package directory (sdk/typescript). */
export function sdkDir(): string {
  return join(repoRoot(), "sdk", "typescript");
}

const built = new Map<string, string>();

/** A binary of ./server/cmd/<name>: $envVar when set, else built once into a temp dir. */
function binary(name: string, envVar: string): string {
  const given = process.env[envVar];
  if (given) {
    if (!existsSync(given)) {
      throw new Error(`harness: ${envVar}=${given} does not exist`);
    }
    return given;
  }
  const cached = built.get(name);
  if (cached) {
    return cached;
  }
  const dir = mkdtempSync(join(tmpdir(), "flowhook-sdk-bin-"));
  process.on("exit", () => rmSync(dir, { recursive: true, force: true }));
  const out = join(dir, name);
  const res = spawnSync("go", ["build", "-o", out, `./server/cmd/${name}`], { cwd: repoRoot(), stdio: ["ignore", "inherit", "inherit"] });
  if (res.error || res.status !== 0) {
    throw new Error(`harness: go build ./server/cmd/${name} failed (${res.error?.message ?? "exit " + res.status}); is Go installed?`);
  }
  built.set(name, out);
  return out;
}

/**
 * The Chromium the browser tests drive: $FLOWHOOK_CHROMIUM, else the first of the usual names
 * on PATH (`make test` installs Debian's chromium-headless-shell when none is there).
 */
export function chromiumPath(): string {
  const given = process.env["FLOWHOOK_CHROMIUM"];
  if (given) {
    if (!existsSync(given)) {
      throw new Error(`harness: FLOWHOOK_CHROMIUM=${given} does not exist`);
    }
    return given;
  }
  for (const name of ["chromium-headless-shell", "chromium", "chromium-browser", "google-chrome"]) {
    for (const dir of (process.env["PATH"] ?? "").split(":")) {
      if (dir && existsSync(join(dir, name))) {
        return join(dir, name);
      }
    }
  }
  throw new Error("harness: no Chromium found for the browser tests: run tools/ensure-chromium.sh, or set FLOWHOOK_CHROMIUM");
}

/** Reads lines from a stream into lines, handing each to onLine too. */
function collect(child: ChildProcess, stream: "stdout" | "stderr", onLine: (line: string) => void, lines: string[] = []): string[] {
  const src = child[stream];
  if (src) {
    createInterface({ input: src }).on("line", (line) => {
      lines.push(line);
      onLine(line);
    });
  }
  return lines;
}

/** Waits for the first value a child reports through found, or fails when it exits first. */
function awaitStart<T>(child: ChildProcess, what: string, timeoutMs: number, register: (found: (v: T) => void) => void, output: () => string): Promise<T> {
  return new Promise<T>((resolvePromise, reject) => {
    const timer = setTimeout(() => reject(new Error(`harness: ${what} did not start within ${timeoutMs} ms; its output:\n${output()}`)), timeoutMs);
    child.once("exit", (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`harness: ${what} exited (${code ?? signal}) before it was ready; its output:\n${output()}`));
    });
    child.once("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
    register((v) => {
      clearTimeout(timer);
      resolvePromise(v);
    });
  });
}

/** Stops a child with SIGTERM and resolves with its exit code (null when killed by a signal). */
function stop(child: ChildProcess, timeoutMs = 15_000): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) {
    return Promise.resolve(child.exitCode);
  }
  return new Promise((resolvePromise) => {
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.once("exit", (code) => {
      clearTimeout(timer);
      resolvePromise(code);
    });
    child.kill("SIGTERM");
  });
}

/** The provider fakes' URLs, as fakeproviders prints them. */
export interface FakeURLs {
  docusign: string;
  onespan: string;
  control: string;
}

/** A running fakeproviders. */
export class Fakes {
  private constructor(
    readonly urls: FakeURLs,
    private readonly child: ChildProcess,
  ) {}

  static async start(): Promise<Fakes> {
    const child = spawn(binary("fakeproviders", "FLOWHOOK_FAKES_BIN"), [], { stdio: ["ignore", "pipe", "pipe"] });
    let first: ((v: FakeURLs) => void) | undefined;
    const out = collect(child, "stdout", (line) => {
      try {
        first?.(JSON.parse(line) as FakeURLs);
      } catch {
        // not the URLs line; kept for the diagnostics
      }
    });
    const errs = collect(child, "stderr", () => {});
    const urls = await awaitStart<FakeURLs>(child, "fakeproviders", 30_000, (found) => (first = found), () => [...out, ...errs].join("\n"));
    child.removeAllListeners("exit");
    return new Fakes(urls, child);
  }

  /** Calls the control API; fails on any status but 200. */
  async control<T>(method: "GET" | "POST" | "PUT", path: string, body?: unknown): Promise<T> {
    const res = await fetch(this.urls.control + path, {
      method,
      headers: body === undefined ? {} : { "Content-Type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    if (res.status !== 200) {
      throw new Error(`fakeproviders ${method} ${path}: ${res.status} ${text}`);
    }
    return JSON.parse(text) as T;
  }

  async stop(): Promise<void> {
    await stop(this.child);
  }
}

/** A running `flowhook serve` on embedded SQLite. */
export class Server {
  private exited: Promise<number | null> | undefined;

  private constructor(
    /** Base URL of the API and the webhooks, e.g. http://127.0.0.1:41234. */
    readonly baseUrl: string,
    /** The bootstrap admin's API key. */
    readonly adminKey: string,
    private child: ChildProcess,
    private readonly env: NodeJS.ProcessEnv,
    private readonly logLines: string[],
    private readonly dataDir: string,
  ) {}

  /**
   * Starts the server the way the README's first command does, but on a free port (127.0.0.1:0;
   * the "serving" log line says which) and with a data directory of its own.
   */
  static async start(options: { env?: Record<string, string> } = {}): Promise<Server> {
    const dataDir = mkdtempSync(join(tmpdir(), "flowhook-sdk-data-"));
    const adminKey = "fh_test_" + randomBytes(24).toString("base64url");
    // A clean environment: nothing from the caller's FLOWHOOK_* or OTEL_* settings leaks in
    // (in particular no FLOWHOOK_DATABASE_URL: this is the embedded database).
    const env: NodeJS.ProcessEnv = {};
    for (const [k, v] of Object.entries(process.env)) {
      if (!k.startsWith("FLOWHOOK_") && !k.startsWith("OTEL_")) {
        env[k] = v;
      }
    }
    Object.assign(env, {
      FLOWHOOK_ADDR: "127.0.0.1:0",
      FLOWHOOK_DATA_DIR: dataDir,
      FLOWHOOK_BOOTSTRAP_ADMIN_KEY: adminKey,
      FLOWHOOK_LOG_FORMAT: "json",
      FLOWHOOK_LOG_LEVEL: "debug",
      OTEL_TRACES_EXPORTER: "none",
      OTEL_METRICS_EXPORTER: "none",
      ...options.env,
    });
    const output: string[] = [];
    const { child, addr } = await Server.spawn(env, output);
    // A restart listens where this one does.
    env["FLOWHOOK_ADDR"] = addr;
    return new Server("http://" + addr, adminKey, child, env, output, dataDir);
  }

  /** Runs `flowhook serve` and resolves once its "serving" log line says where it listens. */
  private static async spawn(env: NodeJS.ProcessEnv, output: string[]): Promise<{ child: ChildProcess; addr: string }> {
    const child = spawn(binary("flowhook", "FLOWHOOK_BIN"), ["serve"], { env, stdio: ["ignore", "pipe", "pipe"] });
    let serving: ((addr: string) => void) | undefined;
    collect(child, "stdout", () => {}, output);
    collect(child, "stderr", (line) => {
      try {
        const rec = JSON.parse(line) as { msg?: string; addr?: string };
        if (rec.msg === "serving" && rec.addr) {
          serving?.(rec.addr);
        }
      } catch {
        // not a JSON log line; kept for the diagnostics
      }
    }, output);
    const addr = await awaitStart<string>(child, "flowhook serve", 60_000, (found) => (serving = found), () => output.join("\n"));
    child.removeAllListeners("exit");
    return { child, addr };
  }

  /**
   * Stops the server gracefully and starts it again on the same port and database, as an
   * operator's restart would. Resolves with the stopped process's exit code once the new one
   * serves.
   */
  async restart(): Promise<number | null> {
    const code = await stop(this.child);
    this.child = (await Server.spawn(this.env, this.logLines)).child;
    return code;
  }

  /** Everything the server wrote to stdout and stderr so far, restarts included. */
  output(): string {
    return this.logLines.join("\n");
  }

  /** Stops the server with SIGTERM (a graceful drain) and returns its exit code. */
  async stop(): Promise<number | null> {
    this.exited ??= stop(this.child);
    const code = await this.exited;
    rmSync(this.dataDir, { recursive: true, force: true });
    return code;
  }
}

/**
 * Polls until check returns a value other than undefined, at most timeoutMs; a condition that
 * the server reaches asynchronously (a webhook processed) is awaited this way, never slept on.
 */
export async function eventually<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 20_000, intervalMs = 25): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined) {
        return v;
      }
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      throw new Error(`harness: ${what} did not happen within ${timeoutMs} ms` + (last ? `; last error: ${String(last)}` : ""));
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}


/**
 * A server and the provider fakes for the tests of one describe block: started before them and
 * stopped after them (call it in the block). The after hook fails when the server does not stop
 * cleanly on SIGTERM, or when its output holds one of the credentials noted with `secret`.
 */
export class Stage {
  server!: Server;
  fakes!: Fakes;
  private readonly secrets: string[] = [];

  /** Notes credentials that must never appear in the server's output. */
  secret(...values: string[]): void {
    this.secrets.push(...values);
  }

  static setUp(): Stage {
    const stage = new Stage();
    before(async () => {
      [stage.server, stage.fakes] = await Promise.all([Server.start(), Fakes.start()]);
      stage.secret(stage.server.adminKey);
    });
    after(async () => {
      await stage.fakes?.stop();
      const code = await stage.server?.stop();
      assert.equal(code, 0, "the server stops cleanly on SIGTERM:\n" + stage.server?.output());
      const logs = stage.server.output();
      for (const s of stage.secrets) {
        assert.ok(!logs.includes(s), "a credential appeared in the server's output");
      }
    });
    return stage;
  }
}
