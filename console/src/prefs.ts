// This browser's console preferences (localStorage): where Jaeger's UI is, for trace links.
const JAEGER = "flowhook.jaegerUrl";
export const DEFAULT_JAEGER_URL = "http://127.0.0.1:16686";

export function jaegerUrl(): string {
  return localStorage.getItem(JAEGER) || DEFAULT_JAEGER_URL;
}

export function setJaegerUrl(url: string) {
  if (url.trim() === "" || url.trim() === DEFAULT_JAEGER_URL) localStorage.removeItem(JAEGER);
  else localStorage.setItem(JAEGER, url.trim().replace(/\/+$/, ""));
}

/** The Jaeger UI page of a trace. */
export function traceUrl(traceId: string): string {
  return `${jaegerUrl()}/trace/${encodeURIComponent(traceId)}`;
}
