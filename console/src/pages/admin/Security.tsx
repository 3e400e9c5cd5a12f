// The security settings: the "Webhook Receiver" debug switch and the retention periods, saved
// with the revision they were read at. Shown on the Event Log and in Settings → Security.
import { useMutation, useQuery } from "@connectrpc/connect-query";
import { useQueryClient } from "@tanstack/react-query";
import type { SecuritySettings } from "@flowhook/sdk";
import { useState, type FormEvent } from "react";
import { ProviderSettingsService } from "../../api";
import { ErrorNote, Loading, Time } from "../../ui";

export function SecuritySettingsSection({ headingLevel = 2 }: { headingLevel?: 2 | 3 }) {
  const get = useQuery(ProviderSettingsService.method.getSecuritySettings, {});
  const qc = useQueryClient();
  const m = useMutation(ProviderSettingsService.method.updateSecuritySettings, { onSuccess: () => qc.invalidateQueries() });
  const H = headingLevel === 2 ? "h2" : "h3";
  return (
    <section className="card" aria-labelledby="security-title" id="receiver-settings">
      <H id="security-title">Receiver settings</H>
      <ErrorNote error={get.error} title="The security settings could not be read" />
      {get.isPending ? <Loading what="the security settings" /> : get.data?.settings && <SecurityForm key={String(get.data.settings.revision)} s={get.data.settings} m={m} />}
      {m.isSuccess && (
        <p className="success" role="status" id="security-saved">
          Saved. The Webhook Receiver debug option is {m.data.settings?.webhookReceiverDebug ? "on" : "off"}; every replica applies it within a few
          seconds.
        </p>
      )}
      <ErrorNote error={m.error} title="The security settings were not saved" />
    </section>
  );
}

type UpdateMutation = ReturnType<typeof useUpdate>;
function useUpdate() {
  return useMutation(ProviderSettingsService.method.updateSecuritySettings);
}

function SecurityForm({ s, m }: { s: SecuritySettings; m: UpdateMutation }) {
  const [debug, setDebug] = useState(s.webhookReceiverDebug);
  const [events, setEvents] = useState(String(s.eventRetentionDays || 30));
  const [forms, setForms] = useState(String(s.formDataRetentionDays));
  const [docs, setDocs] = useState(String(s.documentRetentionDays));
  const save = (e: FormEvent) => {
    e.preventDefault();
    m.mutate({
      webhookReceiverDebug: debug,
      eventRetentionDays: Number(events) || 0,
      formDataRetentionDays: Number(forms) || 0,
      documentRetentionDays: Number(docs) || 0,
      expectedRevision: s.revision,
    });
  };
  return (
    <form onSubmit={save} aria-label="Security settings">
      <div className="field check">
        <input id="receiver-debug" type="checkbox" role="switch" checked={debug} onChange={(e) => setDebug(e.target.checked)} aria-describedby="receiver-debug-hint" />
        <label htmlFor="receiver-debug">Webhook Receiver debug</label>
      </div>
      <p className="hint" id="receiver-debug-hint">
        On: every notification — rejected, ignored, duplicate, stale, orphaned or applied — writes each step of its handling to the
        Event Log and to its trace. Off: handled notifications keep only their verdict, and rejected ones are only counted in the
        metrics.
      </p>
      <div className="two">
        <div className="field">
          <label htmlFor="sec-event-days">Keep the Event Log for (days)</label>
          <input id="sec-event-days" type="number" min={1} max={3650} value={events} onChange={(e) => setEvents(e.target.value)} />
        </div>
        <div className="field">
          <label htmlFor="sec-form-days">Keep form data of finished instances for (days, 0 = for ever)</label>
          <input id="sec-form-days" type="number" min={0} max={36500} value={forms} onChange={(e) => setForms(e.target.value)} />
        </div>
        <div className="field">
          <label htmlFor="sec-doc-days">Keep signed documents of finished instances for (days, 0 = for ever)</label>
          <input id="sec-doc-days" type="number" min={0} max={36500} value={docs} onChange={(e) => setDocs(e.target.value)} />
        </div>
      </div>
      <p className="hint">
        Revision {String(s.revision)}
        {s.updatedAt && (
          <>
            , saved <Time ts={s.updatedAt} />
          </>
        )}
        .
      </p>
      <div className="toolbar">
        <button type="submit" id="save-security" className="primary" disabled={m.isPending}>
          {m.isPending ? "Saving…" : "Save receiver settings"}
        </button>
      </div>
    </form>
  );
}
