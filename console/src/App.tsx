// The console's frame: the navigation the caller's roles allow, and the page of the URL.
import { Role } from "@flowhook/sdk";
import { useEffect, type ReactNode } from "react";
import { Designer } from "./pages/Designer";
import { EventLog } from "./pages/EventLog";
import { Inbox } from "./pages/Inbox";
import { InstancePage } from "./pages/Instance";
import { Manage } from "./pages/Manage";
import { Settings } from "./pages/Settings";
import { Start } from "./pages/Start";
import { Link, match, navigate, useLocation } from "./router";
import { SignedIn, useSession } from "./session";
import { enumLabel, Page } from "./ui";

type Access = "everyone" | "designer" | "admin";

type Route = { pattern: string; access: Access; title: string; render: (p: Record<string, string>) => ReactNode };

const routes: Route[] = [
  { pattern: "/inbox", access: "everyone", title: "Inbox", render: () => <Inbox /> },
  { pattern: "/start", access: "everyone", title: "Start", render: () => <Start /> },
  { pattern: "/start/:workflowId", access: "everyone", title: "Start", render: (p) => <Start workflowId={p.workflowId} /> },
  { pattern: "/instances/:id", access: "everyone", title: "Form Activity", render: (p) => <InstancePage id={p.id} /> },
  { pattern: "/manage", access: "admin", title: "Workflow Manage", render: () => <Manage /> },
  { pattern: "/designer", access: "designer", title: "Designer", render: () => <Designer /> },
  { pattern: "/designer/:workflowId", access: "designer", title: "Designer", render: (p) => <Designer workflowId={p.workflowId} /> },
  {
    pattern: "/designer/:workflowId/versions/:version",
    access: "designer",
    title: "Designer",
    render: (p) => <Designer workflowId={p.workflowId} version={Number(p.version)} />,
  },
  { pattern: "/events", access: "admin", title: "Event Log", render: () => <EventLog /> },
  { pattern: "/events/:id", access: "admin", title: "Event Log", render: (p) => <EventLog eventId={p.id} /> },
  { pattern: "/settings", access: "admin", title: "Settings", render: () => <Settings /> },
  { pattern: "/settings/:tab", access: "admin", title: "Settings", render: (p) => <Settings tab={p.tab} /> },
];

const nav: { to: string; label: string; access: Access }[] = [
  { to: "/inbox", label: "Inbox", access: "everyone" },
  { to: "/start", label: "Start", access: "everyone" },
  { to: "/manage", label: "Workflow Manage", access: "admin" },
  { to: "/designer", label: "Designer", access: "designer" },
  { to: "/events", label: "Event Log", access: "admin" },
  { to: "/settings", label: "Settings", access: "admin" },
];

export function App() {
  return (
    <SignedIn>
      <Shell />
    </SignedIn>
  );
}

function Shell() {
  const s = useSession();
  const { path } = useLocation();
  const allowed = (a: Access) => a === "everyone" || (a === "admin" ? s.isAdmin : s.isDesigner);

  useEffect(() => {
    if (path === "/" || path === "/index.html") navigate("/inbox", { replace: true });
  }, [path]);

  let found: { route: Route; params: Record<string, string> } | undefined;
  for (const route of routes) {
    const params = match(route.pattern, path);
    if (params) {
      found = { route, params };
      break;
    }
  }
  useEffect(() => {
    document.title = `${found?.route.title ?? "Not found"} · flowhook`;
  }, [found?.route.title]);

  let body: ReactNode;
  if (!found) {
    body = (
      <Page title="Page not found">
        <p>
          There is no page at <code>{path}</code>. <Link to="/inbox">Go to your inbox</Link>.
        </p>
      </Page>
    );
  } else if (!allowed(found.route.access)) {
    body = <NotAllowed title={found.route.title} access={found.route.access} />;
  } else {
    body = found.route.render(found.params);
  }
  return (
    <>
      <a className="skip" href="#main">
        Skip to content
      </a>
      <header className="top">
        <Link to="/inbox" className="brand">
          flowhook
        </Link>
        <nav aria-label="Pages">
          <ul>
            {nav
              .filter((n) => allowed(n.access))
              .map((n) => (
                <li key={n.to}>
                  <Link to={n.to} aria-current={path === n.to || path.startsWith(n.to + "/") ? "page" : undefined}>
                    {n.label}
                  </Link>
                </li>
              ))}
          </ul>
        </nav>
        <div className="who">
          <span title={s.user.email}>
            {s.user.displayName || s.user.email} <span className="muted">({s.user.roles.map((r) => enumLabel(Role, r)).join(", ")})</span>
          </span>
          <button type="button" onClick={s.signOut}>
            Sign out
          </button>
        </div>
      </header>
      <main id="main">{body}</main>
    </>
  );
}

function NotAllowed({ title, access }: { title: string; access: Access }) {
  const s = useSession();
  const who = access === "admin" ? "administrators" : "designers and administrators";
  return (
    <Page title="Not allowed">
      <div className="error" role="alert" id="not-allowed">
        <strong>
          {title} is for {who}.
        </strong>
        <p>
          You are signed in as {s.user.email} with the role{s.user.roles.length === 1 ? "" : "s"}{" "}
          {s.user.roles.map((r) => enumLabel(Role, r)).join(", ")}. Ask an administrator for access, or{" "}
          <Link to="/inbox">go to your inbox</Link>.
        </p>
      </div>
    </Page>
  );
}
