// Node-only transports: HTTP/2 (cleartext h2c or TLS), gRPC and gRPC-Web, through
// @connectrpc/connect-node. Import from "@flowhook/sdk/node"; browsers use "@flowhook/sdk".
import type { Interceptor, Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import { createFlowhookClient, type ApiKeySource, type FlowhookClient } from "./client.js";

/** The wire protocols flowhook serves on one port. */
export type Protocol = "connect" | "grpc" | "grpc-web";

/** Options of {@link createNodeTransport}. */
export interface NodeTransportOptions {
  /** Where flowhook serves its API, e.g. `http://127.0.0.1:8080`. */
  baseUrl: string;
  /** Wire protocol (default `connect`). */
  protocol?: Protocol;
  /**
   * HTTP version (default `2` for gRPC, which needs it, `1.1` otherwise). flowhook speaks
   * HTTP/2 over cleartext (h2c) as well as TLS.
   */
  httpVersion?: "1.1" | "2";
  /** Protobuf binary instead of JSON (default: JSON for Connect; gRPC is always binary). */
  useBinaryFormat?: boolean;
  /** Interceptors run on every call; they see the bearer credential when used by the client. */
  interceptors?: Interceptor[];
}

/** A Node transport to flowhook: Connect, gRPC or gRPC-Web, over HTTP/1.1 or HTTP/2. */
export function createNodeTransport(options: NodeTransportOptions): Transport {
  const protocol = options.protocol ?? "connect";
  const interceptors = options.interceptors ?? [];
  switch (protocol) {
    case "connect":
      return createConnectTransport({
        baseUrl: options.baseUrl,
        httpVersion: options.httpVersion ?? "1.1",
        useBinaryFormat: options.useBinaryFormat ?? false,
        interceptors,
      });
    case "grpc":
      if (options.httpVersion === "1.1") {
        throw new TypeError("flowhook: gRPC needs HTTP/2 (httpVersion \"2\")");
      }
      return createGrpcTransport({ baseUrl: options.baseUrl, interceptors });
    case "grpc-web":
      return createGrpcWebTransport({
        baseUrl: options.baseUrl,
        httpVersion: options.httpVersion ?? "1.1",
        useBinaryFormat: options.useBinaryFormat ?? true,
        interceptors,
      });
    default:
      throw new TypeError(`flowhook: unknown protocol ${JSON.stringify(protocol)}: want connect, grpc or grpc-web`);
  }
}

/**
 * createFlowhookClient over a Node transport.
 *
 * ```ts
 * import { createFlowhookNodeClient } from "@flowhook/sdk/node";
 * const flowhook = createFlowhookNodeClient({ baseUrl: "http://127.0.0.1:8080", apiKey, protocol: "grpc" });
 * ```
 */
export function createFlowhookNodeClient(options: NodeTransportOptions & { apiKey: ApiKeySource }): FlowhookClient {
  return createFlowhookClient({ apiKey: options.apiKey, transport: createNodeTransport(options) });
}

export * from "./index.js";
