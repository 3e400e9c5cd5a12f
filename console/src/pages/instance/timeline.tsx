// Form Activity's timeline: each entry of ListActivity as a readable sentence, oldest first.
import { ActivityKind, toJson, type ActivityEntry, type FieldChange, type WorkflowVersion } from "@flowhook/sdk";
import { ValueSchema } from "@bufbuild/protobuf/wkt";
import type { ReactNode } from "react";
import { jsonText, providerName, Time } from "../../ui";
import type { Names } from "./names";

/** State and transition names of a version, by key (the key itself when unknown). */
export function namer(version: WorkflowVersion | undefined) {
  return {
    state: (key: string) => {
      const s = version?.states.find((x) => x.key === key);
      return s?.name || key || "—";
    },
    /** The outside system of an EXTERNAL state: "DocuSign", "Connector tickets"… */
    provider: (key: string) => {
      const ext = version?.states.find((x) => x.key === key)?.external;
      return ext ? providerName(ext.provider, ext.connector) : "the outside system";
    },
    /** A form field's label, from whichever state's form declares it. */
    field: (name: string) => {
      for (const st of version?.states ?? []) {
        const f = st.formFields.find((x) => x.name === name);
        if (f?.label) return f.label;
      }
      return name;
    },
    transition: (key: string) => {
      const t = version?.transitions.find((x) => x.key === key);
      return t?.name || key;
    },
  };
}

const KIND_LABEL: Record<number, string> = {
  [ActivityKind.STARTED]: "Started",
  [ActivityKind.TRANSITION]: "Transition",
  [ActivityKind.ASSIGNED]: "Assigned",
  [ActivityKind.WAITING_EXTERNAL]: "Waiting external",
  [ActivityKind.COMPLETED]: "Completed",
  [ActivityKind.CANCELLED]: "Cancelled",
  [ActivityKind.FAILED]: "Failed",
  [ActivityKind.EXTERNAL_PROGRESS]: "External progress",
  [ActivityKind.OUTCOME]: "Outcome",
  [ActivityKind.RETRIED]: "Retried",
  [ActivityKind.DEADLINE_SET]: "Deadline set",
  [ActivityKind.TIMED_OUT]: "Timed out",
  [ActivityKind.REASSIGNED]: "Reassigned",
  [ActivityKind.ERASED]: "Erased",
};

const KIND_TONE: Record<number, string> = {
  [ActivityKind.COMPLETED]: "done",
  [ActivityKind.CANCELLED]: "cancelled",
  [ActivityKind.FAILED]: "failed",
  [ActivityKind.WAITING_EXTERNAL]: "waiting",
  [ActivityKind.OUTCOME]: "waiting",
  [ActivityKind.TIMED_OUT]: "failed",
};

/** A form value in words: booleans as Yes and No, the rest as written. */
export function formValue(v: unknown): string {
  if (v === true) return "Yes";
  if (v === false) return "No";
  return jsonText(v);
}

function valueText(v: FieldChange["oldValue"]): string {
  if (!v) return "—";
  return formValue(toJson(ValueSchema, v));
}

function sentence(e: ActivityEntry, names: Names, n: ReturnType<typeof namer>): ReactNode {
  const who = names.user(e.actorId);
  const from = <strong>{n.state(e.fromState)}</strong>;
  const to = <strong>{n.state(e.toState)}</strong>;
  switch (e.kind) {
    case ActivityKind.STARTED:
      return <>{cap(who)} started the instance in {to}.</>;
    case ActivityKind.TRANSITION:
      return (
        <>
          {cap(who)} took “{n.transition(e.transitionKey)}” from {from} to {to}.
        </>
      );
    case ActivityKind.ASSIGNED:
      return (
        <>
          {to} is assigned to <strong>{names.assignee(e.assignee)}</strong>.
        </>
      );
    case ActivityKind.WAITING_EXTERNAL:
      return (
        <>
          Waiting in {to} for <strong>{n.provider(e.toState)}</strong>.
        </>
      );
    case ActivityKind.COMPLETED:
      return <>Completed in {to}.</>;
    case ActivityKind.CANCELLED:
      return <>{cap(who)} cancelled the instance{e.fromState ? <> in {from}</> : null}.</>;
    case ActivityKind.FAILED:
      return <>Failed{e.fromState || e.toState ? <> in {e.fromState ? from : to}</> : null}.</>;
    case ActivityKind.EXTERNAL_PROGRESS:
      return <>{n.provider(e.toState || e.fromState)} reported progress.</>;
    case ActivityKind.OUTCOME:
      return <>{n.provider(e.toState || e.fromState)} reported an outcome{e.toState ? <> for {to}</> : null}.</>;
    case ActivityKind.RETRIED:
      return <>{cap(who)} retried the failed step.</>;
    case ActivityKind.DEADLINE_SET:
      return (
        <>
          {to} must be done by <Time ts={e.deadline} />.
        </>
      );
    case ActivityKind.TIMED_OUT:
      return (
        <>
          The deadline of {from} passed (<Time ts={e.deadline} />)
          {e.toState ? <> and the timer moved it to {to}</> : null}.
        </>
      );
    case ActivityKind.REASSIGNED:
      return (
        <>
          {cap(who)} reassigned the work to <strong>{names.assignee(e.assignee)}</strong>.
        </>
      );
    case ActivityKind.ERASED:
      return <>Retention erased data of the finished instance.</>;
    default:
      return <>Something happened.</>;
  }
}

/** Capitalises "you …" and "the timer" at the start of a sentence; names stay as they are. */
function cap(s: string): string {
  return s.startsWith("you") || s.startsWith("the ") ? s.charAt(0).toUpperCase() + s.slice(1) : s;
}

/** Kinds whose server message only repeats what the sentence says. */
const SAID: number[] = [ActivityKind.STARTED, ActivityKind.TRANSITION, ActivityKind.ASSIGNED, ActivityKind.COMPLETED, ActivityKind.DEADLINE_SET, ActivityKind.WAITING_EXTERNAL];

export function Timeline({ entries, names, version }: { entries: ActivityEntry[]; names: Names; version?: WorkflowVersion }) {
  const n = namer(version);
  if (entries.length === 0) return <p className="muted">Nothing has happened yet.</p>;
  return (
    <ol className="timeline" id="timeline">
      {entries.map((e) => (
        <li key={e.id} className={`entry kind-${KIND_TONE[e.kind] ?? "plain"}`} data-kind={ActivityKind[e.kind]}>
          <div className="entry-head">
            <span className={`badge ${KIND_TONE[e.kind] ?? ""}`}>{KIND_LABEL[e.kind] ?? "Activity"}</span>
            <Time ts={e.createdAt} />
          </div>
          <p className="entry-text">{sentence(e, names, n)}</p>
          {e.message && !SAID.includes(e.kind) && <p className="entry-message">{e.message}</p>}
          {e.changes.length > 0 && (
            <table className="changes">
              <caption className="sr-only">Form fields changed</caption>
              <thead>
                <tr>
                  <th scope="col">Field</th>
                  <th scope="col">Before</th>
                  <th scope="col">After</th>
                </tr>
              </thead>
              <tbody>
                {e.changes.map((c) => (
                  <tr key={c.name}>
                    <td title={c.name}>{n.field(c.name)}</td>
                    <td className="muted">{valueText(c.oldValue)}</td>
                    <td>{valueText(c.newValue)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </li>
      ))}
    </ol>
  );
}
