// Form Activity (/instances/:id): one instance — where it is, who acts, its form data, the work
// item at the outside system, its timeline, the webhooks that moved it (admins), the signed
// document; acting on it (the HUMAN state's transitions; cancel and retry for admins, cancel for
// the user who started it); live while open: polled every 2 s until it is completed or cancelled.
import { createConnectQueryKey, useQuery } from "@connectrpc/connect-query";
import { createClient } from "@connectrpc/connect";
import { Code, ConnectError, InstanceStatus, Outcome, Verdict, type ActivityEntry, type Instance } from "@flowhook/sdk";
import { keepPreviousData, useQuery as useTanstackQuery, useQueryClient } from "@tanstack/react-query";
import { useEffect, useState } from "react";
import { EventLogService, transport, WorkflowDesignService, WorkflowInstanceService } from "../api";
import { traceUrl } from "../prefs";
import { Link } from "../router";
import { useSession } from "../session";
import { enumLabel, ErrorNote, Loading, Page, providerName, StatusBadge, Time } from "../ui";
import { ActionPanel } from "./instance/ActionPanel";
import { AdminActions, StarterActions } from "./instance/AdminActions";
import { useNames } from "./instance/names";
import { SandboxPanel } from "./instance/SandboxPanel";
import { SignedDocument } from "./instance/SignedDocument";
import { formValue, namer, Timeline } from "./instance/timeline";
import { isFinal, Overdue } from "./instance/when";
import "./instance/instance.css";

const POLL_MS = 2000;
const instances = createClient(WorkflowInstanceService, transport);

async function allActivity(id: string, signal: AbortSignal): Promise<ActivityEntry[]> {
  const out: ActivityEntry[] = [];
  let token = "";
  do {
    const res = await instances.listActivity({ instanceId: id, pageSize: 200, pageToken: token }, { signal });
    out.push(...res.entries);
    token = res.nextPageToken;
  } while (token !== "");
  return out;
}

export function InstancePage({ id }: { id: string }) {
  const s = useSession();
  const names = useNames();
  const qc = useQueryClient();
  // The last transition taken here: its note, a count (a new action panel for each), and the
  // instance as TakeTransition answered (newer than the one read until the page reads it again).
  const [taken, setTaken] = useState<{ text: string; n: number; instance: Instance } | undefined>();
  const inst = useQuery(
    WorkflowInstanceService.method.getInstance,
    { instanceId: id },
    { refetchInterval: (q) => (isFinal(q.state.data?.instance?.status) || q.state.error ? false : POLL_MS), retry: false },
  );
  const i = inst.data?.instance;
  const final = isFinal(i?.status);
  const version = useQuery(
    WorkflowDesignService.method.getWorkflowVersion,
    { workflowId: i?.workflowId ?? "", version: i?.version ?? 0 },
    { enabled: i !== undefined, staleTime: Infinity },
  );
  const activity = useTanstackQuery({
    queryKey: ["activity", id, i?.revision.toString() ?? "", i?.updatedAt?.seconds.toString() ?? ""],
    queryFn: ({ signal }) => allActivity(id, signal),
    enabled: i !== undefined,
    placeholderData: keepPreviousData,
    refetchInterval: final ? false : POLL_MS,
  });
  const events = useQuery(
    EventLogService.method.listEvents,
    { filter: { instanceId: id }, pageSize: 200 },
    { enabled: s.isAdmin && i !== undefined, refetchInterval: final ? false : POLL_MS },
  );

  // The webhooks that moved it arrive with each change: read them again when it changes (the
  // last change, to COMPLETED, included, after which nothing polls).
  const revision = i?.revision;
  const refetchEvents = events.refetch;
  useEffect(() => {
    if (s.isAdmin && revision !== undefined) void refetchEvents();
  }, [s.isAdmin, revision, refetchEvents]);

  const refresh = () => {
    void qc.invalidateQueries({ queryKey: createConnectQueryKey({ schema: WorkflowInstanceService.method.getInstance, cardinality: "finite", transport, input: { instanceId: id } }) });
    void qc.invalidateQueries({ queryKey: ["activity", id] });
    void qc.invalidateQueries({ queryKey: ["sandbox"] });
  };

  if (inst.isPending) {
    return (
      <Page title="Form Activity">
        <Loading what="the instance" />
      </Page>
    );
  }
  if (!i) {
    const code = inst.error ? ConnectError.from(inst.error).code : undefined;
    const title =
      code === Code.NotFound
        ? "There is no such instance"
        : code === Code.PermissionDenied
          ? "This instance is not yours to see"
          : code === Code.InvalidArgument
            ? "That is not an instance id"
            : "The instance could not be read";
    return (
      <Page title="Form Activity">
        <ErrorNote error={inst.error} title={title} />
        <p>
          <Link to="/inbox">Back to your inbox</Link>
        </p>
      </Page>
    );
  }

  const v = version.data?.version;
  const n = namer(v);
  // The action panel acts on the newest revision known: TakeTransition's answer until the
  // instance is read again (a transition back into the same state keeps the panel's state but
  // not its revision).
  const acting = taken && taken.instance.revision > i.revision ? taken.instance : i;
  const state = v?.states.find((x) => x.key === acting.stateKey);
  const canAct =
    acting.status === InstanceStatus.ACTIVE &&
    (s.isAdmin ||
      (acting.assignee?.assignee.case === "userId" && acting.assignee.assignee.value === s.user.id) ||
      (acting.assignee?.assignee.case === "groupId" && s.groupIds.includes(acting.assignee.assignee.value)));
  const wi = i.workItem;
  const formEntries = Object.entries(i.formData ?? {});

  return (
    <Page title="Form Activity" actions={<StatusBadge status={i.status} />}>
      {inst.error && <ErrorNote error={inst.error} title="The instance could not be refreshed" />}
      <div className="grid2 work">
        <div>
          <section className="card" aria-labelledby="instance-title">
            <h2 id="instance-title" className="instance-title">
              {i.workflowName || "Workflow"} <span className="muted">version {i.version}</span>
            </h2>
            <dl className="props" id="instance-props">
              <dt>Status</dt>
              <dd id="instance-status">
                <StatusBadge status={i.status} />
                {!final && (
                  <span className="muted live" aria-hidden="true">
                    {" "}
                    · live
                  </span>
                )}
              </dd>
              <dt>Current state</dt>
              <dd id="instance-state">{n.state(i.stateKey)}</dd>
              {i.assignee?.assignee.case && (
                <>
                  <dt>Assigned to</dt>
                  <dd>{names.assignee(i.assignee)}</dd>
                </>
              )}
              {i.deadline && (
                <>
                  <dt>Deadline</dt>
                  <dd>
                    <Time ts={i.deadline} /> <Overdue ts={i.deadline} />
                  </dd>
                </>
              )}
              <dt>Started by</dt>
              <dd>{names.user(i.startedBy)}</dd>
              <dt>Started</dt>
              <dd>
                <Time ts={i.createdAt} />
              </dd>
              <dt>Last change</dt>
              <dd>
                <Time ts={i.updatedAt} relative />
              </dd>
              {i.reason && (
                <>
                  <dt>{i.status === InstanceStatus.FAILED ? "Why it failed" : "Reason"}</dt>
                  <dd id="instance-reason">{i.reason}</dd>
                </>
              )}
              <dt>Instance id</dt>
              <dd>
                <code>{i.id}</code>
              </dd>
            </dl>
          </section>

          {taken && (
            <div className="success" role="status" id="take-result">
              {taken.text}
            </div>
          )}
          {canAct && (
            <section className="card" aria-labelledby="action-title" id="action-panel">
              <h2 id="action-title">Your action: {n.state(acting.stateKey)}</h2>
              {version.error && <ErrorNote error={version.error} title="The workflow version could not be read" />}
              {!v && !version.error && <Loading what="the form" />}
              {v && state && (
                <ActionPanel
                  key={`${acting.stateKey}:${taken?.n ?? 0}`}
                  instance={acting}
                  version={v}
                  onChanged={refresh}
                  reload={async () => {
                    refresh();
                    const r = await inst.refetch();
                    return r.data?.instance?.revision;
                  }}
                  onTaken={(now, name) =>
                    setTaken((t) => ({
                      n: (t?.n ?? 0) + 1,
                      instance: now,
                      text: `Done: “${name}” taken; the instance is now in ${n.state(now.stateKey)} (${enumLabel(InstanceStatus, now.status)}).`,
                    }))
                  }
                />
              )}
            </section>
          )}

          <section aria-labelledby="timeline-title" className="card">
            <h2 id="timeline-title">Timeline</h2>
            {activity.error && <ErrorNote error={activity.error} title="The timeline could not be read" />}
            {activity.data ? <Timeline entries={activity.data} names={names} version={v} /> : !activity.error && <Loading what="the timeline" />}
          </section>

          {s.isAdmin && (
            <section aria-labelledby="events-title" className="card" id="instance-events">
              <h2 id="events-title">Event Log: webhooks of this instance</h2>
              {events.error && <ErrorNote error={events.error} title="The Event Log could not be read" />}
              {events.isPending && !events.error && <Loading what="the events" />}
              {events.data && events.data.events.length === 0 && <p className="muted">No webhook has concerned this instance.</p>}
              {events.data && events.data.events.length > 0 && (
                <div className="table-wrap">
                  <table>
                    <caption className="sr-only">Webhooks received for this instance</caption>
                    <thead>
                      <tr>
                        <th scope="col">Received</th>
                        <th scope="col">Provider</th>
                        <th scope="col">Event</th>
                        <th scope="col">Verdict</th>
                        <th scope="col">Trace</th>
                      </tr>
                    </thead>
                    <tbody>
                      {events.data.events.map((e) => (
                        <tr key={e.id} data-event-id={e.id}>
                          <td>
                            <Time ts={e.receivedAt} />
                          </td>
                          <td>{providerName(e.provider, e.connector)}</td>
                          <td>
                            <Link to={`/events/${e.id}`}>
                              <code>{e.eventType || "(no event type)"}</code>
                            </Link>
                          </td>
                          <td>
                            <span className={`badge verdict-${Verdict[e.verdict]?.toLowerCase() ?? ""}`} title={e.verdictReason}>
                              {enumLabel(Verdict, e.verdict)}
                            </span>
                          </td>
                          <td>
                            {e.traceId ? (
                              <a href={traceUrl(e.traceId)} target="_blank" rel="noreferrer" aria-label={`Trace ${e.traceId} in Jaeger (opens a new tab)`}>
                                Jaeger
                              </a>
                            ) : (
                              <span className="muted">—</span>
                            )}
                          </td>
                        </tr>
                      ))}
                    </tbody>
                  </table>
                </div>
              )}
              {events.data && events.data.nextPageToken !== "" && (
                <p className="muted" id="instance-events-more">
                  The newest {events.data.events.length} are shown.{" "}
                  <Link to={`/events?instance=${encodeURIComponent(id)}`}>All of this instance's webhooks in the Event Log</Link>
                </p>
              )}
            </section>
          )}
        </div>

        <div>
          <SandboxPanel instance={i} onActed={refresh} />

          <section className="card" aria-labelledby="form-data-title">
            <h2 id="form-data-title">Form data</h2>
            {i.formDataErasedAt ? (
              <p className="notice" id="form-data-erased">
                Form data erased by retention on <Time ts={i.formDataErasedAt} />.
              </p>
            ) : formEntries.length === 0 ? (
              <p className="muted">No form data.</p>
            ) : (
              <dl className="props" id="form-data">
                {formEntries.map(([k, val]) => (
                  <FormDatum key={k} name={k} label={n.field(k)} value={formValue(val)} />
                ))}
              </dl>
            )}
          </section>

          {wi && (
            <section className="card" aria-labelledby="work-item-title" id="work-item">
              <h2 id="work-item-title">Work item at {providerName(wi.provider, wi.connector)}</h2>
              <dl className="props">
                <dt>Provider</dt>
                <dd>{providerName(wi.provider, wi.connector)}</dd>
                <dt>External id</dt>
                <dd id="work-item-external-id">{wi.externalId ? <code>{wi.externalId}</code> : <span className="muted">being created…</span>}</dd>
                <dt>Status</dt>
                <dd>{wi.status || "—"}</dd>
                <dt>Outcome</dt>
                <dd id="work-item-outcome">{wi.outcome === Outcome.UNSPECIFIED ? <span className="muted">none yet</span> : enumLabel(Outcome, wi.outcome)}</dd>
                <dt>Created</dt>
                <dd>
                  <Time ts={wi.createdAt} />
                </dd>
                <dt>Resolved</dt>
                <dd>
                  <Time ts={wi.resolvedAt} />
                </dd>
              </dl>
              <SignedDocument instance={i} />
            </section>
          )}

          {s.isAdmin ? (
            <AdminActions instance={i} onChanged={refresh} />
          ) : (
            i.startedBy === s.user.id && <StarterActions instance={i} onChanged={refresh} />
          )}
        </div>
      </div>
    </Page>
  );
}

function FormDatum({ name, label, value }: { name: string; label: string; value: string }) {
  return (
    <>
      <dt title={name}>{label}</dt>
      <dd data-field={name}>{value}</dd>
    </>
  );
}

