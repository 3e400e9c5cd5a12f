// Start (/start, /start/:workflowId): the published, non-archived workflows; one's START form
// (of its latest version), the way out of START when there are several, and a request id so
// that a repeated click starts nothing twice; then on to the new instance's Form Activity.
import { useMutation, useQuery } from "@connectrpc/connect-query";
import { StateKind, type WorkflowVersion } from "@flowhook/sdk";
import { useId, useState, type FormEvent } from "react";
import { WorkflowDesignService, WorkflowInstanceService } from "../api";
import { checkForm, FormFields, initialValues, serverProblems, toFormData, type FormValues } from "../form";
import { Link, navigate } from "../router";
import { ErrorNote, Loading, Page, Pager, Time, usePaging } from "../ui";
import "./instance/instance.css";

export function Start({ workflowId }: { workflowId?: string }) {
  return workflowId ? <StartOne workflowId={workflowId} /> : <Pick />;
}

function Pick() {
  const [name, setName] = useState("");
  const [tokens, setTokens] = useState([""]);
  const paging = usePaging(tokens, setTokens);
  const fid = useId();
  // What the caller can start: published, unarchived workflows, as their latest versions.
  const list = useQuery(WorkflowDesignService.method.listPublishedWorkflows, { pageSize: 50, pageToken: paging.token, nameFilter: name.trim() });
  const versions = list.data?.versions ?? [];
  return (
    <Page title="Start">
      <div className="filters">
        <div className="field">
          <label htmlFor={fid}>Find a workflow</label>
          <input
            id={fid}
            type="search"
            value={name}
            placeholder="Name contains…"
            onChange={(e) => {
              setName(e.target.value);
              paging.first();
            }}
          />
        </div>
      </div>
      {list.error && <ErrorNote error={list.error} title="The workflows could not be read" />}
      {list.isPending && <Loading what="the workflows" />}
      {list.data && versions.length === 0 && (
        <div className="card empty" id="start-empty">
          <p>
            <strong>{name.trim() ? "No published workflow matches." : "No workflow is published yet."}</strong>
          </p>
          <p className="muted">A designer publishes workflows in the Designer; they appear here then.</p>
        </div>
      )}
      {versions.length > 0 && (
        <ul className="workflow-list" id="workflow-list">
          {versions.map((v) => (
            <li key={v.workflowId}>
              <article className="card" aria-labelledby={`wf-${v.workflowId}`}>
                <h2 id={`wf-${v.workflowId}`}>{v.name || "Workflow"}</h2>
                {v.description && <p>{v.description}</p>}
                <p className="muted">
                  Version {v.version} · published <Time ts={v.publishedAt} relative />
                </p>
                <Link to={`/start/${v.workflowId}`} className="button primary" aria-label={`Start ${v.name || "workflow"}`}>
                  Start
                </Link>
              </article>
            </li>
          ))}
        </ul>
      )}
      {list.data && (paging.page > 0 || list.data.nextPageToken) && (
        <Pager page={paging.page} next={list.data.nextPageToken} onNext={() => paging.next(list.data.nextPageToken)} onFirst={paging.first} total={list.data.totalSize} />
      )}
    </Page>
  );
}

function StartOne({ workflowId }: { workflowId: string }) {
  const version = useQuery(WorkflowDesignService.method.getWorkflowVersion, { workflowId, version: 0 }, { retry: false });
  const v = version.data?.version;
  return (
    <Page title="Start">
      <p>
        <Link to="/start">← Back to Start</Link>
      </p>
      {version.error && <ErrorNote error={version.error} title="This workflow cannot be started" />}
      {version.isPending && <Loading what="the start form" />}
      {v && <StartForm key={`${v.workflowId}:${v.version}`} version={v} />}
    </Page>
  );
}

/** A request id (crypto.randomUUID needs a secure context; plain-HTTP servers get the fallback). */
function newRequestId(): string {
  if (typeof crypto.randomUUID === "function") return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

function StartForm({ version }: { version: WorkflowVersion }) {
  const start = version.states.find((s) => s.kind === StateKind.START);
  const fields = start?.formFields ?? [];
  const ways = version.transitions.filter((t) => t.fromState === start?.key);
  const stateName = (key: string) => version.states.find((s) => s.key === key)?.name || key;
  const [values, setValuesRaw] = useState<FormValues>(() => initialValues(fields));
  const [way, setWayRaw] = useState(ways[0]?.key ?? "");
  const [problems, setProblems] = useState<Record<string, string>>({});
  const [other, setOther] = useState<string[]>([]);
  // One id per filled-in request: a second click (or a retry after a lost answer) with the same
  // input returns the instance the first started; changed input — the form or the way out of
  // START, both part of what the server compares (engine.StartFingerprint) — is a new request.
  const [requestId, setRequestId] = useState(newRequestId);
  const run = useMutation(WorkflowInstanceService.method.startInstance);
  const setValues = (v: FormValues) => {
    setValuesRaw(v);
    setRequestId(newRequestId());
  };
  const setWay = (key: string) => {
    setWayRaw(key);
    setRequestId(newRequestId());
  };

  const submit = (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    const found = checkForm(fields, values);
    setProblems(found);
    setOther([]);
    if (Object.keys(found).length > 0) {
      const form = e.currentTarget;
      requestAnimationFrame(() => form.querySelector<HTMLElement>("[aria-invalid=true]")?.focus());
      return;
    }
    run.mutate(
      {
        workflowId: version.workflowId,
        version: version.version,
        formData: toFormData(fields, values),
        transitionKey: ways.length > 1 ? way : "",
        requestId,
      },
      {
        onSuccess: (res) => {
          if (res.instance) navigate(`/instances/${res.instance.id}`);
        },
        onError: (err) => {
          const sp = serverProblems(err);
          setProblems(sp.fields);
          setOther(sp.other);
        },
      },
    );
  };

  return (
    <section className="card start-form" aria-labelledby="start-title">
      <h2 id="start-title">
        {version.name} <span className="muted">version {version.version}</span>
      </h2>
      {version.description && <p>{version.description}</p>}
      <form onSubmit={submit} noValidate id="start-form" aria-labelledby="start-title">
        <FormFields fields={fields} values={values} problems={problems} onChange={setValues} disabled={run.isPending} />
        {ways.length > 1 && (
          <fieldset className="choices">
            <legend>How does it start?</legend>
            {ways.map((t) => (
              <div key={t.key} className="field check">
                <input
                  type="radio"
                  id={`start-way-${t.key}`}
                  name="start-way"
                  value={t.key}
                  checked={way === t.key}
                  disabled={run.isPending}
                  onChange={() => setWay(t.key)}
                />
                <label htmlFor={`start-way-${t.key}`}>
                  {t.name || t.key} <span className="muted">→ {stateName(t.toState)}</span>
                </label>
              </div>
            ))}
          </fieldset>
        )}
        {run.error && (other.length > 0 || Object.keys(problems).length === 0) && (
          <ErrorNote error={run.error} title="The workflow was not started" />
        )}
        <button type="submit" className="primary" id="start-submit" disabled={run.isPending}>
          {run.isPending ? "Starting…" : "Start"}
        </button>
      </form>
    </section>
  );
}
