// How fast the SDK talks to a local server, per transport: a bounded number of calls, one at a
// time (latency) and 16 in flight (throughput), against `flowhook serve` on embedded SQLite.
//
//   npm run bench                 # BENCH_CALLS=2000 by default
//
// The figures go in notes, never in assertions.
import { performance } from "node:perf_hooks";
import { StateKind, createFlowhookClient, type FlowhookClient } from "@flowhook/sdk";
import { createFlowhookNodeClient } from "@flowhook/sdk/node";
import { Server } from "../test/harness.js";

const calls = Number(process.env["BENCH_CALLS"] ?? 2000);
if (!Number.isInteger(calls) || calls < 1 || calls > 100_000) {
  throw new Error("BENCH_CALLS: want 1 to 100000");
}

function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function measure(name: string, call: () => Promise<unknown>, inFlight: number): Promise<void> {
  for (let i = 0; i < 50; i++) await call(); // warm up connections and caches
  const lat: number[] = [];
  let next = 0;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (next++ < calls) {
        const t = performance.now();
        await call();
        lat.push(performance.now() - t);
      }
    }),
  );
  const secs = (performance.now() - start) / 1000;
  lat.sort((a, b) => a - b);
  console.log(
    `${name.padEnd(44)} in flight ${String(inFlight).padStart(2)}  ${String(Math.round(calls / secs)).padStart(5)} calls/s  p50 ${pct(lat, 50).toFixed(2)} ms  p99 ${pct(lat, 99).toFixed(2)} ms`,
  );
}

const server = await Server.start();
try {
  const clients: [string, FlowhookClient][] = [
    ["fetch (connect-web), JSON", createFlowhookClient({ baseUrl: server.baseUrl, apiKey: server.adminKey })],
    ["connect-node HTTP/1.1, JSON", createFlowhookNodeClient({ baseUrl: server.baseUrl, apiKey: server.adminKey })],
    ["connect-node HTTP/2, binary", createFlowhookNodeClient({ baseUrl: server.baseUrl, apiKey: server.adminKey, httpVersion: "2", useBinaryFormat: true })],
    ["gRPC (HTTP/2)", createFlowhookNodeClient({ baseUrl: server.baseUrl, apiKey: server.adminKey, protocol: "grpc" })],
  ];
  const admin = clients[0]![1];
  const me = await admin.identity.whoAmI({});
  const { workflow } = await admin.design.createWorkflow({
    workflow: {
      name: "Bench",
      states: [
        { key: "start", name: "Start", kind: StateKind.START },
        { key: "review", name: "Review", kind: StateKind.HUMAN, assignee: { assignee: { case: "userId", value: me.user!.id } } },
        { key: "done", name: "Done", kind: StateKind.END },
      ],
      transitions: [
        { key: "submit", fromState: "start", toState: "review" },
        { key: "ok", fromState: "review", toState: "done" },
      ],
    },
  });
  await admin.design.publishWorkflow({ workflowId: workflow!.id, expectedRevision: 1n });
  for (let i = 0; i < 20; i++) {
    await admin.instances.startInstance({ workflowId: workflow!.id });
  }
  console.log(`${calls} calls per line, server on embedded SQLite (${server.baseUrl.replace(/:\d+$/, "")})`);
  for (const [name, c] of clients) {
    for (const inFlight of [1, 16]) {
      await measure(`WhoAmI, ${name}`, () => c.identity.whoAmI({}), inFlight);
    }
  }
  for (const inFlight of [1, 16]) {
    await measure("ListAssignedToMe (20 waiting), fetch", () => admin.instances.listAssignedToMe({}), inFlight);
  }
  for (const inFlight of [1, 16]) {
    await measure("StartInstance (a write), fetch", () => admin.instances.startInstance({ workflowId: workflow!.id }), inFlight);
  }
} finally {
  const code = await server.stop();
  if (code !== 0) {
    console.error(server.output());
    process.exitCode = 1;
  }
}
