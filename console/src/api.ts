// The console's one door to flowhook: a Connect transport on the page's own origin carrying the
// signed-in key as a bearer token, and the SDK's generated services (no hand-written shapes).
import { createConnectTransport } from "@connectrpc/connect-web";
import { withBearer } from "@flowhook/sdk";

const KEY = "flowhook.apiKey";

/** The API key of this browser tab (sessionStorage: gone when the tab closes). */
export function apiKey(): string {
  return sessionStorage.getItem(KEY) ?? "";
}

export function setApiKey(key: string) {
  if (key === "") {
    sessionStorage.removeItem(KEY);
  } else {
    sessionStorage.setItem(KEY, key);
  }
}

/** The API is served by the same binary on the same origin as the console. */
export const transport = withBearer(createConnectTransport({ baseUrl: location.origin }), () => apiKey());

export {
  EventLogService,
  IdentityService,
  ProviderSettingsService,
  WorkflowDesignService,
  WorkflowInstanceService,
} from "@flowhook/sdk";
