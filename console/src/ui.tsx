// Small shared pieces: errors, times, enum labels, badges, paging. No UI kit: plain elements,
// labelled, keyboard-usable, styled by styles.css.
import { Code, codeName, ConnectError, InstanceStatus, Provider, validationProblems, type Timestamp } from "@flowhook/sdk";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import type { ReactNode } from "react";

/** "WAITING_EXTERNAL" → "Waiting external". */
export function label(name: string | undefined): string {
  if (!name) return "—";
  const s = name.replace(/_/g, " ").toLowerCase();
  return s.charAt(0).toUpperCase() + s.slice(1);
}

/** The label of an enum value of a generated enum object, e.g. enumLabel(InstanceStatus, 2). */
export function enumLabel(e: Record<number, string>, v: number): string {
  return label(e[v]);
}

const PROVIDER: Record<number, string> = {
  [Provider.DOCUSIGN]: "DocuSign",
  [Provider.ONESPAN]: "OneSpan",
  [Provider.CONNECTOR]: "Connector",
};
export function providerName(p: Provider, connector?: string): string {
  if (p === Provider.CONNECTOR && connector) return `Connector ${connector}`;
  return PROVIDER[p] ?? "—";
}

export function Time({ ts, relative }: { ts?: Timestamp; relative?: boolean }) {
  if (!ts) return <span className="muted">—</span>;
  const d = timestampDate(ts);
  const text = relative ? ago(d) : d.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "medium" });
  return (
    <time dateTime={d.toISOString()} title={d.toISOString()}>
      {text}
    </time>
  );
}

function ago(d: Date): string {
  const s = Math.round((Date.now() - d.getTime()) / 1000);
  const abs = Math.abs(s);
  const unit = abs < 60 ? [abs, "s"] : abs < 3600 ? [Math.round(abs / 60), "min"] : abs < 86400 ? [Math.round(abs / 3600), "h"] : [Math.round(abs / 86400), "d"];
  return s >= 0 ? `${unit[0]} ${unit[1]} ago` : `in ${unit[0]} ${unit[1]}`;
}

const STATUS_CLASS: Record<number, string> = {
  [InstanceStatus.ACTIVE]: "active",
  [InstanceStatus.WAITING_EXTERNAL]: "waiting",
  [InstanceStatus.COMPLETED]: "done",
  [InstanceStatus.CANCELLED]: "cancelled",
  [InstanceStatus.FAILED]: "failed",
};
export function StatusBadge({ status }: { status: InstanceStatus }) {
  return <span className={`badge ${STATUS_CLASS[status] ?? ""}`}>{enumLabel(InstanceStatus, status)}</span>;
}

export function Badge({ children, tone }: { children: ReactNode; tone?: string }) {
  return <span className={`badge ${tone ?? ""}`}>{children}</span>;
}

/** A failed call, in words: what went wrong and every problem the server listed. */
export function ErrorNote({ error, title }: { error: unknown; title?: string }) {
  if (!error) return null;
  const ce = ConnectError.from(error);
  const problems = validationProblems(ce);
  let text = ce.rawMessage;
  if (ce.code === Code.Unauthenticated) text = "Your API key was refused (revoked, expired or mistyped). Sign in again.";
  if (ce.code === Code.PermissionDenied) text = `Your roles do not allow this: ${ce.rawMessage}`;
  return (
    <div className="error" role="alert">
      <strong>{title ?? "That did not work"}</strong> <span className="muted">({codeName(ce.code)})</span>
      <p>{text}</p>
      {problems.length > 0 && (
        <ul>
          {problems.map((p, i) => (
            <li key={i}>
              {p.path && <code>{p.path}</code>} {p.message}
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}

export function Loading({ what }: { what?: string }) {
  return (
    <p className="muted" role="status">
      Loading{what ? ` ${what}` : ""}…
    </p>
  );
}

/** Forward-only paging through page tokens, with a way back to the first page. */
export function Pager(props: { page: number; next?: string; onNext: () => void; onFirst: () => void; total?: bigint; estimated?: boolean }) {
  return (
    <nav className="pager" aria-label="Pages">
      <button type="button" onClick={props.onFirst} disabled={props.page === 0}>
        First page
      </button>
      <span>
        Page {props.page + 1}
        {props.total !== undefined && ` · ${props.estimated ? "about " : ""}${props.total} in all`}
      </span>
      <button type="button" onClick={props.onNext} disabled={!props.next}>
        Next page
      </button>
    </nav>
  );
}

/** The state of a list's paging: the tokens of the pages seen so far. */
export function usePaging(tokens: string[], setTokens: (t: string[]) => void) {
  return {
    token: tokens[tokens.length - 1] ?? "",
    page: tokens.length - 1,
    next: (t: string) => setTokens([...tokens, t]),
    first: () => setTokens([""]),
  };
}

export function Page({ title, actions, children }: { title: string; actions?: ReactNode; children: ReactNode }) {
  return (
    <section className="page" aria-labelledby="page-title">
      <header className="page-head">
        <h1 id="page-title" tabIndex={-1}>
          {title}
        </h1>
        {actions && <div className="actions">{actions}</div>}
      </header>
      {children}
    </section>
  );
}

/** Renders a JSON value compactly for tables and timelines. */
export function jsonText(v: unknown): string {
  if (v === undefined) return "—";
  if (typeof v === "string") return v;
  return JSON.stringify(v);
}
