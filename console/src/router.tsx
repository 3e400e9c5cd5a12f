// A small router over the History API: the console's pages are paths under /console/, so a URL
// can be bookmarked, shared and reloaded (the server answers every such path with the app).
import { useSyncExternalStore, type AnchorHTMLAttributes, type MouseEvent } from "react";

export const BASE = "/console";

const listeners = new Set<() => void>();
function subscribe(fn: () => void) {
  listeners.add(fn);
  window.addEventListener("popstate", fn);
  return () => {
    listeners.delete(fn);
    window.removeEventListener("popstate", fn);
  };
}
const snapshot = () => location.pathname + location.search;

/** The console path (without /console) and its query, e.g. {path: "/instances/ab", query}. */
export function useLocation(): { path: string; query: URLSearchParams } {
  const loc = useSyncExternalStore(subscribe, snapshot);
  const url = new URL(loc, location.origin);
  let path = url.pathname.startsWith(BASE) ? url.pathname.slice(BASE.length) : url.pathname;
  if (path === "") path = "/";
  return { path, query: url.searchParams };
}

export function navigate(to: string, opts: { replace?: boolean } = {}) {
  const href = BASE + to;
  if (opts.replace) history.replaceState(null, "", href);
  else history.pushState(null, "", href);
  listeners.forEach((fn) => fn());
  window.scrollTo(0, 0);
}

/** Matches a path against a pattern with :params ("/instances/:id"). */
export function match(pattern: string, path: string): Record<string, string> | undefined {
  const p = pattern.split("/");
  const s = path.split("/");
  if (p.length !== s.length) return undefined;
  const params: Record<string, string> = {};
  for (let i = 0; i < p.length; i++) {
    if (p[i].startsWith(":")) params[p[i].slice(1)] = decodeURIComponent(s[i]);
    else if (p[i] !== s[i]) return undefined;
  }
  return params;
}

/** An <a> that navigates within the console (a real link: open in a new tab still works). */
export function Link({ to, ...rest }: { to: string } & Omit<AnchorHTMLAttributes<HTMLAnchorElement>, "href">) {
  const onClick = (e: MouseEvent<HTMLAnchorElement>) => {
    rest.onClick?.(e);
    if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    e.preventDefault();
    navigate(to);
  };
  return <a {...rest} href={BASE + to} onClick={onClick} />;
}
