// Connectors: outside systems reached through signed calls. Listed, created (the generated
// signing secret shown once), edited at their revision, tested and deleted (after a confirm).
import { useMutation } from "@connectrpc/connect-query";
import { useQueryClient } from "@tanstack/react-query";
import { Code, ConnectError, Outcome, Provider, type Connector } from "@flowhook/sdk";
import { useState, type FormEvent } from "react";
import { AllNote, useAll } from "../../all";
import { ProviderSettingsService } from "../../api";
import { enumLabel, ErrorNote, Loading, Time } from "../../ui";
import { CopyButton, SecretOnce, SecretState } from "./common";
import { TestConnection } from "./Providers";

const OUTCOMES = [Outcome.APPROVED, Outcome.DENIED, Outcome.FINISHED, Outcome.DELETED, Outcome.EXPIRED];

function outcomesText(o: { [k: string]: Outcome }): string {
  return Object.entries(o)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, v]) => `${k}=${Outcome[v]}`)
    .join("\n");
}

/** "ticket.resolved=FINISHED" lines → the map; the problems of lines that do not parse. */
function parseOutcomes(text: string): { map: { [k: string]: Outcome }; problems: string[] } {
  const map: { [k: string]: Outcome } = {};
  const problems: string[] = [];
  text.split("\n").forEach((line, i) => {
    const l = line.trim();
    if (l === "") return;
    const eq = l.indexOf("=");
    const k = eq < 0 ? "" : l.slice(0, eq).trim();
    const v = eq < 0 ? "" : l.slice(eq + 1).trim().toUpperCase().replace(/^OUTCOME_/, "");
    const o = Outcome[v as keyof typeof Outcome];
    if (k === "" || typeof o !== "number" || o === Outcome.UNSPECIFIED) {
      problems.push(`line ${i + 1}: write "event.type=OUTCOME" with OUTCOME one of ${OUTCOMES.map((x) => Outcome[x]).join(", ")}`);
      return;
    }
    map[k] = o;
  });
  return { map, problems };
}

type Draft = { name: string; displayName: string; createUrl: string; statusUrl: string; cancelUrl: string; outcomes: string; signingSecret: string; authHeader: string };

function ConnectorFields({ d, set, editing, prefix }: { d: Draft; set: (d: Draft) => void; editing?: Connector; prefix: string }) {
  const f = (k: keyof Draft) => (e: { target: { value: string } }) => set({ ...d, [k]: e.target.value });
  return (
    <div className="two">
      <div className="field">
        <label htmlFor={`${prefix}-name`}>Name</label>
        <input id={`${prefix}-name`} value={d.name} onChange={f("name")} disabled={!!editing} required pattern="[a-z0-9][a-z0-9\-]*" maxLength={63} spellCheck={false} aria-describedby={`${prefix}-name-hint`} />
        <p className="hint" id={`${prefix}-name-hint`}>
          Lower case letters, digits and "-"; part of the webhook URL; never changes.
        </p>
      </div>
      <div className="field">
        <label htmlFor={`${prefix}-display`}>Display name</label>
        <input id={`${prefix}-display`} value={d.displayName} onChange={f("displayName")} placeholder="defaults to the name" />
      </div>
      <div className="field">
        <label htmlFor={`${prefix}-create-url`}>Create URL</label>
        <input id={`${prefix}-create-url`} type="url" value={d.createUrl} onChange={f("createUrl")} required spellCheck={false} />
      </div>
      <div className="field">
        <label htmlFor={`${prefix}-status-url`}>Status URL (optional, may hold {"{id}"})</label>
        <input id={`${prefix}-status-url`} value={d.statusUrl} onChange={f("statusUrl")} spellCheck={false} />
      </div>
      <div className="field">
        <label htmlFor={`${prefix}-cancel-url`}>Cancel URL (optional, may hold {"{id}"})</label>
        <input id={`${prefix}-cancel-url`} value={d.cancelUrl} onChange={f("cancelUrl")} spellCheck={false} />
      </div>
      <div className="field">
        <label htmlFor={`${prefix}-outcomes`}>Outcomes (one "event.type=OUTCOME" a line)</label>
        <textarea id={`${prefix}-outcomes`} value={d.outcomes} onChange={f("outcomes")} placeholder={"ticket.resolved=FINISHED\nticket.rejected=DENIED"} spellCheck={false} />
      </div>
      <div className="field">
        <label htmlFor={`${prefix}-secret`}>
          Signing secret {editing && <SecretState set={editing.signingSecretSet} />}
        </label>
        <input id={`${prefix}-secret`} type="password" value={d.signingSecret} onChange={f("signingSecret")} autoComplete="new-password" placeholder={editing ? "empty: keep the saved one" : "empty: flowhook generates one"} />
      </div>
      <div className="field">
        <label htmlFor={`${prefix}-auth`}>
          Auth header {editing && <SecretState set={editing.authHeaderSet} />}
          {editing?.authHeaderSet && <span className="muted"> ({editing.authHeaderName})</span>}
        </label>
        <input id={`${prefix}-auth`} type="password" value={d.authHeader} onChange={f("authHeader")} autoComplete="new-password" placeholder={editing ? "empty: keep the saved one" : "optional, e.g. Authorization: Bearer …"} />
      </div>
    </div>
  );
}

const empty: Draft = { name: "", displayName: "", createUrl: "", statusUrl: "", cancelUrl: "", outcomes: "", signingSecret: "", authHeader: "" };

export function ConnectorsTab() {
  const list = useAll(ProviderSettingsService.method.listConnectors, {}, (r) => r.connectors);
  const [editing, setEditing] = useState<string | undefined>();
  const connectors = list.data?.items ?? [];
  const current = connectors.find((c) => c.name === editing);
  return (
    <section aria-labelledby="connectors-title">
      <h2 id="connectors-title">Connectors</h2>
      <ErrorNote error={list.error} title="The connectors could not be listed" />
      <AllNote list={list} what="connectors" />
      {list.isPending ? (
        <Loading what="connectors" />
      ) : connectors.length === 0 ? (
        <p>No connector yet.</p>
      ) : (
        <div className="table-wrap card">
          <table id="connectors-table">
            <thead>
              <tr>
                <th scope="col">Connector</th>
                <th scope="col">Create URL</th>
                <th scope="col">Signing secret</th>
                <th scope="col">Webhook URL</th>
                <th scope="col">Actions</th>
              </tr>
            </thead>
            <tbody>
              {connectors.map((c) => (
                <ConnectorRow key={c.name} c={c} onEdit={() => setEditing(c.name)} />
              ))}
            </tbody>
          </table>
        </div>
      )}
      {current && <EditConnector key={current.name} c={current} onClose={() => setEditing(undefined)} />}
      <CreateConnector />
    </section>
  );
}

function ConnectorRow({ c, onEdit }: { c: Connector; onEdit: () => void }) {
  const qc = useQueryClient();
  const [confirm, setConfirm] = useState(false);
  const del = useMutation(ProviderSettingsService.method.deleteConnector, { onSuccess: () => qc.invalidateQueries() });
  return (
    <tr id={`connector-${c.name}`}>
      <td>
        <strong>{c.displayName || c.name}</strong>
        <div className="muted">
          <code>{c.name}</code> · revision {String(c.revision)}
        </div>
        {c.warnings.length > 0 && (
          <ul className="warnings">
            {c.warnings.map((w, i) => (
              <li key={i}>{w}</li>
            ))}
          </ul>
        )}
      </td>
      <td>
        <code>{c.createUrl}</code>
      </td>
      <td>
        <SecretState set={c.signingSecretSet} />
        {c.previousSigningSecretValidUntil && (
          <div className="hint">
            previous one valid until <Time ts={c.previousSigningSecretValidUntil} />
          </div>
        )}
      </td>
      <td>
        <div className="copy-row">
          <code>{c.webhookUrl}</code>
          <CopyButton text={c.webhookUrl} label={`Copy the webhook URL of ${c.name}`} />
        </div>
      </td>
      <td>
        <div className="row-actions">
          <button type="button" onClick={onEdit} aria-label={`Edit ${c.name}`}>
            Edit
          </button>
          {!confirm ? (
            <button type="button" className="danger" onClick={() => setConfirm(true)} aria-label={`Delete ${c.name}`}>
              Delete
            </button>
          ) : (
            <>
              <button type="button" className="danger" id={`confirm-delete-${c.name}`} onClick={() => del.mutate({ name: c.name })} disabled={del.isPending}>
                {del.isPending ? "Deleting…" : `Really delete ${c.name}`}
              </button>
              <button type="button" onClick={() => setConfirm(false)}>
                Keep it
              </button>
            </>
          )}
        </div>
        <TestConnection provider={Provider.CONNECTOR} connector={c.name} id={`test-${c.name}`} />
        <ErrorNote error={del.error} title={`${c.name} was not deleted`} />
      </td>
    </tr>
  );
}

function CreateConnector() {
  const qc = useQueryClient();
  const [d, setD] = useState<Draft>(empty);
  const [problems, setProblems] = useState<string[]>([]);
  const [shown, setShown] = useState<{ name: string; secret: string } | undefined>();
  const m = useMutation(ProviderSettingsService.method.createConnector, {
    onSuccess: (r) => {
      setShown({ name: r.connector?.name ?? "", secret: r.signingSecret });
      setD(empty);
      void qc.invalidateQueries();
    },
  });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    const o = parseOutcomes(d.outcomes);
    setProblems(o.problems);
    if (o.problems.length) return;
    m.mutate({
      name: d.name.trim(),
      displayName: d.displayName.trim(),
      createUrl: d.createUrl.trim(),
      statusUrl: d.statusUrl.trim(),
      cancelUrl: d.cancelUrl.trim(),
      outcomes: o.map,
      signingSecret: d.signingSecret,
      authHeader: d.authHeader,
    });
  };
  return (
    <form className="card" onSubmit={submit} aria-labelledby="new-connector-title" autoComplete="off">
      <h3 id="new-connector-title">New connector</h3>
      {shown && (
        <>
          <p className="success" role="status" id="connector-created">
            Connector <code>{shown.name}</code> created.
          </p>
          {shown.secret && <SecretOnce title="Signing secret" secret={shown.secret} id="connector-secret" onDone={() => setShown(undefined)} />}
        </>
      )}
      <ConnectorFields d={d} set={setD} prefix="nc" />
      {problems.length > 0 && (
        <ul className="problem" role="alert">
          {problems.map((p, i) => (
            <li key={i}>{p}</li>
          ))}
        </ul>
      )}
      <ErrorNote error={m.error} title="The connector was not created" />
      <button type="submit" className="primary" id="create-connector" disabled={m.isPending}>
        {m.isPending ? "Creating…" : "Create connector"}
      </button>
    </form>
  );
}

function draftOf(c: Connector): Draft {
  return {
    name: c.name,
    displayName: c.displayName,
    createUrl: c.createUrl,
    statusUrl: c.statusUrl,
    cancelUrl: c.cancelUrl,
    outcomes: outcomesText(c.outcomes),
    signingSecret: "",
    authHeader: "",
  };
}

/**
 * The form of a connector, filled from one revision of it (c is the live list's: it moves on
 * when someone else saves): that revision is sent, so that a change made meanwhile is a
 * conflict, explained, not overwritten.
 */
function EditConnector({ c, onClose }: { c: Connector; onClose: () => void }) {
  const qc = useQueryClient();
  const [d, setD] = useState<Draft>(() => draftOf(c));
  const [revision, setRevision] = useState(c.revision);
  const [clearAuth, setClearAuth] = useState(false);
  const [problems, setProblems] = useState<string[]>([]);
  const m = useMutation(ProviderSettingsService.method.updateConnector, {
    onSuccess: (r) => {
      if (r.connector) setRevision(r.connector.revision);
      void qc.invalidateQueries();
    },
    // A conflict: read the list again, so that the saved connector can be loaded.
    onError: (err) => {
      if (ConnectError.from(err).code === Code.Aborted) void qc.invalidateQueries();
    },
  });
  const conflict = m.error && ConnectError.from(m.error).code === Code.Aborted ? m.error : undefined;
  const reload = () => {
    setD(draftOf(c));
    setRevision(c.revision);
    setClearAuth(false);
    setProblems([]);
    m.reset();
  };
  const submit = (e: FormEvent) => {
    e.preventDefault();
    const o = parseOutcomes(d.outcomes);
    setProblems(o.problems);
    if (o.problems.length) return;
    m.mutate({
      name: c.name,
      displayName: d.displayName.trim(),
      createUrl: d.createUrl.trim(),
      statusUrl: d.statusUrl.trim(),
      cancelUrl: d.cancelUrl.trim(),
      outcomes: o.map,
      signingSecret: d.signingSecret,
      authHeader: d.authHeader,
      clearAuthHeader: clearAuth,
      expectedRevision: revision,
    });
  };
  return (
    <form className="card" onSubmit={submit} aria-labelledby="edit-connector-title" autoComplete="off" id="edit-connector">
      <h3 id="edit-connector-title">
        Edit connector <code>{c.name}</code> <span className="muted">(revision {String(revision)})</span>
      </h3>
      <ConnectorFields d={d} set={setD} editing={c} prefix="ec" />
      {c.authHeaderSet && (
        <div className="field check">
          <input id="ec-clear-auth" type="checkbox" checked={clearAuth} onChange={(e) => setClearAuth(e.target.checked)} />
          <label htmlFor="ec-clear-auth">Remove the auth header</label>
        </div>
      )}
      {problems.length > 0 && (
        <ul className="problem" role="alert">
          {problems.map((p, i) => (
            <li key={i}>{p}</li>
          ))}
        </ul>
      )}
      {m.isSuccess && (
        <p className="success" role="status">
          Saved (revision {String(m.data.connector?.revision ?? 0n)}).
        </p>
      )}
      {conflict ? (
        <div className="error" role="alert" id="connector-conflict">
          <strong>The connector changed meanwhile.</strong>
          <p>
            Someone else saved it since this form was filled from revision {String(revision)} ({ConnectError.from(conflict).rawMessage}).
            Nothing was saved; your entries are kept. Load the saved connector to start again from it.
          </p>
          <button type="button" id="connector-reload" onClick={reload}>
            Load the saved connector
          </button>
        </div>
      ) : (
        <ErrorNote error={m.error} title="The connector was not saved" />
      )}
      <div className="row-actions">
        <button type="submit" className="primary" id="save-connector" disabled={m.isPending}>
          {m.isPending ? "Saving…" : "Save connector"}
        </button>
        <button type="button" onClick={onClose}>
          Close
        </button>
      </div>
      <p className="hint">Outcome values: {OUTCOMES.map((o) => `${Outcome[o]} (${enumLabel(Outcome, o)})`).join(", ")}.</p>
    </form>
  );
}
