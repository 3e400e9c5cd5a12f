// The form beside the graph: edits the selected element (the workflow, a state, a transition)
// of the draft, and shows each problem at the input it concerns. Read-only (a published
// version) puts everything in a disabled fieldset.
import {
  ActionKind,
  AssigneeSchema,
  create,
  durationFromMs,
  FieldType,
  FormFieldSchema,
  Outcome,
  Provider,
  SignerSchema,
  StateKind,
  type Duration,
  type State,
  type Transition,
  type WorkflowDraft,
} from "@flowhook/sdk";
import { useRef, useState, type ReactNode } from "react";
import { enumLabel } from "../../ui";
import { KIND_LABEL, linksOf, messagesAt, messagesUnder, problemsOf, renameState, setKind, targetName, type Links, type Placed, type Selection } from "./model";

export type Directory = {
  users?: { id: string; label: string }[];
  groups?: { id: string; label: string }[];
  connectors?: string[];
  /** The lists that stopped at the console's bound (see useAll): they miss some. */
  cut?: { users?: boolean; groups?: boolean; connectors?: boolean };
};

type Props = {
  draft: WorkflowDraft;
  selection: Selection;
  problems: Placed[];
  readOnly: boolean;
  /** A save or publish runs: the inputs wait (what is typed then would be lost when it ends). */
  busy?: boolean;
  directory: Directory;
  onChange: (fn: (c: WorkflowDraft) => void) => void;
  onRemoveState?: (index: number) => void;
  onRemoveTransition?: (index: number) => void;
  /** Published versions: the actions of each transition. */
  actions?: ActionKind[][];
};

function Problems({ id, messages }: { id: string; messages: string[] }) {
  if (messages.length === 0) return null;
  return (
    <div id={id}>
      {messages.map((m, i) => (
        <p key={i} className="problem">
          {m}
        </p>
      ))}
    </div>
  );
}

function Field(props: { id: string; label: string; messages: string[]; hint?: string; children: (aria: { "aria-invalid"?: true; "aria-describedby"?: string }) => ReactNode }) {
  const bad = props.messages.length > 0;
  const describedBy = [bad ? `${props.id}-problem` : "", props.hint ? `${props.id}-hint` : ""].filter(Boolean).join(" ") || undefined;
  return (
    <div className={`field${bad ? " invalid" : ""}`}>
      <label htmlFor={props.id}>{props.label}</label>
      {props.children({ "aria-invalid": bad ? true : undefined, "aria-describedby": describedBy })}
      {props.hint && (
        <span className="muted hint" id={`${props.id}-hint`}>
          {props.hint}
        </span>
      )}
      <Problems id={`${props.id}-problem`} messages={props.messages} />
    </div>
  );
}

export function Panel(p: Props) {
  const sel = p.selection;
  const all = problemsOf(p.problems, sel);
  let body: ReactNode;
  if (sel.kind === "state" && p.draft.states[sel.index]) body = <StateForm key={`s${sel.index}`} {...p} index={sel.index} />;
  else if (sel.kind === "transition" && p.draft.transitions[sel.index]) body = <TransitionForm key={`t${sel.index}`} {...p} index={sel.index} />;
  else body = <WorkflowForm {...p} />;
  return (
    <section className="card designer-panel" id="designer-panel" aria-labelledby="panel-title">
      <h2 id="panel-title">{targetName(p.draft, sel)}</h2>
      {all.length > 0 && (
        <div className="error" id="element-problems" role="status">
          <strong>
            {all.length} problem{all.length === 1 ? "" : "s"} here
          </strong>
          <ul>
            {all.map((x, i) => (
              <li key={i}>
                {x.sub && <code>{x.sub}</code>} {x.message}
              </li>
            ))}
          </ul>
        </div>
      )}
      <fieldset disabled={p.readOnly || p.busy} className="plain">
        <legend className="sr-only">{p.readOnly ? "Read-only: a published version" : `Edit ${targetName(p.draft, sel)}`}</legend>
        {body}
      </fieldset>
    </section>
  );
}

function WorkflowForm(p: Props) {
  const at = (sub: string) => messagesAt(p.problems, { kind: "workflow" }, sub);
  return (
    <div className="fields">
      <Field id="workflow-name" label="Name" messages={at("name")}>
        {(a) => (
          <input id="workflow-name" value={p.draft.name} readOnly={p.readOnly} onChange={(e) => p.onChange((c) => (c.name = e.target.value))} {...a} />
        )}
      </Field>
      <Field id="workflow-description" label="Description" messages={at("description")}>
        {(a) => (
          <textarea
            id="workflow-description"
            value={p.draft.description}
            readOnly={p.readOnly}
            onChange={(e) => p.onChange((c) => (c.description = e.target.value))}
            {...a}
          />
        )}
      </Field>
      <p className="muted">
        {p.draft.states.length} state{p.draft.states.length === 1 ? "" : "s"}, {p.draft.transitions.length} transition
        {p.draft.transitions.length === 1 ? "" : "s"}. Select a state or a transition in the graph to edit it.
      </p>
    </div>
  );
}

const UNITS: { label: string; s: number }[] = [
  { label: "seconds", s: 1 },
  { label: "minutes", s: 60 },
  { label: "hours", s: 3600 },
  { label: "days", s: 86400 },
];

function TimeoutField(p: { id: string; value?: Duration; messages: string[]; readOnly: boolean; onChange: (d?: Duration) => void }) {
  const secs = p.value ? Number(p.value.seconds) : 0;
  const fit = [...UNITS].reverse().find((u) => secs > 0 && secs % u.s === 0) ?? UNITS[1];
  const [unit, setUnit] = useState(fit.s);
  const u = secs > 0 && secs % unit !== 0 ? fit.s : unit;
  const set = (n: number, unitS: number) => {
    if (!Number.isFinite(n) || n <= 0) p.onChange(undefined);
    else p.onChange(durationFromMs(Math.round(n * unitS) * 1000));
  };
  const bad = p.messages.length > 0;
  return (
    <div className={`field${bad ? " invalid" : ""}`}>
      <label htmlFor={p.id}>Timeout</label>
      <div className="row">
        <input
          id={p.id}
          type="number"
          min={0}
          step="any"
          value={secs === 0 ? "" : String(secs / u)}
          placeholder="none"
          readOnly={p.readOnly}
          aria-invalid={bad || undefined}
          aria-describedby={bad ? `${p.id}-problem` : `${p.id}-hint`}
          onChange={(e) => set(Number(e.target.value), u)}
        />
        <select
          id={`${p.id}-unit`}
          aria-label="Timeout unit"
          value={u}
          onChange={(e) => {
            setUnit(Number(e.target.value));
            if (secs > 0) set(secs / u, Number(e.target.value));
          }}
        >
          {UNITS.map((x) => (
            <option key={x.s} value={x.s}>
              {x.label}
            </option>
          ))}
        </select>
      </div>
      <span className="muted hint" id={`${p.id}-hint`}>
        Empty: waits forever.
      </span>
      <Problems id={`${p.id}-problem`} messages={p.messages} />
    </div>
  );
}

function StateForm(p: Props & { index: number }) {
  const i = p.index;
  const s = p.draft.states[i];
  const target: Selection = { kind: "state", index: i };
  const at = (sub: string) => messagesAt(p.problems, target, sub);
  const change = (fn: (s: State, c: WorkflowDraft) => void) => p.onChange((c) => fn(c.states[i], c));
  const start = p.draft.states.find((x) => x.kind === StateKind.START);
  const links = useRef<Links>(undefined);
  return (
    <div className="fields">
      <Problems id="state-problem" messages={at("")} />
      <div className="grid-2col">
        <Field id="state-key" label="Key" messages={at("key")}>
          {(a) => (
            <input
              id="state-key"
              value={s.key}
              readOnly={p.readOnly}
              spellCheck={false}
              onFocus={() => (links.current = linksOf(p.draft, i))}
              onBlur={() => (links.current = undefined)}
              onChange={(e) => {
                const l = links.current ?? linksOf(p.draft, i);
                links.current = l;
                p.onChange((c) => renameState(c, i, e.target.value, l));
              }}
              {...a}
            />
          )}
        </Field>
        <Field id="state-kind" label="Kind" messages={at("kind")}>
          {(a) => (
            <select id="state-kind" value={s.kind} onChange={(e) => change((st) => setKind(st, Number(e.target.value) as StateKind))} {...a}>
              {s.kind === StateKind.UNSPECIFIED && <option value={0}>Choose…</option>}
              {[StateKind.START, StateKind.HUMAN, StateKind.EXTERNAL, StateKind.END].map((k) => (
                <option key={k} value={k}>
                  {KIND_LABEL[k]}
                </option>
              ))}
            </select>
          )}
        </Field>
      </div>
      <Field id="state-name" label="Name" messages={at("name")}>
        {(a) => <input id="state-name" value={s.name} readOnly={p.readOnly} onChange={(e) => change((st) => (st.name = e.target.value))} {...a} />}
      </Field>

      {(s.kind === StateKind.HUMAN || s.kind === StateKind.EXTERNAL || s.timeout) && (
        <TimeoutField id="state-timeout" value={s.timeout} messages={at("timeout")} readOnly={p.readOnly} onChange={(d) => change((st) => (st.timeout = d))} />
      )}

      {(s.kind === StateKind.HUMAN || s.assignee) && <AssigneeForm {...p} index={i} />}

      {(s.kind === StateKind.START || s.kind === StateKind.HUMAN || s.formFields.length > 0) && (
        <FormFieldsForm {...p} index={i} title={s.kind === StateKind.START ? "Start form" : "Form"} />
      )}

      {(s.kind === StateKind.EXTERNAL || s.external) && <ExternalForm {...p} index={i} startFields={start?.formFields ?? []} />}

      {!p.readOnly && p.onRemoveState && (
        <div>
          <button type="button" className="danger" id="remove-state" onClick={() => p.onRemoveState?.(i)}>
            Remove state
          </button>
          <span className="muted small"> and its transitions</span>
        </div>
      )}
    </div>
  );
}

function AssigneeForm(p: Props & { index: number }) {
  const i = p.index;
  const s = p.draft.states[i];
  const target: Selection = { kind: "state", index: i };
  const a = s.assignee?.assignee ?? { case: undefined };
  const type = a.case === "groupId" ? "group" : "user";
  const value = a.case ? a.value : "";
  const setA = (caseName: "userId" | "groupId", v: string) =>
    p.onChange((c) => {
      const st = c.states[i];
      st.assignee = create(AssigneeSchema, { assignee: { case: caseName, value: v } });
    });
  const list = type === "user" ? p.directory.users : p.directory.groups;
  const msgs = [...messagesAt(p.problems, target, "assignee"), ...messagesAt(p.problems, target, `assignee.${type === "user" ? "user_id" : "group_id"}`)];
  const id = type === "user" ? "assignee-user" : "assignee-group";
  return (
    <fieldset className="group">
      <legend>Assignee</legend>
      <div className="grid-2col">
        <div className="field">
          <label htmlFor="assignee-type">Assign to</label>
          <select id="assignee-type" value={type} onChange={(e) => setA(e.target.value === "group" ? "groupId" : "userId", "")}>
            <option value="user">A user</option>
            <option value="group">A group</option>
          </select>
        </div>
        <Field
          id={id}
          label={type === "user" ? "User" : "Group"}
          messages={msgs}
          hint={
            !list
              ? `Only administrators can list ${type}s: enter the ${type}'s id.`
              : p.directory.cut?.[type === "user" ? "users" : "groups"]
                ? `Only the first ${list.length.toLocaleString("en")} ${type}s are listed here: flowhook has more.`
                : undefined
          }
        >
          {(aria) =>
            list ? (
              <select id={id} value={value} onChange={(e) => setA(type === "user" ? "userId" : "groupId", e.target.value)} {...aria}>
                <option value="">Choose a {type}…</option>
                {value !== "" && !list.some((x) => x.id === value) && <option value={value}>{value} (unknown)</option>}
                {list.map((x) => (
                  <option key={x.id} value={x.id}>
                    {x.label}
                  </option>
                ))}
              </select>
            ) : (
              <input
                id={id}
                value={value}
                spellCheck={false}
                readOnly={p.readOnly}
                onChange={(e) => setA(type === "user" ? "userId" : "groupId", e.target.value)}
                {...aria}
              />
            )
          }
        </Field>
      </div>
    </fieldset>
  );
}

function FormFieldsForm(p: Props & { index: number; title: string }) {
  const i = p.index;
  const s = p.draft.states[i];
  const target: Selection = { kind: "state", index: i };
  const at = (sub: string) => messagesAt(p.problems, target, sub);
  const change = (fn: (s: State) => void) => p.onChange((c) => fn(c.states[i]));
  return (
    <fieldset className="group">
      <legend>{p.title}</legend>
      <Problems id="form-fields-problem" messages={at("form_fields")} />
      {s.formFields.length === 0 && <p className="muted">No fields.</p>}
      {s.formFields.length > 0 && (
        <table className="compact">
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Label</th>
              <th scope="col">Type</th>
              <th scope="col">Required</th>
              {!p.readOnly && (
                <th scope="col">
                  <span className="sr-only">Remove</span>
                </th>
              )}
            </tr>
          </thead>
          <tbody>
            {s.formFields.map((f, j) => {
              const base = `form_fields[${j}]`;
              const msgs = messagesUnder(p.problems, target, base);
              const bad = (sub: string) => (at(`${base}.${sub}`).length > 0 ? true : undefined);
              return [
                <tr key={`f${j}`}>
                  <td>
                    <input
                      id={`field-${j}-name`}
                      aria-label={`Field ${j + 1} name`}
                      value={f.name}
                      spellCheck={false}
                      readOnly={p.readOnly}
                      aria-invalid={bad("name")}
                      onChange={(e) => change((st) => (st.formFields[j].name = e.target.value))}
                    />
                  </td>
                  <td>
                    <input
                      id={`field-${j}-label`}
                      aria-label={`Field ${j + 1} label`}
                      value={f.label}
                      readOnly={p.readOnly}
                      aria-invalid={bad("label")}
                      onChange={(e) => change((st) => (st.formFields[j].label = e.target.value))}
                    />
                  </td>
                  <td>
                    <select
                      id={`field-${j}-type`}
                      aria-label={`Field ${j + 1} type`}
                      value={f.type}
                      aria-invalid={bad("type")}
                      onChange={(e) => change((st) => (st.formFields[j].type = Number(e.target.value) as FieldType))}
                    >
                      {f.type === FieldType.UNSPECIFIED && <option value={0}>Choose…</option>}
                      {[FieldType.STRING, FieldType.NUMBER, FieldType.BOOL, FieldType.DATE, FieldType.EMAIL].map((t) => (
                        <option key={t} value={t}>
                          {enumLabel(FieldType, t)}
                        </option>
                      ))}
                    </select>
                  </td>
                  <td className="center">
                    <input
                      type="checkbox"
                      id={`field-${j}-required`}
                      aria-label={`Field ${j + 1} required`}
                      checked={f.required}
                      onChange={(e) => change((st) => (st.formFields[j].required = e.target.checked))}
                    />
                  </td>
                  {!p.readOnly && (
                    <td>
                      <button
                        type="button"
                        id={`remove-field-${j}`}
                        aria-label={`Remove field ${j + 1}${f.name ? ` (${f.name})` : ""}`}
                        onClick={() => change((st) => st.formFields.splice(j, 1))}
                      >
                        ✕
                      </button>
                    </td>
                  )}
                </tr>,
                msgs.length > 0 && (
                  <tr key={`p${j}`} className="problem-row">
                    <td colSpan={p.readOnly ? 4 : 5}>
                      {msgs.map((m, k) => (
                        <p key={k} className="problem" id={k === 0 ? `field-${j}-problem` : undefined}>
                          <code>{m.sub.slice(base.length + 1) || "field"}</code> {m.message}
                        </p>
                      ))}
                    </td>
                  </tr>
                ),
              ];
            })}
          </tbody>
        </table>
      )}
      {!p.readOnly && (
        <button
          type="button"
          id="add-field"
          onClick={() => change((st) => st.formFields.push(create(FormFieldSchema, { name: "", label: "", type: FieldType.STRING })))}
        >
          Add field
        </button>
      )}
    </fieldset>
  );
}

const PROVIDERS: { v: Provider; label: string }[] = [
  { v: Provider.DOCUSIGN, label: "DocuSign" },
  { v: Provider.ONESPAN, label: "OneSpan" },
  { v: Provider.CONNECTOR, label: "Connector" },
];

const OUTCOMES = [Outcome.APPROVED, Outcome.DENIED, Outcome.FINISHED, Outcome.DELETED, Outcome.EXPIRED];

function ExternalForm(p: Props & { index: number; startFields: { name: string; type: FieldType; label: string }[] }) {
  const i = p.index;
  const s = p.draft.states[i];
  const e = s.external;
  const target: Selection = { kind: "state", index: i };
  const at = (sub: string) => messagesAt(p.problems, target, sub);
  const change = (fn: (x: NonNullable<State["external"]>) => void) =>
    p.onChange((c) => {
      const x = c.states[i].external;
      if (x) fn(x);
    });
  if (!e) {
    return (
      <fieldset className="group">
        <legend>External step</legend>
        <Problems id="external-problem" messages={at("external")} />
      </fieldset>
    );
  }
  const names = p.startFields.filter((f) => f.type === FieldType.STRING);
  const emails = p.startFields.filter((f) => f.type === FieldType.EMAIL);
  const fieldOptions = (list: { name: string; label: string }[], current: string) => (
    <>
      <option value="">Choose a start-form field…</option>
      {current !== "" && !list.some((f) => f.name === current) && <option value={current}>{current} (not in the start form)</option>}
      {list.map((f) => (
        <option key={f.name} value={f.name}>
          {f.name}
          {f.label ? ` — ${f.label}` : ""}
        </option>
      ))}
    </>
  );
  return (
    <fieldset className="group">
      <legend>External step</legend>
      <Problems id="external-problem" messages={at("external")} />
      <div className="grid-2col">
        <Field id="ext-provider" label="Provider" messages={at("external.provider")}>
          {(a) => (
            <select
              id="ext-provider"
              value={e.provider}
              onChange={(ev) =>
                change((x) => {
                  x.provider = Number(ev.target.value) as Provider;
                  if (x.provider !== Provider.CONNECTOR) x.connector = "";
                })
              }
              {...a}
            >
              {e.provider === Provider.UNSPECIFIED && <option value={0}>Choose…</option>}
              {PROVIDERS.map((x) => (
                <option key={x.v} value={x.v}>
                  {x.label}
                </option>
              ))}
            </select>
          )}
        </Field>
        {(e.provider === Provider.CONNECTOR || e.connector !== "") && (
          <Field
            id="ext-connector"
            label="Connector"
            messages={at("external.connector")}
            hint={
              !p.directory.connectors
                ? "Only administrators can list connectors: enter its name."
                : p.directory.cut?.connectors
                  ? `Only the first ${p.directory.connectors.length.toLocaleString("en")} connectors are listed here: flowhook has more.`
                  : undefined
            }
          >
            {(a) =>
              p.directory.connectors ? (
                <select id="ext-connector" value={e.connector} onChange={(ev) => change((x) => (x.connector = ev.target.value))} {...a}>
                  <option value="">Choose a connector…</option>
                  {e.connector !== "" && !p.directory.connectors.includes(e.connector) && <option value={e.connector}>{e.connector} (unknown)</option>}
                  {p.directory.connectors.map((c) => (
                    <option key={c} value={c}>
                      {c}
                    </option>
                  ))}
                </select>
              ) : (
                <input id="ext-connector" value={e.connector} readOnly={p.readOnly} onChange={(ev) => change((x) => (x.connector = ev.target.value))} {...a} />
              )
            }
          </Field>
        )}
      </div>
      <div className="field check">
        <input
          type="checkbox"
          id="ext-include-document"
          checked={e.includeDocument}
          onChange={(ev) => change((x) => (x.includeDocument = ev.target.checked))}
        />
        <label htmlFor="ext-include-document">Include the document rendered from the start form</label>
      </div>
      <Field id="ext-email-subject" label="Email subject" messages={at("external.email_subject")}>
        {(a) => (
          <input id="ext-email-subject" value={e.emailSubject} readOnly={p.readOnly} onChange={(ev) => change((x) => (x.emailSubject = ev.target.value))} {...a} />
        )}
      </Field>
      <Field id="ext-document-title" label="Document title" messages={at("external.document_title")}>
        {(a) => (
          <input
            id="ext-document-title"
            value={e.documentTitle}
            readOnly={p.readOnly}
            onChange={(ev) => change((x) => (x.documentTitle = ev.target.value))}
            {...a}
          />
        )}
      </Field>

      <h3>Signers</h3>
      <Problems id="signers-problem" messages={at("external.signers")} />
      {e.signers.length === 0 && <p className="muted">No signers.</p>}
      {e.signers.map((sg, k) => {
        const base = `external.signers[${k}]`;
        const nm = at(`${base}.name_field`);
        const em = at(`${base}.email_field`);
        return (
          <div className="signer" key={k}>
            <Field id={`signer-${k}-name`} label={`Signer ${k + 1} name field`} messages={nm}>
              {(a) => (
                <select id={`signer-${k}-name`} value={sg.nameField} onChange={(ev) => change((x) => (x.signers[k].nameField = ev.target.value))} {...a}>
                  {fieldOptions(names, sg.nameField)}
                </select>
              )}
            </Field>
            <Field id={`signer-${k}-email`} label={`Signer ${k + 1} email field`} messages={em}>
              {(a) => (
                <select id={`signer-${k}-email`} value={sg.emailField} onChange={(ev) => change((x) => (x.signers[k].emailField = ev.target.value))} {...a}>
                  {fieldOptions(emails, sg.emailField)}
                </select>
              )}
            </Field>
            {!p.readOnly && (
              <button type="button" id={`remove-signer-${k}`} aria-label={`Remove signer ${k + 1}`} onClick={() => change((x) => x.signers.splice(k, 1))}>
                ✕
              </button>
            )}
          </div>
        );
      })}
      {!p.readOnly && (
        <button
          type="button"
          id="add-signer"
          onClick={() =>
            change((x) =>
              x.signers.push(create(SignerSchema, { nameField: names[0]?.name ?? "", emailField: emails[0]?.name ?? "" })),
            )
          }
        >
          Add signer
        </button>
      )}

      <h3>Outcome overrides</h3>
      <Problems id="overrides-problem" messages={messagesUnder(p.problems, target, "external.outcome_overrides").map((m) => m.message)} />
      <p className="muted small">A provider event that means a different outcome for this state than the provider's own mapping.</p>
      <Overrides value={e.outcomeOverrides} readOnly={p.readOnly} onChange={(m) => change((x) => (x.outcomeOverrides = m))} />
    </fieldset>
  );
}

type Override = [event: string, outcome: Outcome];

/** A map's content, whatever the order of its keys. */
function overridesKey(m: { [event: string]: Outcome }): string {
  return JSON.stringify(Object.entries(m).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/**
 * The outcome overrides, edited as rows (a map loses a row the moment two keys are equal, e.g.
 * "ab" backspaced to "a" beside an "a"): the draft gets the map while the events differ; while
 * two are the same the rows stay as typed, the draft keeps its last map, and a problem says so.
 */
function Overrides({ value, readOnly, onChange }: { value: { [event: string]: Outcome }; readOnly: boolean; onChange: (m: { [event: string]: Outcome }) => void }) {
  const key = overridesKey(value);
  // The rows, and the map they were made from or gave: a draft changed elsewhere (reloaded,
  // saved) starts the rows again from its map.
  const [edit, setEdit] = useState<{ key: string; rows: Override[] }>(() => ({ key, rows: Object.entries(value) }));
  const rows = edit.key === key ? edit.rows : Object.entries(value);
  const counts = new Map<string, number>();
  for (const [ev] of rows) counts.set(ev, (counts.get(ev) ?? 0) + 1);
  const twice = new Set([...counts].filter(([, n]) => n > 1).map(([ev]) => ev));
  const set = (next: Override[]) => {
    const events = next.map(([ev]) => ev);
    if (new Set(events).size !== events.length) {
      setEdit({ key, rows: next });
      return;
    }
    const m = Object.fromEntries(next);
    setEdit({ key: overridesKey(m), rows: next });
    onChange(m);
  };
  return (
    <>
      {twice.size > 0 && (
        <p className="problem" role="alert" id="overrides-duplicate">
          Two overrides are for the event {[...twice].map((ev) => `“${ev}”`).join(", ")}: give each its own event. Until then the draft keeps
          the overrides as they were.
        </p>
      )}
      {rows.map(([ev, out], k) => (
        <div className="signer" key={k}>
          <div className={twice.has(ev) ? "field invalid" : "field"}>
            <label htmlFor={`override-${k}-event`}>Event {k + 1}</label>
            <input
              id={`override-${k}-event`}
              value={ev}
              readOnly={readOnly}
              spellCheck={false}
              aria-invalid={twice.has(ev) ? true : undefined}
              aria-describedby={twice.has(ev) ? "overrides-duplicate" : undefined}
              onChange={(x) => set(rows.map((o, m) => (m === k ? [x.target.value, o[1]] : o)))}
            />
          </div>
          <div className="field">
            <label htmlFor={`override-${k}-outcome`}>Outcome {k + 1}</label>
            <select
              id={`override-${k}-outcome`}
              value={out}
              onChange={(x) => set(rows.map((o, m) => (m === k ? [o[0], Number(x.target.value) as Outcome] : o)))}
            >
              {OUTCOMES.map((o) => (
                <option key={o} value={o}>
                  {enumLabel(Outcome, o)}
                </option>
              ))}
            </select>
          </div>
          {!readOnly && (
            <button type="button" aria-label={`Remove override ${k + 1}`} onClick={() => set(rows.filter((_, m) => m !== k))}>
              ✕
            </button>
          )}
        </div>
      ))}
      {!readOnly && (
        <button
          type="button"
          id="add-override"
          onClick={() => {
            let n = rows.length + 1;
            while (rows.some(([ev]) => ev === `event-${n}`)) n++;
            set([...rows, [`event-${n}`, Outcome.DENIED]]);
          }}
        >
          Add override
        </button>
      )}
    </>
  );
}

function TransitionForm(p: Props & { index: number }) {
  const i = p.index;
  const t = p.draft.transitions[i];
  const target: Selection = { kind: "transition", index: i };
  const at = (sub: string) => messagesAt(p.problems, target, sub);
  const change = (fn: (t: Transition) => void) => p.onChange((c) => fn(c.transitions[i]));
  const from = p.draft.states.find((s) => s.key === t.fromState);
  const keys = [...new Set(p.draft.states.map((s) => s.key).filter((k) => k !== ""))];
  const stateSelect = (id: string, label: string, value: string, sub: string, set: (v: string) => void) => (
    <Field id={id} label={label} messages={at(sub)}>
      {(a) => (
        <select id={id} value={value} onChange={(e) => set(e.target.value)} {...a}>
          <option value="">Choose a state…</option>
          {value !== "" && !keys.includes(value) && <option value={value}>{value} (no such state)</option>}
          {keys.map((k) => (
            <option key={k} value={k}>
              {k}
            </option>
          ))}
        </select>
      )}
    </Field>
  );
  const actions = p.actions?.[i];
  return (
    <div className="fields">
      <Problems id="transition-problem" messages={at("")} />
      <div className="grid-2col">
        <Field id="transition-key" label="Key" messages={at("key")}>
          {(a) => <input id="transition-key" value={t.key} spellCheck={false} readOnly={p.readOnly} onChange={(e) => change((x) => (x.key = e.target.value))} {...a} />}
        </Field>
        <Field id="transition-name" label="Name" messages={at("name")}>
          {(a) => <input id="transition-name" value={t.name} readOnly={p.readOnly} onChange={(e) => change((x) => (x.name = e.target.value))} {...a} />}
        </Field>
        {stateSelect("transition-from", "From", t.fromState, "from_state", (v) => change((x) => (x.fromState = v)))}
        {stateSelect("transition-to", "To", t.toState, "to_state", (v) => change((x) => (x.toState = v)))}
      </div>
      {(from?.kind === StateKind.EXTERNAL || t.onOutcome !== Outcome.UNSPECIFIED) && (
        <Field id="transition-outcome" label="On outcome" messages={at("on_outcome")} hint="The outcome the outside system reports that takes this transition.">
          {(a) => (
            <select id="transition-outcome" value={t.onOutcome} onChange={(e) => change((x) => (x.onOutcome = Number(e.target.value) as Outcome))} {...a}>
              <option value={0}>Choose an outcome…</option>
              {OUTCOMES.map((o) => (
                <option key={o} value={o}>
                  {enumLabel(Outcome, o)}
                </option>
              ))}
            </select>
          )}
        </Field>
      )}
      {(from?.kind === StateKind.HUMAN || t.onTimeout) && (
        <div className={`field check${at("on_timeout").length ? " invalid" : ""}`}>
          <input
            type="checkbox"
            id="transition-timeout"
            checked={t.onTimeout}
            aria-describedby={at("on_timeout").length ? "transition-timeout-problem" : undefined}
            onChange={(e) => change((x) => (x.onTimeout = e.target.checked))}
          />
          <label htmlFor="transition-timeout">Taken when the state's timeout passes</label>
          <Problems id="transition-timeout-problem" messages={at("on_timeout")} />
        </div>
      )}
      {actions && (
        <div id="transition-actions">
          <h3>Actions</h3>
          {actions.length === 0 ? (
            <p className="muted">None.</p>
          ) : (
            <ul>
              {actions.map((a, k) => (
                <li key={k}>{enumLabel(ActionKind, a)}</li>
              ))}
            </ul>
          )}
        </div>
      )}
      {!p.readOnly && p.onRemoveTransition && (
        <div>
          <button type="button" className="danger" id="remove-transition" onClick={() => p.onRemoveTransition?.(i)}>
            Remove transition
          </button>
        </div>
      )}
    </div>
  );
}
