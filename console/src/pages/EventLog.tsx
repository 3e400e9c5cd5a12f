// The Event Log (admin): every notification the outside systems sent and what flowhook made of
// it, filtered (in the URL), paged and refreshed; a delivery's whole story — its steps with
// their traces, the verdict, the headers kept (anything that could authenticate masked) and the
// body —, replay, "reconcile now", and the Webhook Receiver debug switch.
import { keepPreviousData, useQueryClient } from "@tanstack/react-query";
import { useMutation, useQuery } from "@connectrpc/connect-query";
import {
  durationMs,
  EventStep,
  Provider,
  timestampFromDate,
  Verdict,
  type Duration,
  type Event as FlowEvent,
  type EventLogEntry,
} from "@flowhook/sdk";
import { useState, type FormEvent } from "react";
import { EventLogService } from "../api";
import { traceUrl } from "../prefs";
import { Link } from "../router";
import { Badge, enumLabel, ErrorNote, Loading, Page, Pager, providerName, Time, usePaging } from "../ui";
import { SystemSelect, TextFilter, useQueryFilters } from "./admin/common";
import { SecuritySettingsSection } from "./admin/Security";

const PROVIDERS = [Provider.DOCUSIGN, Provider.ONESPAN, Provider.CONNECTOR] as const;
const VERDICTS = [
  Verdict.APPLIED,
  Verdict.PROGRESS,
  Verdict.DUPLICATE,
  Verdict.STALE,
  Verdict.IGNORED,
  Verdict.REJECTED,
  Verdict.UNPARSEABLE,
  Verdict.PENDING,
  Verdict.ORPHANED,
] as const;

function enumFrom<E extends Record<string, string | number>>(e: E, name: string): number {
  const v = e[name as keyof E];
  return typeof v === "number" ? v : 0;
}

const VERDICT_TONE: Record<number, string> = {
  [Verdict.APPLIED]: "verdict-applied",
  [Verdict.PROGRESS]: "verdict-progress",
  [Verdict.DUPLICATE]: "",
  [Verdict.STALE]: "verdict-warn",
  [Verdict.IGNORED]: "",
  [Verdict.REJECTED]: "verdict-bad",
  [Verdict.UNPARSEABLE]: "verdict-bad",
  [Verdict.PENDING]: "verdict-warn",
  [Verdict.ORPHANED]: "verdict-warn",
};

export function VerdictBadge({ verdict }: { verdict: Verdict }) {
  return (
    <Badge tone={VERDICT_TONE[verdict]}>
      <span data-verdict={Verdict[verdict]}>{enumLabel(Verdict, verdict)}</span>
    </Badge>
  );
}

export function EventLog({ eventId }: { eventId?: string }) {
  if (eventId) return <EventDetail id={eventId} />;
  return <EventList />;
}

function EventList() {
  const q = useQueryFilters();
  const f = {
    provider: q.get("provider"),
    connector: q.get("connector"),
    verdict: q.get("verdict"),
    type: q.get("type"),
    external: q.get("external"),
    instance: q.get("instance"),
    since: q.get("since"),
  };
  const [auto, setAuto] = useState(true);
  const sinceDate = f.since ? new Date(f.since) : undefined;
  const sinceOk = sinceDate !== undefined && !Number.isNaN(sinceDate.getTime());
  const filter = {
    provider: enumFrom(Provider, f.provider),
    connector: f.provider === "CONNECTOR" ? f.connector : "",
    verdict: enumFrom(Verdict, f.verdict),
    eventType: f.type,
    externalId: f.external,
    instanceId: f.instance,
    since: sinceOk ? timestampFromDate(sinceDate) : undefined,
  };
  const filterKey = JSON.stringify(f);
  const [paging, setPaging] = useState<{ key: string; tokens: string[] }>({ key: filterKey, tokens: [""] });
  const tokens = paging.key === filterKey ? paging.tokens : [""];
  const pg = usePaging(tokens, (t) => setPaging({ key: filterKey, tokens: t }));
  const list = useQuery(
    EventLogService.method.listEvents,
    { filter, pageSize: 50, pageToken: pg.token },
    { refetchInterval: auto ? 5_000 : false, placeholderData: keepPreviousData },
  );
  const events = list.data?.events ?? [];
  return (
    <Page title="Event Log">
      <form className="filters admin-filters card" aria-label="Filters" onSubmit={(e) => e.preventDefault()}>
        <SystemSelect
          id="ef-provider"
          label="Provider"
          provider={f.provider}
          connector={f.connector}
          onChange={(provider, connector) => q.set({ provider, connector })}
        />
        <div className="field">
          <label htmlFor="ef-verdict">Verdict</label>
          <select id="ef-verdict" value={f.verdict} onChange={(e) => q.set({ verdict: e.target.value })}>
            <option value="">Any</option>
            {VERDICTS.map((v) => (
              <option key={v} value={Verdict[v]}>
                {enumLabel(Verdict, v)}
              </option>
            ))}
          </select>
        </div>
        <TextFilter id="ef-type" label="Event type" value={f.type} onCommit={(v) => q.set({ type: v })} />
        <TextFilter id="ef-external" label="External id" value={f.external} onCommit={(v) => q.set({ external: v })} />
        <TextFilter id="ef-instance" label="Instance id" value={f.instance} onCommit={(v) => q.set({ instance: v })} />
        <div className="field">
          <label htmlFor="ef-since">Received since</label>
          <input
            id="ef-since"
            type="datetime-local"
            value={f.since}
            onChange={(e) => q.set({ since: e.target.value })}
            aria-invalid={f.since !== "" && !sinceOk ? true : undefined}
          />
        </div>
        <button type="button" onClick={() => q.set({ provider: "", connector: "", verdict: "", type: "", external: "", instance: "", since: "" })}>
          Clear filters
        </button>
      </form>
      <div className="toolbar">
        <div className="field check">
          <input id="auto-refresh" type="checkbox" checked={auto} onChange={(e) => setAuto(e.target.checked)} />
          <label htmlFor="auto-refresh">Refresh every 5 seconds</label>
        </div>
        <button type="button" onClick={() => list.refetch()} disabled={list.isFetching}>
          {list.isFetching ? "Refreshing…" : "Refresh now"}
        </button>
        <span className="spacer" />
        <span className="muted" role="status" id="events-total">
          {list.data ? `${list.data.totalSizeEstimated ? "about " : ""}${String(list.data.totalSize)} notification${list.data.totalSize === 1n ? "" : "s"} match` : ""}
        </span>
      </div>
      <ErrorNote error={list.error} title="The Event Log could not be read" />
      {list.isPending ? (
        <Loading what="notifications" />
      ) : events.length === 0 ? (
        <p id="events-empty">No notification matches these filters.</p>
      ) : (
        <div className="table-wrap">
          <table id="events-table">
            <thead>
              <tr>
                <th scope="col">Received</th>
                <th scope="col">Provider</th>
                <th scope="col">Event type</th>
                <th scope="col">External id</th>
                <th scope="col">Verdict</th>
                <th scope="col">Instance</th>
                <th scope="col">Delivery</th>
              </tr>
            </thead>
            <tbody>
              {events.map((e) => (
                <EventRow key={e.id} e={e} />
              ))}
            </tbody>
          </table>
        </div>
      )}
      <Pager page={pg.page} next={list.data?.nextPageToken} onNext={() => pg.next(list.data?.nextPageToken ?? "")} onFirst={pg.first} total={list.data?.totalSize} estimated={list.data?.totalSizeEstimated} />
      <div className="side-by-side">
        <Reconcile />
        <SecuritySettingsSection />
      </div>
    </Page>
  );
}

function EventRow({ e }: { e: FlowEvent }) {
  return (
    <tr id={`event-${e.id}`} data-external-id={e.externalId}>
      <td>
        <Time ts={e.receivedAt} />
      </td>
      <td>{providerName(e.provider, e.connector)}</td>
      <td>{e.eventType ? <code>{e.eventType}</code> : <span className="muted">—</span>}</td>
      <td>{e.externalId ? <code>{e.externalId}</code> : <span className="muted">—</span>}</td>
      <td>
        <VerdictBadge verdict={e.verdict} />
      </td>
      <td>
        {e.instanceId ? (
          <Link to={`/instances/${e.instanceId}`}>
            <code>{e.instanceId.slice(-8)}</code>
          </Link>
        ) : (
          <span className="muted">—</span>
        )}
      </td>
      <td>
        <Link to={`/events/${e.id}`} className="open-event" aria-label={`Open delivery ${e.eventType || "event"} ${e.externalId}`.trim()}>
          Open
        </Link>
      </td>
    </tr>
  );
}


function Reconcile() {
  const qc = useQueryClient();
  const [provider, setProvider] = useState("");
  const m = useMutation(EventLogService.method.reconcileWorkItems, { onSuccess: () => qc.invalidateQueries() });
  const run = (e: FormEvent) => {
    e.preventDefault();
    m.mutate({ provider: enumFrom(Provider, provider) });
  };
  return (
    <section className="card" aria-labelledby="reconcile-title">
      <h2 id="reconcile-title">Reconcile now</h2>
      <p className="hint">
        Asks the outside systems about work items still waiting (within each system's polling limits: DocuSign allows one status read per
        envelope per 15 minutes) and feeds any outcome found through the webhook pipeline. A job does this every 6 hours by default.
      </p>
      <form className="inline-form" onSubmit={run}>
        <div className="field">
          <label htmlFor="reconcile-provider">Systems</label>
          <select id="reconcile-provider" value={provider} onChange={(e) => setProvider(e.target.value)}>
            <option value="">Every system</option>
            {PROVIDERS.map((p) => (
              <option key={p} value={Provider[p]}>
                {providerName(p)}
              </option>
            ))}
          </select>
        </div>
        <button type="submit" id="reconcile-now" disabled={m.isPending}>
          {m.isPending ? "Reconciling…" : "Reconcile now"}
        </button>
      </form>
      {m.isSuccess && (
        <div className="success" role="status" id="reconcile-result">
          <strong>
            Checked {m.data.checked} work item{m.data.checked === 1 ? "" : "s"}: {m.data.outcomesFound} had an outcome, {m.data.eventsStored} new
            event{m.data.eventsStored === 1 ? "" : "s"} stored.
          </strong>
          {m.data.problems.length > 0 && (
            <ul className="warnings" aria-label="Problems">
              {m.data.problems.map((p, i) => (
                <li key={i}>{p}</li>
              ))}
            </ul>
          )}
        </div>
      )}
      <ErrorNote error={m.error} title="Reconciling failed" />
    </section>
  );
}

/** Header names whose values could authenticate a request: never shown, whatever the server kept. */
const SECRET_HEADER = /signature|authorization|secret|token|api[-_]?key|callback[-_]?key|cookie|digest|password/i;

function bodyText(body: Uint8Array): { text: string; json: boolean } {
  const text = new TextDecoder("utf-8", { fatal: false }).decode(body);
  try {
    return { text: JSON.stringify(JSON.parse(text), null, 2), json: true };
  } catch {
    return { text, json: false };
  }
}

function ms(d?: Duration): string {
  if (!d) return "";
  const n = durationMs(d);
  return n < 1000 ? `+${n.toFixed(n < 10 ? 1 : 0)} ms` : `+${(n / 1000).toFixed(2)} s`;
}

function Steps({ entries, id }: { entries: EventLogEntry[]; id: string }) {
  if (entries.length === 0) {
    return (
      <p className="muted" id={id}>
        No steps were recorded: the Webhook Receiver debug option was off when this notification was handled.
      </p>
    );
  }
  return (
    <ol className="timeline steps" id={id}>
      {entries.map((s) => (
        <li key={s.id} data-step={EventStep[s.step]}>
          <span className="step-kind">{enumLabel(EventStep, s.step)}</span>
          <span>{s.message}</span>
          <div className="step-meta">
            <Time ts={s.at} /> {ms(s.elapsed)}
            {s.traceId && (
              <>
                {" · "}
                <a href={traceUrl(s.traceId)} target="_blank" rel="noreferrer noopener">
                  Trace {s.traceId.slice(-8)}
                  <span className="visually-hidden"> of the step {enumLabel(EventStep, s.step)} in Jaeger (opens a new tab)</span>
                </a>
              </>
            )}
          </div>
        </li>
      ))}
    </ol>
  );
}

function EventDetail({ id }: { id: string }) {
  const qc = useQueryClient();
  const get = useQuery(EventLogService.method.getEvent, { id });
  const replay = useMutation(EventLogService.method.replayEvent, { onSuccess: () => qc.invalidateQueries() });
  const e = get.data?.event;
  const headers = Object.entries(get.data?.headers ?? {}).sort(([a], [b]) => a.localeCompare(b));
  const body = get.data ? bodyText(get.data.body) : undefined;
  return (
    <Page
      title="Event Log"
      actions={
        <Link to="/events" className="button">
          Back to the Event Log
        </Link>
      }
    >
      <ErrorNote error={get.error} title="This notification could not be read" />
      {get.isPending && <Loading what="the notification" />}
      {e && (
        <>
          <div className="grid2">
            <section className="card" aria-labelledby="delivery-title" id="event-detail">
              <h2 id="delivery-title">
                Delivery {e.eventType ? <code>{e.eventType}</code> : ""} from {providerName(e.provider, e.connector)}
              </h2>
              <dl className="props">
                <dt>Verdict</dt>
                <dd id="event-verdict" data-verdict={Verdict[e.verdict]}>
                  <VerdictBadge verdict={e.verdict} /> {e.verdictReason}
                </dd>
                <dt>External id</dt>
                <dd>{e.externalId ? <code id="event-external-id">{e.externalId}</code> : "—"}</dd>
                <dt>Instance</dt>
                <dd>
                  {e.instanceId ? (
                    <Link to={`/instances/${e.instanceId}`} id="event-instance">
                      <code>{e.instanceId}</code>
                    </Link>
                  ) : (
                    "—"
                  )}
                </dd>
                <dt>Work item</dt>
                <dd>{e.workItemId ? <code>{e.workItemId}</code> : "—"}</dd>
                <dt>Received</dt>
                <dd>
                  <Time ts={e.receivedAt} />
                </dd>
                <dt>Provider time</dt>
                <dd>
                  <Time ts={e.providerTime} />
                </dd>
                <dt>Processed</dt>
                <dd>
                  <Time ts={e.processedAt} /> ({e.attempts} attempt{e.attempts === 1 ? "" : "s"})
                </dd>
                <dt>Size</dt>
                <dd>{String(e.sizeBytes)} bytes</dd>
                <dt>From</dt>
                <dd>{e.remoteAddr || "—"}</dd>
                <dt>Trace</dt>
                <dd>
                  {e.traceId ? (
                    <a href={traceUrl(e.traceId)} target="_blank" rel="noreferrer noopener" id="event-trace">
                      Open trace {e.traceId.slice(-8)} in Jaeger
                    </a>
                  ) : (
                    "—"
                  )}
                </dd>
              </dl>
            </section>
            <section className="card" aria-labelledby="replay-title">
              <h2 id="replay-title">Replay</h2>
              <p className="hint">
                Runs the processing of this stored notification again (after a fix, or when its work item exists now) and records the new
                verdict. Replaying an applied outcome changes nothing more. A rejected notification cannot be replayed.
              </p>
              <button
                type="button"
                id="replay-event"
                onClick={() => replay.mutate({ id })}
                disabled={replay.isPending || e.verdict === Verdict.REJECTED}
              >
                {replay.isPending ? "Replaying…" : "Replay"}
              </button>
              {replay.isSuccess && (
                <div className="success" role="status" id="replay-result">
                  <p>
                    Replayed: the verdict was <VerdictBadge verdict={replay.data.previousVerdict} />, it is now{" "}
                    <VerdictBadge verdict={replay.data.event?.verdict ?? Verdict.UNSPECIFIED} />
                    {replay.data.event?.verdictReason ? ` (${replay.data.event.verdictReason})` : ""}.
                  </p>
                  <h3>Steps of this replay</h3>
                  <Steps entries={replay.data.entries} id="replay-steps" />
                </div>
              )}
              <ErrorNote error={replay.error} title="Replay failed" />
            </section>
          </div>
          <section className="card" aria-labelledby="steps-title">
            <h2 id="steps-title">Steps</h2>
            <Steps entries={get.data?.entries ?? []} id="event-steps" />
          </section>
          <section className="card" aria-labelledby="headers-title">
            <h2 id="headers-title">Headers</h2>
            <p className="hint">
              Only the headers flowhook keeps; none that authenticates a request (signatures, keys) is stored, and any whose name suggests a
              secret is masked here.
            </p>
            {headers.length === 0 ? (
              <p className="muted">No headers kept.</p>
            ) : (
              <table className="headers" id="event-headers">
                <thead>
                  <tr>
                    <th scope="col">Header</th>
                    <th scope="col">Value</th>
                  </tr>
                </thead>
                <tbody>
                  {headers.map(([k, v]) => (
                    <tr key={k} data-header={k.toLowerCase()}>
                      <td>{k}</td>
                      <td>{SECRET_HEADER.test(k) ? <span className="masked">•••••• (masked)</span> : v}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            )}
          </section>
          <section className="card" aria-labelledby="body-title">
            <h2 id="body-title">Body {body?.json ? <span className="muted">(JSON, pretty-printed)</span> : ""}</h2>
            {body && body.text !== "" ? (
              <pre id="event-body" tabIndex={0} aria-label="Notification body">
                {body.text}
              </pre>
            ) : (
              <p className="muted">Empty body.</p>
            )}
          </section>
        </>
      )}
    </Page>
  );
}
