// createFlowhookClient: one typed Connect client per flowhook service, sharing one transport
// that carries the caller's API key as a bearer credential.
import { Code, ConnectError, createClient, type Client, type Interceptor, type Transport } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-web";
import { WorkflowDesignService } from "./gen/flowhook/v1/design_pb.js";
import { EventLogService } from "./gen/flowhook/v1/eventlog_pb.js";
import { IdentityService } from "./gen/flowhook/v1/identity_pb.js";
import { WorkflowInstanceService } from "./gen/flowhook/v1/instance_pb.js";
import { ProviderSettingsService } from "./gen/flowhook/v1/settings_pb.js";

/**
 * An API key, or a function that returns the current one (called before every request, so a
 * front end can swap keys without building a new client). The call's `signal` and `timeoutMs`
 * cover the function's work: a call cancelled or out of time while it runs rejects at once
 * with `Code.Canceled` or `Code.DeadlineExceeded`. A function that throws, or answers no usable
 * key, rejects the call with `Code.Unauthenticated` (a `ConnectError` it throws keeps its code).
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
    return {
      unary: async (method, signal, timeoutMs, header, input, contextValues) =>
        transport.unary(method, signal, wholeMs(timeoutMs), bearer(header, apiKey), input, contextValues),
      stream: async (method, signal, timeoutMs, header, input, contextValues) =>
        transport.stream(method, signal, wholeMs(timeoutMs), bearer(header, apiKey), input, contextValues),
    };
  }
  if (typeof apiKey !== "function") {
    throw new TypeError("flowhook: apiKey must be a string or a function returning one");
  }
  return {
    unary: async (method, signal, timeoutMs, header, input, contextValues) => {
      const asked = await askKey(apiKey, signal, timeoutMs);
      return transport.unary(method, signal, wholeMs(asked.timeoutMs), bearer(header, asked.key), input, contextValues);
    },
    stream: async (method, signal, timeoutMs, header, input, contextValues) => {
      const asked = await askKey(apiKey, signal, timeoutMs);
      return transport.stream(method, signal, wholeMs(asked.timeoutMs), bearer(header, asked.key), input, contextValues);
    },
  };
}

function bearer(init: HeadersInit | undefined, key: string): Headers {
  const h = new Headers(init);
  h.set("Authorization", `Bearer ${key}`);
  return h;
}

/**
 * Asks a key function for one call's key, racing it against the call's signal and deadline, so
 * that a call cancelled or out of time while the key is looked up rejects at once, as the
 * transport would have (Canceled, DeadlineExceeded), and never goes out. The deadline counts
 * from the call's start: what the lookup took is taken off the timeout the transport gets.
 * A function that fails, or answers no usable key, rejects the call with Unauthenticated.
 */
async function askKey(
  apiKey: () => string | Promise<string>,
  signal: AbortSignal | undefined,
  timeoutMs: number | undefined,
): Promise<{ key: string; timeoutMs: number | undefined }> {
  // As connect-es reads timeoutMs: above 0 a deadline; 0 or less none; undefined the
  // transport's default, which only the transport knows.
  const limited = timeoutMs !== undefined && timeoutMs > 0;
  const start = performance.now();
  let timer: ReturnType<typeof setTimeout> | undefined;
  let onAbort: (() => void) | undefined;
  let key: unknown;
  try {
    key = await new Promise<unknown>((resolve, reject) => {
      if (signal?.aborted) {
        reject(cancelled(signal));
        return;
      }
      if (signal !== undefined) {
        onAbort = () => reject(cancelled(signal));
        signal.addEventListener("abort", onAbort);
      }
      if (limited) {
        timer = setTimeout(() => reject(timedOut()), timeoutMs);
      }
      let answer: string | Promise<string>;
      try {
        answer = apiKey();
      } catch (err) {
        reject(keyFailed(err));
        return;
      }
      Promise.resolve(answer).then(resolve, (err: unknown) => reject(keyFailed(err)));
    });
  } finally {
    clearTimeout(timer);
    if (onAbort !== undefined) {
      signal?.removeEventListener("abort", onAbort);
    }
  }
  try {
    checkApiKey(key);
  } catch (err) {
    throw new ConnectError((err as Error).message, Code.Unauthenticated, undefined, undefined, err);
  }
  if (!limited) {
    return { key: key as string, timeoutMs };
  }
  const left = timeoutMs - (performance.now() - start);
  if (left <= 0) {
    // Out of time, though the timer has not fired yet. (0 would mean no deadline at all.)
    throw timedOut();
  }
  return { key: key as string, timeoutMs: left };
}

// A call cancelled by its signal: Canceled, as connect-es reports it (a ConnectError reason
// keeps its code).
function cancelled(signal: AbortSignal): ConnectError {
  const reason: unknown = signal.reason;
  return reason === undefined ? new ConnectError("This operation was aborted", Code.Canceled) : ConnectError.from(reason, Code.Canceled);
}

// connect-es's own words for a call past its deadline.
function timedOut(): ConnectError {
  return new ConnectError("the operation timed out", Code.DeadlineExceeded);
}

// A key function that threw or rejected: Unauthenticated, the cause kept; a ConnectError it
// threw (a refresh over Connect that failed) keeps its code.
function keyFailed(err: unknown): ConnectError {
  if (err instanceof ConnectError) {
    return err;
  }
  const why = err instanceof Error ? err.message : String(err);
  return new ConnectError(`flowhook: the apiKey function failed: ${why}`, Code.Unauthenticated, undefined, undefined, err);
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
