// createFlowhookClient: one typed Connect client per flowhook service, sharing one transport
// that carries the caller's API key as a bearer credential.
import { createClient, type Client, type Interceptor, type Transport } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-web";
import { WorkflowDesignService } from "./gen/flowhook/v1/design_pb.js";
import { EventLogService } from "./gen/flowhook/v1/eventlog_pb.js";
import { IdentityService } from "./gen/flowhook/v1/identity_pb.js";
import { WorkflowInstanceService } from "./gen/flowhook/v1/instance_pb.js";
import { ProviderSettingsService } from "./gen/flowhook/v1/settings_pb.js";

/**
 * An API key, or a function that returns the current one (called before every request, so a
 * front end can swap keys without building a new client).
 */
export type ApiKeySource = string | (() => string | Promise<string>);

/** Options of {@link createFlowhookClient}. */
export type FlowhookClientOptions = {
  /** The key sent as `Authorization: Bearer <key>` on every call. */
  apiKey: ApiKeySource;
} & (
  | {
      /**
       * Where flowhook serves its API, e.g. `https://flowhook.example.com`: the RPCs live at
       * `{baseUrl}/flowhook.v1.<Service>/<Method>`. In a browser it may be a path of the page's
       * origin (`/flowhook`) when a reverse proxy serves flowhook there. The default transport speaks the Connect
       * protocol (JSON) over `fetch`, so it works in browsers, Node 20+, Deno and Bun.
       */
      baseUrl: string;
      transport?: undefined;
      /** Protobuf binary instead of JSON on the wire (default transport only). */
      useBinaryFormat?: boolean;
      /** Interceptors of the default transport; they see the bearer credential. */
      interceptors?: Interceptor[];
    }
  | {
      /**
       * A transport of your choice: `createNodeTransport` from `@flowhook/sdk/node` (HTTP/2,
       * gRPC), or any `@connectrpc/connect-web` / `@connectrpc/connect-node` transport. The
       * bearer credential is added to whatever it sends.
       */
      transport: Transport;
      /** Ignored: the transport knows where flowhook is. */
      baseUrl?: string;
      useBinaryFormat?: undefined;
      interceptors?: undefined;
    }
);

/** Typed clients for every flowhook service. */
export interface FlowhookClient {
  /** Workflow design: drafts, validation, immutable published versions (designers). */
  readonly design: Client<typeof WorkflowDesignService>;
  /** Instances: start, act on assigned states, cancel, the activity timeline. */
  readonly instances: Client<typeof WorkflowInstanceService>;
  /** Users, groups, roles and API keys (admins), and WhoAmI (everyone). */
  readonly identity: Client<typeof IdentityService>;
  /** DocuSign, OneSpan and security settings (admins). */
  readonly settings: Client<typeof ProviderSettingsService>;
  /** The Event Log of provider notifications: list, inspect, replay, reconcile (admins). */
  readonly eventLog: Client<typeof EventLogService>;
  /** The transport the clients share, with the bearer credential attached. */
  readonly transport: Transport;
}

/**
 * Creates typed clients for every flowhook service.
 *
 * ```ts
 * const flowhook = createFlowhookClient({ baseUrl: "http://127.0.0.1:8080", apiKey: process.env.FLOWHOOK_API_KEY! });
 * const { user } = await flowhook.identity.whoAmI({});
 * ```
 */
export function createFlowhookClient(options: FlowhookClientOptions): FlowhookClient {
  let transport: Transport;
  if (options.transport !== undefined) {
    transport = options.transport;
  } else {
    transport = createConnectTransport({
      baseUrl: checkBaseUrl(options.baseUrl),
      useBinaryFormat: options.useBinaryFormat ?? false,
      interceptors: options.interceptors ?? [],
    });
  }
  transport = withBearer(transport, options.apiKey);
  return {
    design: createClient(WorkflowDesignService, transport),
    instances: createClient(WorkflowInstanceService, transport),
    identity: createClient(IdentityService, transport),
    settings: createClient(ProviderSettingsService, transport),
    eventLog: createClient(EventLogService, transport),
    transport,
  };
}

/**
 * Wraps a transport so that every request carries `Authorization: Bearer <apiKey>`. Useful to
 * share one authenticated transport with clients of your own.
 */
export function withBearer(transport: Transport, apiKey: ApiKeySource): Transport {
  if (typeof apiKey === "string") {
    checkApiKey(apiKey);
  } else if (typeof apiKey !== "function") {
    throw new TypeError("flowhook: apiKey must be a string or a function returning one");
  }
  const headers = async (init: HeadersInit | undefined): Promise<Headers> => {
    const key = typeof apiKey === "string" ? apiKey : checkApiKey(await apiKey());
    const h = new Headers(init);
    h.set("Authorization", `Bearer ${key}`);
    return h;
  };
  return {
    unary: async (method, signal, timeoutMs, header, input, contextValues) =>
      transport.unary(method, signal, wholeMs(timeoutMs), await headers(header), input, contextValues),
    stream: async (method, signal, timeoutMs, header, input, contextValues) =>
      transport.stream(method, signal, wholeMs(timeoutMs), await headers(header), input, contextValues),
  };
}

// The Connect and gRPC timeout headers carry whole milliseconds: a fractional timeoutMs would
// be sent as is and refused by the server (invalid_argument), so it is rounded up.
function wholeMs(timeoutMs: number | undefined): number | undefined {
  return timeoutMs !== undefined && timeoutMs > 0 ? Math.ceil(timeoutMs) : timeoutMs;
}

function checkBaseUrl(baseUrl: unknown): string {
  if (typeof baseUrl !== "string" || baseUrl === "") {
    throw new TypeError("flowhook: baseUrl is required, e.g. http://127.0.0.1:8080");
  }
  // In a browser, a path ("/api") is relative to the page, for a flowhook behind the same
  // origin's reverse proxy; elsewhere the URL must be absolute.
  const page = (globalThis as { location?: { href?: unknown } }).location?.href;
  let url: URL;
  try {
    url = new URL(baseUrl, typeof page === "string" && baseUrl.startsWith("/") ? page : undefined);
  } catch {
    throw new TypeError(`flowhook: baseUrl ${JSON.stringify(baseUrl)} is not an absolute URL (e.g. http://127.0.0.1:8080)`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new TypeError(`flowhook: baseUrl ${JSON.stringify(baseUrl)}: want http:// or https://`);
  }
  return baseUrl.replace(/\/+$/, "");
}

function checkApiKey(key: unknown): string {
  if (typeof key !== "string" || key.trim() === "") {
    throw new TypeError("flowhook: apiKey is required (an API key from IdentityService.CreateApiKey or the bootstrap admin key)");
  }
  if (/[\s\u0000-\u001f\u007f]/.test(key)) {
    throw new TypeError("flowhook: apiKey must not contain spaces or control characters");
  }
  return key;
}
