// The console is built into server/internal/console/dist, which the Go binary embeds and serves
// at /console/. The build is reproducible (same bytes on every machine and directory), so the
// output is committed and `make check-generated` fails when it is stale.
import { fileURLToPath } from "node:url";
import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));

export default defineConfig({
  base: "/console/",
  plugins: [react()],
  resolve: {
    // One source of generated types: the SDK's own code, compiled with the console.
    alias: { "@flowhook/sdk": here("../sdk/typescript/src/index.ts") },
    // The SDK's sources import these too: one copy of each in the bundle.
    dedupe: ["@bufbuild/protobuf", "@bufbuild/protovalidate", "@connectrpc/connect", "@connectrpc/connect-web"],
  },
  build: {
    outDir: here("../server/internal/console/dist"),
    emptyOutDir: true,
    chunkSizeWarningLimit: 2000,
    reportCompressedSize: false,
  },
  server: {
    // `npm run dev` against a running `flowhook dev`: the page from Vite, the API from flowhook.
    proxy: Object.fromEntries(
      ["/flowhook.v1.", "/sandbox/"].map((p) => [p, { target: process.env.FLOWHOOK_URL ?? "http://127.0.0.1:8080" }]),
    ),
  },
});
