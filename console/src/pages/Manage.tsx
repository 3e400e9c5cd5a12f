// Workflow Manage (admin): every instance, filtered (kept in the URL so a view can be shared),
// counted per status, paged; several open or FAILED ones cancelled at once with one reason; a
// FAILED one retried.
// An instance waiting on an outside system says which system and item it waits on, never a
// person: nobody's work until the system answers.
import { keepPreviousData, useQueryClient } from "@tanstack/react-query";
import { useMutation, useQuery } from "@connectrpc/connect-query";
import {
  InstanceStatus,
  Provider,
  timestampDate,
  timestampFromDate,
  type Instance,
  type MessageInitShape,
  type InstanceFilterSchema,
} from "@flowhook/sdk";
import { useEffect, useMemo, useState, type FormEvent } from "react";
import { AllNote, useAll } from "../all";
import { IdentityService, WorkflowDesignService, WorkflowInstanceService } from "../api";
import { Link } from "../router";
import { enumLabel, ErrorNote, Loading, Page, Pager, providerName, StatusBadge, Time, usePaging } from "../ui";
import { errText, SystemSelect, TextFilter, useQueryFilters } from "./admin/common";
import { cancellable, open as openInstance } from "./instance/AdminActions";

const STATUSES = [
  InstanceStatus.ACTIVE,
  InstanceStatus.WAITING_EXTERNAL,
  InstanceStatus.FAILED,
  InstanceStatus.COMPLETED,
  InstanceStatus.CANCELLED,
] as const;
const PAGE_SIZES = [10, 25, 50, 100];
const POLL_MS = 5_000;

/** An enum value from its name in the URL ("FAILED"), or 0. */
function enumFrom<E extends Record<string, string | number>>(e: E, name: string): number {
  const v = e[name as keyof E];
  return typeof v === "number" ? v : 0;
}

/** A Date that moves on every ms (for "overdue now" filters that follow the clock). */
function useNow(ms: number, on: boolean): Date {
  const [now, setNow] = useState(() => new Date());
  useEffect(() => {
    if (!on) return;
    setNow(new Date());
    const t = setInterval(() => setNow(new Date()), ms);
    return () => clearInterval(t);
  }, [ms, on]);
  return now;
}

export function Manage() {
  const q = useQueryFilters();
  const f = {
    workflow: q.get("workflow"),
    state: q.get("state"),
    status: q.get("status"),
    provider: q.get("provider"),
    connector: q.get("connector"),
    external: q.get("external"),
    overdue: q.get("overdue") === "1",
    inactive: q.get("inactive") === "1",
  };
  const size = PAGE_SIZES.includes(Number(q.get("size"))) ? Number(q.get("size")) : 25;
  const filterKey = JSON.stringify({ ...f, size });

  // Page tokens are bound to the whole filter, overdue_before included: the first page follows
  // the clock, and the time it was read at is kept (asOf) for the pages after it.
  const [paging, setPaging] = useState<{ key: string; tokens: string[]; asOf?: number }>({ key: filterKey, tokens: [""] });
  const paged = paging.key === filterKey ? paging : { key: filterKey, tokens: [""], asOf: undefined };
  const clock = useNow(POLL_MS, f.overdue && paged.asOf === undefined);
  const now = paged.asOf !== undefined ? new Date(paged.asOf) : clock;
  const pg = usePaging(paged.tokens, (t) => setPaging({ key: filterKey, tokens: t, asOf: t.length > 1 ? (paged.asOf ?? now.getTime()) : undefined }));

  // The filter without its status: the counts per status use it with each status.
  const base: MessageInitShape<typeof InstanceFilterSchema> = {
    workflowId: f.workflow,
    stateKey: f.state,
    provider: enumFrom(Provider, f.provider),
    connector: f.provider === "CONNECTOR" ? f.connector : "",
    externalId: f.external,
    assigneeInactive: f.inactive,
    overdueBefore: f.overdue ? timestampFromDate(now) : undefined,
  };
  const filter = { ...base, status: enumFrom(InstanceStatus, f.status) };

  const list = useQuery(
    WorkflowInstanceService.method.listInstances,
    { filter, pageSize: size, pageToken: pg.token },
    { refetchInterval: POLL_MS, placeholderData: keepPreviousData },
  );
  const workflows = useAll(WorkflowDesignService.method.listWorkflows, { includeArchived: true }, (r) => r.workflows);
  const users = useAll(IdentityService.method.listUsers, {}, (r) => r.users, { staleTime: 60_000 });
  const groups = useAll(IdentityService.method.listGroups, {}, (r) => r.groups, { staleTime: 60_000 });
  const names = useMemo(() => {
    const m = new Map<string, string>();
    for (const u of users.data?.items ?? []) m.set("u:" + u.id, (u.displayName || u.email) + (u.deactivated ? " (deactivated)" : ""));
    for (const g of groups.data?.items ?? []) m.set("g:" + g.id, g.name);
    return m;
  }, [users.data, groups.data]);

  // While the list of a changed filter loads, the page shown is the previous filter's: its token
  // is not for this filter.
  const nextToken = list.isPlaceholderData ? undefined : list.data?.nextPageToken;

  const [selected, setSelected] = useState<Set<string>>(new Set());
  const instances = list.data?.instances ?? [];
  const selectable = instances.filter(cancellable);
  const allOn = selectable.length > 0 && selectable.every((i) => selected.has(i.id));
  const toggle = (id: string, on: boolean) => {
    const s = new Set(selected);
    if (on) s.add(id);
    else s.delete(id);
    setSelected(s);
  };

  const onFilter = (changes: Record<string, string>) => q.set(changes);
  const clear = () =>
    q.set({ workflow: "", state: "", status: "", provider: "", connector: "", external: "", overdue: "", inactive: "" });

  return (
    <Page title="Workflow Manage">
      <Counts base={base} current={f.status} onPick={(s) => onFilter({ status: s })} />
      <form className="filters admin-filters card" aria-label="Filters" onSubmit={(e) => e.preventDefault()}>
        <div className="field">
          <label htmlFor="f-workflow">Workflow</label>
          <select id="f-workflow" value={f.workflow} onChange={(e) => onFilter({ workflow: e.target.value })}>
            <option value="">All workflows</option>
            {(workflows.data?.items ?? []).map((w) => (
              <option key={w.id} value={w.id}>
                {w.draft?.name || w.id}
                {w.archived ? " (archived)" : ""}
              </option>
            ))}
          </select>
        </div>
        <div className="field">
          <label htmlFor="f-status">Status</label>
          <select id="f-status" value={f.status} onChange={(e) => onFilter({ status: e.target.value })}>
            <option value="">Any status</option>
            {STATUSES.map((s) => (
              <option key={s} value={InstanceStatus[s]}>
                {enumLabel(InstanceStatus, s)}
              </option>
            ))}
          </select>
        </div>
        <SystemSelect
          id="f-provider"
          label="Outside system"
          provider={f.provider}
          connector={f.connector}
          onChange={(provider, connector) => onFilter({ provider, connector })}
        />
        <TextFilter id="f-state" label="State key" value={f.state} onCommit={(v) => onFilter({ state: v })} />
        <TextFilter id="f-external" label="External id" value={f.external} onCommit={(v) => onFilter({ external: v })} />
        <div className="field check">
          <input id="f-overdue" type="checkbox" checked={f.overdue} onChange={(e) => onFilter({ overdue: e.target.checked ? "1" : "" })} />
          <label htmlFor="f-overdue">Overdue</label>
        </div>
        <div className="field check">
          <input
            id="f-inactive"
            type="checkbox"
            checked={f.inactive}
            onChange={(e) => onFilter({ inactive: e.target.checked ? "1" : "" })}
          />
          <label htmlFor="f-inactive">Assignee deactivated</label>
        </div>
        <div className="field">
          <label htmlFor="f-size">Per page</label>
          <select id="f-size" value={String(size)} onChange={(e) => onFilter({ size: e.target.value === "25" ? "" : e.target.value })}>
            {PAGE_SIZES.map((n) => (
              <option key={n} value={n}>
                {n}
              </option>
            ))}
          </select>
        </div>
        <button type="button" onClick={clear}>
          Clear filters
        </button>
      </form>
      <AllNote list={workflows} what="workflows" rest="flowhook has more, which the Workflow filter does not offer" />
      <AllNote list={users} what="users" rest="flowhook has more, shown by their ids" />
      <AllNote list={groups} what="groups" rest="flowhook has more, shown by their ids" />

      <BulkCancel
        ids={[...selected].filter((id) => instances.some((i) => i.id === id && cancellable(i)))}
        onDone={() => setSelected(new Set())}
      />

      <ErrorNote error={list.error} title="The instances could not be listed" />
      {list.isPending ? (
        <Loading what="instances" />
      ) : (
        <>
          <p className="muted" role="status" id="manage-total">
            {list.data?.totalSizeEstimated ? "about " : ""}
            {String(list.data?.totalSize ?? 0n)} instance{list.data?.totalSize === 1n ? "" : "s"} match
            {list.isFetching ? " · refreshing…" : ""}
          </p>
          {instances.length === 0 ? (
            <p id="manage-empty">No instance matches these filters.</p>
          ) : (
            <div className="table-wrap">
              <table id="manage-table">
                <caption className="muted visually-hidden">Instances</caption>
                <thead>
                  <tr>
                    <th scope="col" className="check">
                      <input
                        type="checkbox"
                        aria-label="Select every cancellable instance on this page"
                        checked={allOn}
                        disabled={selectable.length === 0}
                        onChange={(e) => setSelected(e.target.checked ? new Set(selectable.map((i) => i.id)) : new Set())}
                      />
                    </th>
                    <th scope="col">Instance</th>
                    <th scope="col">State</th>
                    <th scope="col">Status</th>
                    <th scope="col">Assignee or outside system</th>
                    <th scope="col">Deadline</th>
                    <th scope="col">Updated</th>
                    <th scope="col">Actions</th>
                  </tr>
                </thead>
                <tbody>
                  {instances.map((i) => (
                    <Row key={i.id} i={i} names={names} selected={selected.has(i.id)} onToggle={(on) => toggle(i.id, on)} />
                  ))}
                </tbody>
              </table>
            </div>
          )}
          <Pager
            page={pg.page}
            next={nextToken}
            onNext={() => pg.next(nextToken ?? "")}
            onFirst={pg.first}
            total={list.data?.totalSize}
            estimated={list.data?.totalSizeEstimated}
          />
        </>
      )}
    </Page>
  );
}

/** Instances per status under the other filters; a click filters by that status. */
function Counts({ base, current, onPick }: { base: MessageInitShape<typeof InstanceFilterSchema>; current: string; onPick: (s: string) => void }) {
  return (
    <nav aria-label="Instances per status">
      <ul className="counts">
        <li>
          <a
            href="#"
            id="count-ALL"
            aria-current={current === "" ? "true" : undefined}
            onClick={(e) => {
              e.preventDefault();
              onPick("");
            }}
          >
            All <CountOf filter={base} />
          </a>
        </li>
        {STATUSES.map((s) => (
          <li key={s}>
            <a
              href="#"
              id={`count-${InstanceStatus[s]}`}
              aria-current={current === InstanceStatus[s] ? "true" : undefined}
              onClick={(e) => {
                e.preventDefault();
                onPick(InstanceStatus[s]);
              }}
            >
              {enumLabel(InstanceStatus, s)} <CountOf filter={{ ...base, status: s }} />
            </a>
          </li>
        ))}
      </ul>
    </nav>
  );
}

function CountOf({ filter }: { filter: MessageInitShape<typeof InstanceFilterSchema> }) {
  const c = useQuery(WorkflowInstanceService.method.listInstances, { filter, pageSize: 1 }, { refetchInterval: POLL_MS, placeholderData: keepPreviousData });
  if (c.error) return <span className="n" title={String(c.error)}>?</span>;
  if (!c.data) return <span className="n">…</span>;
  return (
    <span className="n" title={c.data.totalSizeEstimated ? "an estimate: more than 10,000 match" : undefined}>
      {c.data.totalSizeEstimated ? "~" : ""}
      {String(c.data.totalSize)}
    </span>
  );
}

function assigneeText(i: Instance, names: Map<string, string>): string {
  const a = i.assignee?.assignee;
  if (!a || a.case === undefined) return "—";
  if (a.case === "userId") return names.get("u:" + a.value) ?? `user ${a.value}`;
  return "group " + (names.get("g:" + a.value) ?? a.value);
}

function Row({ i, names, selected, onToggle }: { i: Instance; names: Map<string, string>; selected: boolean; onToggle: (on: boolean) => void }) {
  const short = i.id.slice(-8);
  const waiting = i.status === InstanceStatus.WAITING_EXTERNAL;
  const overdue = i.deadline && timestampDate(i.deadline).getTime() < Date.now() && openInstance(i);
  return (
    <tr id={`row-${i.id}`} data-status={InstanceStatus[i.status]}>
      <td className="check">
        <input
          type="checkbox"
          id={`select-${i.id}`}
          aria-label={`Select instance ${short} of ${i.workflowName || "its workflow"}`}
          checked={selected}
          disabled={!cancellable(i)}
          onChange={(e) => onToggle(e.target.checked)}
        />
      </td>
      <td>
        <Link to={`/instances/${i.id}`}>{i.workflowName || "Instance"}</Link>
        <div className="muted">
          <code>{short}</code> · v{i.version} · started <Time ts={i.createdAt} relative />
        </div>
      </td>
      <td>
        <code>{i.stateKey}</code>
      </td>
      <td>
        <StatusBadge status={i.status} />
        {i.status === InstanceStatus.FAILED && i.reason && <div className="problem">{i.reason}</div>}
      </td>
      <td className="who">
        {waiting ? (
          <WaitingOn i={i} />
        ) : i.status === InstanceStatus.ACTIVE ? (
          <span data-assignee="true">{assigneeText(i, names)}</span>
        ) : (
          <span className="muted">—</span>
        )}
      </td>
      <td>
        {i.deadline ? (
          <>
            <Time ts={i.deadline} relative /> {overdue && <span className="badge failed">Overdue</span>}
          </>
        ) : (
          <span className="muted">—</span>
        )}
      </td>
      <td>
        <Time ts={i.updatedAt} relative />
      </td>
      <td>{i.status === InstanceStatus.FAILED && <RetryButton i={i} />}</td>
    </tr>
  );
}

/**
 * What a waiting instance waits on: the system and its item. ListInstances does not carry the
 * work item, so each waiting row reads its instance (GetInstance) for the external id.
 */
function WaitingOn({ i }: { i: Instance }) {
  const full = useQuery(WorkflowInstanceService.method.getInstance, { instanceId: i.id }, { staleTime: 30_000, enabled: !i.workItem });
  const wi = i.workItem ?? full.data?.instance?.workItem;
  const provider = wi?.provider || i.provider;
  const connector = wi?.connector || i.connector;
  return (
    <span className="waiting-on" data-waiting="true">
      Waiting on {providerName(provider, connector)}
      {wi?.externalId ? (
        <>
          {" "}
          · <code>{wi.externalId}</code>
        </>
      ) : full.isPending && !i.workItem ? (
        ""
      ) : (
        " · item being created"
      )}
    </span>
  );
}

function RetryButton({ i }: { i: Instance }) {
  const qc = useQueryClient();
  const m = useMutation(WorkflowInstanceService.method.retryInstance, { onSuccess: () => qc.invalidateQueries() });
  return (
    <div>
      <button type="button" id={`retry-${i.id}`} onClick={() => m.mutate({ instanceId: i.id })} disabled={m.isPending}>
        {m.isPending ? "Retrying…" : "Retry"}
      </button>
      {m.isSuccess && (
        <p className="success" role="status">
          Retried: now {enumLabel(InstanceStatus, m.data.instance?.status ?? 0)}
        </p>
      )}
      <ErrorNote error={m.error} title="Retry failed" />
    </div>
  );
}

type Result = { id: string; ok: boolean; text: string };

function BulkCancel({ ids, onDone }: { ids: string[]; onDone: () => void }) {
  const qc = useQueryClient();
  const m = useMutation(WorkflowInstanceService.method.cancelInstance);
  const [confirming, setConfirming] = useState(false);
  const [reason, setReason] = useState("");
  const [busy, setBusy] = useState(false);
  const [results, setResults] = useState<Result[] | undefined>();

  const run = async (e: FormEvent) => {
    e.preventDefault();
    if (reason.trim() === "" || ids.length === 0) return;
    setBusy(true);
    const out: Result[] = [];
    for (const id of ids) {
      try {
        const r = await m.mutateAsync({ instanceId: id, reason: reason.trim() });
        out.push({ id, ok: true, text: enumLabel(InstanceStatus, r.instance?.status ?? 0) });
      } catch (err) {
        out.push({ id, ok: false, text: errText(err) });
      }
    }
    setResults(out);
    setBusy(false);
    setConfirming(false);
    setReason("");
    onDone();
    await qc.invalidateQueries();
  };
  const failed = results?.filter((r) => !r.ok) ?? [];
  return (
    <section aria-labelledby="bulk-title">
      <h2 id="bulk-title" className="visually-hidden">
        Cancel instances
      </h2>
      <div className="bulk">
        <span>{ids.length === 0 ? "Select instances to cancel several at once." : `${ids.length} selected`}</span>
        <button type="button" id="cancel-selected" className="danger" disabled={ids.length === 0 || confirming} onClick={() => setConfirming(true)}>
          Cancel selected
        </button>
      </div>
      {confirming && (
        <form className="card" onSubmit={run} aria-label="Confirm cancellation">
          <p>
            Cancel {ids.length} instance{ids.length === 1 ? "" : "s"}? Work items waiting at outside systems are voided there. This
            cannot be undone.
          </p>
          <div className="field">
            <label htmlFor="cancel-reason">Reason (recorded on each instance's timeline)</label>
            <textarea id="cancel-reason" value={reason} onChange={(e) => setReason(e.target.value)} required maxLength={4000} />
          </div>
          <div className="row-actions">
            <button type="submit" id="confirm-cancel" className="danger" disabled={busy || reason.trim() === ""}>
              {busy ? "Cancelling…" : `Cancel ${ids.length} instance${ids.length === 1 ? "" : "s"}`}
            </button>
            <button type="button" onClick={() => setConfirming(false)} disabled={busy}>
              Keep them
            </button>
          </div>
        </form>
      )}
      {results && (
        <div id="cancel-results" className={failed.length ? "error" : "success"} role="status">
          <strong>
            {results.length - failed.length} of {results.length} cancelled
            {failed.length ? `; ${failed.length} failed` : ""}.
          </strong>
          <ul className="results">
            {results.map((r) => (
              <li key={r.id} data-ok={r.ok ? "true" : "false"}>
                <Link to={`/instances/${r.id}`}>
                  <code>{r.id.slice(-8)}</code>
                </Link>
                : {r.ok ? r.text : `failed: ${r.text}`}
              </li>
            ))}
          </ul>
          <button type="button" onClick={() => setResults(undefined)}>
            Dismiss
          </button>
        </div>
      )}
    </section>
  );
}

