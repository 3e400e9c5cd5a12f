// The Designer: the list of workflows, the editor of a workflow's draft (the graph laid out by
// elkjs, the form of the selected element beside it, live validation, save and publish — the
// draft not editable while they run — and a question before leaving unsaved changes) and the
// read-only view of a published version.
import { useInfiniteQuery, useMutation, useQuery, useTransport } from "@connectrpc/connect-query";
import {
  Code,
  ConnectError,
  clone,
  createClient,
  equals,
  IdentityService,
  ProviderSettingsService,
  validationProblems,
  WorkflowDesignService,
  WorkflowDraftSchema,
  WorkflowSchema,
  type Problem,
  type Workflow,
  type WorkflowDraft,
} from "@flowhook/sdk";
import { useQueryClient } from "@tanstack/react-query";
import { useEffect, useMemo, useRef, useState, type FormEvent } from "react";
import { useAll } from "../all";
import { Link, navigate, useLeaveGuard } from "../router";
import { useSession } from "../session";
import { Badge, ErrorNote, Loading, Page, Pager, Time, usePaging } from "../ui";
import { Graph } from "./designer/Graph";
import { addState, addTransition, edit, minimalDraft, place, removeState, targetName, type Placed, type Selection } from "./designer/model";
import { Panel, type Directory } from "./designer/Panel";
import "./designer/designer.css";

export function Designer(props: { workflowId?: string; version?: number }) {
  if (props.workflowId && props.version !== undefined && Number.isFinite(props.version)) {
    return <VersionView workflowId={props.workflowId} version={props.version} />;
  }
  if (props.workflowId) return <Editor key={props.workflowId} workflowId={props.workflowId} />;
  return <WorkflowList />;
}

// ---------------------------------------------------------------------------------------------
// The list

function WorkflowList() {
  const [filter, setFilter] = useState("");
  const [archived, setArchived] = useState(false);
  const [tokens, setTokens] = useState([""]);
  const paging = usePaging(tokens, setTokens);
  const list = useQuery(WorkflowDesignService.method.listWorkflows, {
    pageSize: 20,
    pageToken: paging.token,
    nameFilter: filter,
    includeArchived: archived,
  });
  const qc = useQueryClient();
  const [name, setName] = useState("");
  const createWf = useMutation(WorkflowDesignService.method.createWorkflow, {
    onSuccess: (res) => {
      void qc.invalidateQueries();
      if (res.workflow) navigate(`/designer/${res.workflow.id}`);
    },
  });
  const archive = useMutation(WorkflowDesignService.method.archiveWorkflow, { onSuccess: () => qc.invalidateQueries() });
  const unarchive = useMutation(WorkflowDesignService.method.unarchiveWorkflow, { onSuccess: () => qc.invalidateQueries() });
  const [done, setDone] = useState<string>();

  const submit = (e: FormEvent) => {
    e.preventDefault();
    createWf.mutate({ workflow: minimalDraft(name.trim()) });
  };

  return (
    <Page title="Designer">
      <form className="card new-workflow" onSubmit={submit} aria-labelledby="new-title">
        <h2 id="new-title">New workflow</h2>
        <div className="filters">
          <div className="field">
            <label htmlFor="new-workflow-name">Name</label>
            <input id="new-workflow-name" value={name} onChange={(e) => setName(e.target.value)} required maxLength={200} />
          </div>
          <button type="submit" className="primary" id="new-workflow" disabled={createWf.isPending || name.trim() === ""}>
            {createWf.isPending ? "Creating…" : "New workflow"}
          </button>
        </div>
        <p className="muted small">It starts as a start state leading to an end state; build it in the editor.</p>
        <ErrorNote error={createWf.error} title="The workflow was not created" />
      </form>

      <h2>Workflows</h2>
      <div className="filters">
        <div className="field">
          <label htmlFor="workflow-filter">Name contains</label>
          <input
            id="workflow-filter"
            type="search"
            value={filter}
            onChange={(e) => {
              setFilter(e.target.value);
              paging.first();
            }}
          />
        </div>
        <div className="field check">
          <input
            type="checkbox"
            id="include-archived"
            checked={archived}
            onChange={(e) => {
              setArchived(e.target.checked);
              paging.first();
            }}
          />
          <label htmlFor="include-archived">Include archived</label>
        </div>
      </div>
      {done && (
        <p className="success" role="status" id="archive-result">
          {done}
        </p>
      )}
      <ErrorNote error={archive.error ?? unarchive.error} title="That did not work" />
      <ErrorNote error={list.error} title="The workflows could not be listed" />
      {list.isPending && <Loading what="workflows" />}
      {list.data && (
        <>
          <div className="table-wrap">
            <table id="workflow-table">
              <thead>
                <tr>
                  <th scope="col">Name</th>
                  <th scope="col">Latest version</th>
                  <th scope="col">Draft revision</th>
                  <th scope="col">Updated</th>
                  <th scope="col">Actions</th>
                </tr>
              </thead>
              <tbody>
                {list.data.workflows.length === 0 && (
                  <tr>
                    <td colSpan={5} className="muted">
                      No workflows{filter ? ` whose name contains “${filter}”` : ""}.
                    </td>
                  </tr>
                )}
                {list.data.workflows.map((w) => (
                  <tr key={w.id} data-workflow-id={w.id}>
                    <td>
                      <Link to={`/designer/${w.id}`}>{w.draft?.name || w.id}</Link> {w.archived && <Badge tone="cancelled">Archived</Badge>}
                    </td>
                    <td>
                      {w.latestVersion > 0 ? (
                        <Link to={`/designer/${w.id}/versions/${w.latestVersion}`}>Version {w.latestVersion}</Link>
                      ) : (
                        <span className="muted">Never published</span>
                      )}
                    </td>
                    <td>{String(w.revision)}</td>
                    <td>
                      <Time ts={w.updatedAt} relative />
                    </td>
                    <td>
                      {w.archived ? (
                        <button
                          type="button"
                          disabled={unarchive.isPending}
                          aria-label={`Unarchive ${w.draft?.name ?? w.id}`}
                          onClick={() => unarchive.mutate({ workflowId: w.id }, { onSuccess: () => setDone(`Unarchived “${w.draft?.name}”.`) })}
                        >
                          Unarchive
                        </button>
                      ) : (
                        <button
                          type="button"
                          disabled={archive.isPending}
                          aria-label={`Archive ${w.draft?.name ?? w.id}`}
                          onClick={() => archive.mutate({ workflowId: w.id }, { onSuccess: () => setDone(`Archived “${w.draft?.name}”: it starts no new instances.`) })}
                        >
                          Archive
                        </button>
                      )}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <Pager page={paging.page} next={list.data.nextPageToken} onNext={() => paging.next(list.data.nextPageToken)} onFirst={paging.first} total={list.data.totalSize} />
        </>
      )}
    </Page>
  );
}

// ---------------------------------------------------------------------------------------------
// Shared: who can be assigned, which connectors exist (admins only: others type ids).

function useDirectory(): Directory {
  const s = useSession();
  const opts = { enabled: s.isAdmin, retry: false, staleTime: 60_000 };
  const users = useAll(IdentityService.method.listUsers, {}, (r) => r.users, opts);
  const groups = useAll(IdentityService.method.listGroups, {}, (r) => r.groups, opts);
  const connectors = useAll(ProviderSettingsService.method.listConnectors, {}, (r) => r.connectors, opts);
  return useMemo(
    () => ({
      users: users.data?.items.map((u) => ({ id: u.id, label: `${u.displayName || u.email} <${u.email}>${u.deactivated ? " (deactivated)" : ""}` })),
      groups: groups.data?.items.map((g) => ({ id: g.id, label: g.name })),
      connectors: connectors.data?.items.map((c) => c.name),
      cut: { users: users.data?.complete === false, groups: groups.data?.complete === false, connectors: connectors.data?.complete === false },
    }),
    [users.data, groups.data, connectors.data],
  );
}

function ProblemList({ problems, draft, onSelect }: { problems: Placed[]; draft: WorkflowDraft; onSelect: (s: Selection) => void }) {
  if (problems.length === 0) return null;
  return (
    <section className="card problems" aria-labelledby="problems-title">
      <h2 id="problems-title">
        {problems.length} problem{problems.length === 1 ? "" : "s"}
      </h2>
      <ol id="problem-list">
        {problems.map((p, i) => (
          <li key={i}>
            <button type="button" className="linkish" data-path={p.path} onClick={() => onSelect(p.target)}>
              <strong>{targetName(draft, p.target)}</strong>
              {p.sub && (
                <>
                  {" "}
                  <code>{p.sub}</code>
                </>
              )}
              : {p.message}
            </button>
          </li>
        ))}
      </ol>
    </section>
  );
}

// ---------------------------------------------------------------------------------------------
// The editor

type Check = { state: "checking" } | { state: "done"; problems: Placed[] } | { state: "failed"; error: unknown };

function Editor({ workflowId }: { workflowId: string }) {
  const transport = useTransport();
  const client = useMemo(() => createClient(WorkflowDesignService, transport), [transport]);
  const qc = useQueryClient();
  const directory = useDirectory();
  const got = useQuery(WorkflowDesignService.method.getWorkflow, { workflowId }, { refetchOnWindowFocus: false, staleTime: Infinity });

  const [saved, setSaved] = useState<Workflow>();
  const [draft, setDraft] = useState<WorkflowDraft>();
  const [selection, setSelection] = useState<Selection>({ kind: "workflow" });
  const [check, setCheck] = useState<Check>({ state: "checking" });
  const [saveError, setSaveError] = useState<unknown>();
  const [conflict, setConflict] = useState(false);
  const [note, setNote] = useState<string>();
  const [published, setPublished] = useState<number>();
  const [busy, setBusy] = useState<"save" | "publish">();
  const [checking, setChecking] = useState(true);
  // The draft the shown check is of: until it is the current one, the status is busy (the
  // check of an edit is debounced, so the effect that marks it checking runs after the edit
  // is on screen).
  const [checkedDraft, setCheckedDraft] = useState<unknown>();

  // The workflow as read: the start of editing (and again after a reload).
  useEffect(() => {
    if (got.data?.workflow && (!saved || got.data.workflow.revision !== saved.revision)) {
      setSaved(got.data.workflow);
      setDraft(got.data.workflow.draft);
    }
    // Only a newly read workflow resets the editor.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [got.data]);

  // Live validation, debounced.
  const seq = useRef(0);
  useEffect(() => {
    if (!draft) return;
    const n = ++seq.current;
    setCheck((c) => (c.state === "done" ? c : { state: "checking" }));
    setChecking(true);
    const timer = window.setTimeout(() => {
      client
        .validateWorkflow({ workflow: draft })
        .then((res) => {
          if (n !== seq.current) return;
          setCheck({ state: "done", problems: res.problems.map(place) });
          setCheckedDraft(draft);
          setChecking(false);
        })
        .catch((err: unknown) => {
          if (n !== seq.current) return;
          setCheckedDraft(draft);
          setChecking(false);
          const ps: Problem[] = validationProblems(ConnectError.from(err));
          if (ConnectError.from(err).code === Code.InvalidArgument && ps.length > 0) setCheck({ state: "done", problems: ps.map(place) });
          else setCheck({ state: "failed", error: err });
        });
    }, 300);
    return () => window.clearTimeout(timer);
  }, [draft, client]);

  // Unsaved changes: leaving asks first.
  const dirty = draft !== undefined && saved !== undefined && !equals(WorkflowDraftSchema, draft, saved.draft ?? minimalDraft(""));
  useLeaveGuard(dirty, "This workflow has unsaved changes. Leave it and lose them?");

  if (got.error) {
    return (
      <Page title="Designer">
        <ErrorNote error={got.error} title="The workflow could not be read" />
        <p>
          <Link to="/designer">Back to the workflows</Link>
        </p>
      </Page>
    );
  }
  if (!draft || !saved) {
    return (
      <Page title="Designer">
        <Loading what="the workflow" />
      </Page>
    );
  }

  const problems = check.state === "done" ? check.problems : [];
  const change = (fn: (c: WorkflowDraft) => void) => {
    setDraft((d) => (d ? edit(d, fn) : d));
    setNote(undefined);
    setSaveError(undefined);
    setPublished(undefined);
  };
  const replace = (d: WorkflowDraft, sel?: Selection) => {
    setDraft(d);
    if (sel) setSelection(sel);
    setNote(undefined);
    setSaveError(undefined);
    setPublished(undefined);
  };

  const saveDraft = async (): Promise<Workflow | undefined> => {
    setSaveError(undefined);
    setConflict(false);
    try {
      const res = await client.updateWorkflow({ workflowId, workflow: draft, expectedRevision: saved.revision });
      const wf = res.workflow!;
      setSaved(wf);
      setDraft(wf.draft);
      void qc.invalidateQueries();
      return wf;
    } catch (err) {
      const ce = ConnectError.from(err);
      if (ce.code === Code.Aborted) setConflict(true);
      else setSaveError(err);
      return undefined;
    }
  };
  const onSave = async () => {
    setBusy("save");
    const wf = await saveDraft();
    setBusy(undefined);
    if (wf) setNote(`Saved: the draft is at revision ${wf.revision}.`);
  };
  const onPublish = async () => {
    setBusy("publish");
    setNote(undefined);
    let wf: Workflow | undefined = saved;
    if (dirty) wf = await saveDraft();
    if (wf) {
      try {
        const res = await client.publishWorkflow({ workflowId, expectedRevision: wf.revision });
        const n = res.version?.version ?? 0;
        setPublished(n);
        setSaved((w) => (w ? Object.assign(clone(WorkflowSchema, w), { latestVersion: Math.max(w.latestVersion, n) }) : w));
        void qc.invalidateQueries();
      } catch (err) {
        if (ConnectError.from(err).code === Code.Aborted) setConflict(true);
        else setSaveError(err);
      }
    }
    setBusy(undefined);
  };
  const reload = async () => {
    setConflict(false);
    setSaveError(undefined);
    const res = await client.getWorkflow({ workflowId });
    if (res.workflow) {
      setSaved(res.workflow);
      setDraft(res.workflow.draft);
      setSelection({ kind: "workflow" });
      setNote(`Reloaded revision ${res.workflow.revision}.`);
    }
  };

  const selectedStateKey = selection.kind === "state" ? draft.states[selection.index]?.key : undefined;
  const status =
    check.state === "checking"
      ? "Checking…"
      : check.state === "failed"
        ? "Could not check"
        : problems.length === 0
          ? "No problems"
          : `${problems.length} problem${problems.length === 1 ? "" : "s"}`;

  return (
    <Page
      title={`Designer: ${saved.draft?.name || "workflow"}`}
      actions={
        <>
          {dirty && (
            <span className="badge waiting" id="unsaved">
              Unsaved changes
            </span>
          )}
          <button type="button" id="save-draft" onClick={onSave} disabled={busy !== undefined || !dirty}>
            {busy === "save" ? "Saving…" : "Save draft"}
          </button>
          <button type="button" id="publish" className="primary" onClick={onPublish} disabled={busy !== undefined || problems.length > 0 || check.state !== "done"}>
            {busy === "publish" ? "Publishing…" : dirty ? "Save and publish" : "Publish"}
          </button>
        </>
      }
    >
      <p className="muted crumbs">
        <Link to="/designer">All workflows</Link> · revision {String(saved.revision)} ·{" "}
        {saved.latestVersion > 0 ? `latest version ${saved.latestVersion}` : "never published"}
        {saved.archived && (
          <>
            {" "}
            · <Badge tone="cancelled">Archived</Badge>
          </>
        )}
      </p>
      {conflict && (
        <div className="error" role="alert" id="save-conflict">
          <strong>Someone else saved this workflow since you opened it.</strong>
          <p>
            Your changes were made to revision {String(saved.revision)}, which is no longer the latest. Reload to see their version (your
            unsaved changes are then lost), or keep editing and copy what you need first.
          </p>
          <button type="button" id="reload" onClick={() => void reload()}>
            Reload the latest revision
          </button>
        </div>
      )}
      <ErrorNote error={saveError} title="The draft was not saved" />
      {note && (
        <p className="success" role="status" id="save-result">
          {note}
        </p>
      )}
      {published !== undefined && (
        <p className="success" role="status" id="publish-result">
          Published version {published}.{" "}
          <Link to={`/designer/${workflowId}/versions/${published}`}>View version {published}</Link>
        </p>
      )}

      <div className="designer-toolbar" role="toolbar" aria-label="Draft">
        <button type="button" id="select-workflow" aria-pressed={selection.kind === "workflow"} onClick={() => setSelection({ kind: "workflow" })}>
          Workflow settings
        </button>
        <button
          type="button"
          id="add-state"
          disabled={busy !== undefined}
          onClick={() => {
            const d = addState(draft);
            replace(d, { kind: "state", index: d.states.length - 1 });
          }}
        >
          Add state
        </button>
        <button
          type="button"
          id="add-transition"
          disabled={busy !== undefined}
          onClick={() => {
            const d = addTransition(draft, selectedStateKey ?? draft.states[0]?.key ?? "");
            replace(d, { kind: "transition", index: d.transitions.length - 1 });
          }}
        >
          Add transition{selectedStateKey ? ` from ${selectedStateKey}` : ""}
        </button>
        <span className={`validation ${check.state === "done" && problems.length === 0 ? "ok" : problems.length > 0 ? "bad" : ""}`} id="validation-status" role="status" aria-busy={checking || checkedDraft !== draft}>
          {status}
        </span>
      </div>
      {check.state === "failed" && <ErrorNote error={check.error} title="The draft could not be checked" />}

      <div className="designer-layout">
        <div>
          <Graph
            states={draft.states}
            transitions={draft.transitions}
            selection={selection}
            problems={problems}
            onSelect={setSelection}
            label="Workflow graph: states and transitions"
          />
          <ProblemList problems={problems} draft={draft} onSelect={setSelection} />
        </div>
        <Panel
          draft={draft}
          selection={selection}
          problems={problems}
          readOnly={false}
          // While a save or publish runs the draft is not edited: what it answers replaces it.
          busy={busy !== undefined}
          directory={directory}
          onChange={change}
          onRemoveState={(i) => replace(removeState(draft, i), { kind: "workflow" })}
          onRemoveTransition={(i) =>
            replace(
              edit(draft, (c) => c.transitions.splice(i, 1)),
              { kind: "workflow" },
            )
          }
        />
      </div>

      <Versions workflowId={workflowId} />
    </Page>
  );
}

/** The published versions, newest first, a page at a time: "Older versions" reads the next. */
function Versions({ workflowId }: { workflowId: string }) {
  const versions = useInfiniteQuery(
    WorkflowDesignService.method.listWorkflowVersions,
    { workflowId, pageSize: 20, pageToken: "" },
    { pageParamKey: "pageToken", getNextPageParam: (last) => last.nextPageToken || undefined },
  );
  const list = versions.data?.pages.flatMap((p) => p.versions);
  return (
    <section aria-labelledby="versions-title" className="versions">
      <h2 id="versions-title">Versions</h2>
      <ErrorNote error={versions.error} title="The versions could not be listed" />
      {versions.isPending && <Loading what="versions" />}
      {list && list.length === 0 && <p className="muted">Never published.</p>}
      {list && list.length > 0 && (
        <div className="table-wrap">
          <table id="version-table">
            <thead>
              <tr>
                <th scope="col">Version</th>
                <th scope="col">Name</th>
                <th scope="col">From revision</th>
                <th scope="col">Published</th>
              </tr>
            </thead>
            <tbody>
              {list.map((v) => (
                <tr key={v.version}>
                  <td>
                    <Link to={`/designer/${workflowId}/versions/${v.version}`}>Version {v.version}</Link>
                  </td>
                  <td>{v.name}</td>
                  <td>{String(v.revision)}</td>
                  <td>
                    <Time ts={v.publishedAt} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {versions.hasNextPage && (
        <button type="button" id="older-versions" onClick={() => void versions.fetchNextPage()} disabled={versions.isFetchingNextPage}>
          {versions.isFetchingNextPage ? "Loading…" : "Older versions"}
        </button>
      )}
    </section>
  );
}

// ---------------------------------------------------------------------------------------------
// A published version, read-only

function VersionView({ workflowId, version }: { workflowId: string; version: number }) {
  const v = useQuery(WorkflowDesignService.method.getWorkflowVersion, { workflowId, version });
  const directory = useDirectory();
  const [selection, setSelection] = useState<Selection>({ kind: "workflow" });
  const data = v.data?.version;
  const draft = useMemo(
    () => (data ? edit(minimalDraft(data.name), (c) => Object.assign(c, { name: data.name, description: data.description, states: data.states, transitions: data.transitions })) : undefined),
    [data],
  );
  return (
    <Page title={data ? `${data.name}: version ${data.version}` : `Version ${version}`} actions={<Link to={`/designer/${workflowId}`} className="button">Edit the draft</Link>}>
      <p className="muted crumbs">
        <Link to="/designer">All workflows</Link> · published <Time ts={data?.publishedAt} /> from revision {data ? String(data.revision) : "—"}
      </p>
      <p className="notice" id="read-only-note">
        A published version is read-only. Edit the draft and publish again to make a new version.
      </p>
      <ErrorNote error={v.error} title="The version could not be read" />
      {v.isPending && <Loading what="the version" />}
      {data && draft && (
        <div className="designer-layout">
          <Graph
            states={draft.states}
            transitions={draft.transitions}
            selection={selection}
            problems={[]}
            onSelect={setSelection}
            label={`Graph of version ${data.version}: states and transitions`}
          />
          <Panel
            draft={draft}
            selection={selection}
            problems={[]}
            readOnly
            directory={directory}
            onChange={() => undefined}
            actions={data.transitions.map((t) => t.actions.map((a) => a.kind))}
          />
        </div>
      )}
      <Versions workflowId={workflowId} />
    </Page>
  );
}
