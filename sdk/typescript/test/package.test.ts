// The package as users get it: `npm pack`, installed into an empty project, imported from its
// two entry points and type-checked there; and the quickstart example run against the server.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { StateKind, createFlowhookClient } from "@flowhook/sdk";
import { Server, sdkDir } from "./harness.js";

/** Runs a command to completion, asynchronously (the server keeps answering meanwhile). */
function run(cmd: string, args: string[], opts: { cwd: string; env?: NodeJS.ProcessEnv }): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (b: Buffer) => (stdout += b.toString()));
    child.stderr.on("data", (b: Buffer) => (stderr += b.toString()));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

describe("the npm package", () => {
  let server: Server;
  let work: string;

  before(async () => {
    server = await Server.start();
    work = mkdtempSync(join(tmpdir(), "flowhook-sdk-pack-"));
  });

  after(async () => {
    rmSync(work, { recursive: true, force: true });
    assert.equal(await server?.stop(), 0, server?.output());
  });

  it("runs the quickstart example against the server", async () => {
    // More than a page of older work assigned to the admin: the example must find its own.
    const admin = createFlowhookClient({ baseUrl: server.baseUrl, apiKey: server.adminKey });
    const me = await admin.identity.whoAmI({});
    const older = await admin.design.createWorkflow({
      workflow: {
        name: "Older work",
        states: [
          { key: "start", kind: StateKind.START },
          { key: "todo", kind: StateKind.HUMAN, assignee: { assignee: { case: "userId", value: me.user!.id } } },
          { key: "done", kind: StateKind.END },
        ],
        transitions: [
          { key: "submit", fromState: "start", toState: "todo" },
          { key: "finish", fromState: "todo", toState: "done" },
        ],
      },
    });
    await admin.design.publishWorkflow({ workflowId: older.workflow!.id, expectedRevision: older.workflow!.revision });
    for (let i = 0; i < 51; i++) {
      await admin.instances.startInstance({ workflowId: older.workflow!.id });
    }

    const env = { ...process.env, FLOWHOOK_URL: server.baseUrl, FLOWHOOK_API_KEY: server.adminKey };
    const res = await run(process.execPath, ["build-test/examples/quickstart.js"], { cwd: sdkDir(), env });
    assert.equal(res.code, 0, res.stderr);
    const out = res.stdout;
    assert.match(out, /^signed in as admin@flowhook\.local$/m);
    assert.match(out, /^a broken draft is refused with \d+ problems:$/m);
    assert.match(out, /^invalid_argument: /m);
    assert.match(out, /^  - workflow\.transitions\[0\]\.to_state: /m);
    assert.match(out, /^published "Expense approval" version 1$/m);
    assert.match(out, /^started an instance: it waits in "review"$/m);
    assert.match(out, /^assigned to me: Expense approval in "review", amount 420\.5$/m);
    assert.match(out, /^approved: the instance is now "approved"$/m);
    assert.match(out, /^ {2}\d+\. TRANSITION approve: review → approved$/m);
    assert.match(out, /^webhook receiver debug is off$/m);
    assert.match(out, /^the Event Log holds 0 provider notifications$/m);
    assert.ok(!out.includes(server.adminKey), "the example printed the key");

    const { FLOWHOOK_API_KEY: _omit, ...noKey } = env;
    const refused = await run(process.execPath, ["build-test/examples/quickstart.js"], { cwd: sdkDir(), env: noKey });
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /Set FLOWHOOK_API_KEY/);
  });

  it("packs into a tarball that installs, imports and type-checks in a new project", async () => {
    // `npm pack` runs the prepack build; --json lists what the tarball holds.
    const packed = await run("npm", ["pack", "--json", "--pack-destination", work], { cwd: sdkDir() });
    assert.equal(packed.code, 0, packed.stderr);
    const [info] = JSON.parse(packed.stdout.slice(packed.stdout.indexOf("["))) as { filename: string; files: { path: string }[] }[];
    assert.ok(info);
    const files = info.files.map((f) => f.path);
    for (const want of ["package.json", "README.md", "dist/index.js", "dist/index.d.ts", "dist/node.js", "dist/node.d.ts", "dist/gen/flowhook/v1/instance_pb.js", "src/index.ts"]) {
      assert.ok(files.includes(want), `the tarball holds ${want}`);
    }
    for (const f of files) {
      assert.ok(!/^(test|build-test|node_modules|examples|scripts)\//.test(f) && !f.startsWith("tsconfig"), `the tarball holds no ${f}`);
    }

    const app = join(work, "app");
    mkdirSync(app);
    writeFileSync(join(app, "package.json"), JSON.stringify({ name: "sdk-consumer", private: true, type: "module" }));
    const installed = await run("npm", ["install", "--no-audit", "--no-fund", "--prefer-offline", "--loglevel=error", join(work, info.filename)], { cwd: app });
    assert.equal(installed.code, 0, installed.stderr);
    assert.deepEqual(readdirSync(join(app, "node_modules", "@flowhook")), ["sdk"]);

    writeFileSync(
      join(app, "main.mjs"),
      `import { createFlowhookClient, Role, describeError, ConnectError } from "@flowhook/sdk";
import { createFlowhookNodeClient } from "@flowhook/sdk/node";
const [baseUrl, apiKey] = [process.env.FLOWHOOK_URL, process.env.FLOWHOOK_API_KEY];
const web = await createFlowhookClient({ baseUrl, apiKey }).identity.whoAmI({});
const grpc = await createFlowhookNodeClient({ baseUrl, apiKey, protocol: "grpc" }).identity.whoAmI({});
let refused = "";
try { await createFlowhookClient({ baseUrl, apiKey: "wrong-key-000000000000000" }).identity.whoAmI({}); }
catch (err) { refused = err instanceof ConnectError ? describeError(err) : String(err); }
console.log(JSON.stringify({ web: web.user.email, grpc: grpc.user.email, admin: web.user.roles.includes(Role.ADMIN), refused }));
`,
    );
    const ran = await run(process.execPath, ["main.mjs"], { cwd: app, env: { ...process.env, FLOWHOOK_URL: server.baseUrl, FLOWHOOK_API_KEY: server.adminKey } });
    assert.equal(ran.code, 0, ran.stderr);
    const got = JSON.parse(ran.stdout) as { web: string; grpc: string; admin: boolean; refused: string };
    assert.equal(got.web, "admin@flowhook.local");
    assert.equal(got.grpc, "admin@flowhook.local");
    assert.equal(got.admin, true);
    assert.match(got.refused, /^unauthenticated: /);

    // The declarations work for a strict TypeScript consumer (no @types/node needed).
    writeFileSync(
      join(app, "main.ts"),
      `import { createFlowhookClient, InstanceStatus, items, validationProblems, type FlowhookClient, type Instance, type Problem } from "@flowhook/sdk";
import { createNodeTransport } from "@flowhook/sdk/node";
const client: FlowhookClient = createFlowhookClient({ transport: createNodeTransport({ baseUrl: "http://127.0.0.1:8080", protocol: "grpc" }), apiKey: () => "key" });
export async function waiting(workflowId: string): Promise<Instance[]> {
  const res = await client.instances.listInstances({ filter: { workflowId, status: InstanceStatus.WAITING_EXTERNAL } });
  return res.instances;
}
export function problems(err: unknown): Problem[] { return validationProblems(err); }
export async function assigned(): Promise<string[]> {
  const ids: string[] = [];
  for await (const inst of items(client.instances.listAssignedToMe, { pageSize: 50 }, (r) => r.instances)) ids.push(inst.id);
  return ids;
}
// @ts-expect-error: a picker must return the response's items
items(client.instances.listAssignedToMe, {}, (r) => r.nextPageToken);
// @ts-expect-error: a misspelt field is a type error
client.instances.startInstance({ workflowID: "x" });
`,
    );
    writeFileSync(
      join(app, "tsconfig.json"),
      JSON.stringify({ compilerOptions: { strict: true, noEmit: true, module: "NodeNext", moduleResolution: "NodeNext", target: "ES2022", lib: ["ES2022", "DOM"], types: [] }, files: ["main.ts"] }),
    );
    const tsc = await run(process.execPath, [join(sdkDir(), "node_modules", "typescript", "bin", "tsc"), "-p", app], { cwd: app });
    assert.equal(tsc.code, 0, tsc.stdout + tsc.stderr);
  });
});
