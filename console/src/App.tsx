// The console's frame: the navigation the caller's roles allow, and the page of the URL. Roles
// follow the server's (auth.Procedures; ADMIN holds every role): the inbox, starting and acting
// on instances are USER work, the Designer DESIGNER work; the first page a caller may use is
// their home.
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
import { enumLabel, ErrorNote, Page } from "./ui";

type Access = "user" | "designer" | "admin";

type Route = { pattern: string; access: Access; title: string; render: (p: Record<string, string>) => ReactNode };

const routes: Route[] = [
  { pattern: "/inbox", access: "user", title: "Inbox", render: () => <Inbox /> },
  { pattern: "/start", access: "user", title: "Start", render: () => <Start /> },
  { pattern: "/start/:workflowId", access: "user", title: "Start", render: (p) => <Start workflowId={p.workflowId} /> },
  { pattern: "/instances/:id", access: "user", title: "Form Activity", render: (p) => <InstancePage id={p.id} /> },
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
  { to: "/inbox", label: "Inbox", access: "user" },
  { to: "/start", label: "Start", access: "user" },
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
  const allowed = (a: Access) => (a === "admin" ? s.isAdmin : a === "designer" ? s.isDesigner : s.isUser);
  // The caller's first page: the inbox for users, the Designer for designers.
  const home = nav.find((n) => allowed(n.access));

  useEffect(() => {
    if ((path === "/" || path === "/index.html") && home) navigate(home.to, { replace: true });
  }, [path, home]);

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
  if (!home) {
    body = (
      <Page title="No pages for you">
        <div className="error" role="alert" id="no-role">
          <strong>Your account has no role that the console serves.</strong>
          <p>
            You are signed in as {s.user.email}. Ask an administrator for the role USER (the inbox and starting workflows) or
            DESIGNER (the Designer).
          </p>
        </div>
      </Page>
    );
  } else if (!found) {
    body = (
      <Page title="Page not found">
        <p>
          There is no page at <code>{path}</code>. <Link to={home.to}>Go to the {home.label}</Link>.
        </p>
      </Page>
    );
  } else if (!allowed(found.route.access)) {
    body = <NotAllowed title={found.route.title} access={found.route.access} home={home} />;
  } else {
    body = found.route.render(found.params);
  }
  return (
    <>
      <a className="skip" href="#main">
        Skip to content
      </a>
      <header className="top">
        <Link to={home?.to ?? "/"} className="brand">
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
      <main id="main">
        {s.stale && (
          <div id="session-stale">
            <ErrorNote error={s.stale.error} title="flowhook could not be reached to check your account" />
            <p>
              This page stays as it was; what you typed is kept.{" "}
              <button type="button" onClick={s.stale.retry}>
                Try again
              </button>
            </p>
          </div>
        )}
        {body}
      </main>
    </>
  );
}

function NotAllowed({ title, access, home }: { title: string; access: Access; home: { to: string; label: string } }) {
  const s = useSession();
  const who = access === "admin" ? "administrators" : access === "designer" ? "designers and administrators" : "users and administrators";
  return (
    <Page title="Not allowed">
      <div className="error" role="alert" id="not-allowed">
        <strong>
          {title} is for {who}.
        </strong>
        <p>
          You are signed in as {s.user.email} with the role{s.user.roles.length === 1 ? "" : "s"}{" "}
          {s.user.roles.map((r) => enumLabel(Role, r)).join(", ")}. Ask an administrator for access, or{" "}
          <Link to={home.to}>go to the {home.label}</Link>.
        </p>
      </div>
    </Page>
  );
}
