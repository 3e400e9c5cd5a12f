// A small router over the History API: the console's pages are paths under /console/, so a URL
// can be bookmarked, shared and reloaded (the server answers every such path with the app).
import { useEffect, useSyncExternalStore, type AnchorHTMLAttributes, type MouseEvent } from "react";

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

// What a page with unsaved work asks before the console's own links leave it.
let leaving: { message: string } | undefined;

/**
 * While when holds, leaving the page asks first: the browser's own question on a reload, a
 * closed tab or another site (beforeunload), and message in a confirm on the console's links.
 * (The browser's Back button, within the console, is not asked about.)
 */
export function useLeaveGuard(when: boolean, message: string) {
  useEffect(() => {
    if (!when) return;
    const onBeforeUnload = (e: BeforeUnloadEvent) => {
      e.preventDefault();
      e.returnValue = message; // older browsers ask only when it is set
    };
    const mine = { message };
    window.addEventListener("beforeunload", onBeforeUnload);
    leaving = mine;
    return () => {
      window.removeEventListener("beforeunload", onBeforeUnload);
      if (leaving === mine) leaving = undefined;
    };
  }, [when, message]);
}

/** An <a> that navigates within the console (a real link: open in a new tab still works). */
export function Link({ to, ...rest }: { to: string } & Omit<AnchorHTMLAttributes<HTMLAnchorElement>, "href">) {
  const onClick = (e: MouseEvent<HTMLAnchorElement>) => {
    rest.onClick?.(e);
    if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    e.preventDefault();
    if (leaving && !window.confirm(leaving.message)) return;
    navigate(to);
  };
  return <a {...rest} href={BASE + to} onClick={onClick} />;
}
