// DocuSign and OneSpan settings: plain values editable, write-only secrets shown as set / not
// set with a field to replace them (never prefilled), the webhook URL to copy, and "Test
// connection" against the saved settings.
import { useMutation, useQuery } from "@connectrpc/connect-query";
import { useQueryClient } from "@tanstack/react-query";
import { Provider, type DocuSignSettings, type OneSpanSettings } from "@flowhook/sdk";
import { useState, type FormEvent } from "react";
import { ProviderSettingsService } from "../../api";
import { ErrorNote, Loading, Time } from "../../ui";
import { CopyButton, SecretState } from "./common";

export function WebhookUrl({ url, id, what }: { url: string; id: string; what: string }) {
  return (
    <div className="field">
      <span className="label-like" id={`${id}-label`}>
        Webhook URL
      </span>
      <p className="hint">{what}</p>
      <div className="copy-row">
        <code id={id} aria-labelledby={`${id}-label`}>
          {url || "— (set FLOWHOOK_PUBLIC_URL)"}
        </code>
        {url && <CopyButton text={url} label="Copy the webhook URL" id={`${id}-copy`} />}
      </div>
    </div>
  );
}

export function TestConnection({ provider, connector, id }: { provider: Provider; connector?: string; id: string }) {
  const m = useMutation(ProviderSettingsService.method.testProviderConnection);
  return (
    <div className="test-connection">
      <button type="button" id={id} onClick={() => m.mutate({ provider, connector })} disabled={m.isPending}>
        {m.isPending ? "Testing…" : "Test connection"}
      </button>
      {m.isSuccess && (
        <div className={m.data.ok ? "success" : "error"} role="status" id={`${id}-result`} data-ok={m.data.ok ? "true" : "false"}>
          <strong>{m.data.ok ? "Connection works." : "Connection failed."}</strong> {m.data.message}
          {(m.data.accountName || m.data.userName || m.data.baseUri) && (
            <dl className="props">
              {m.data.accountName && (
                <>
                  <dt>Account</dt>
                  <dd>{m.data.accountName}</dd>
                </>
              )}
              {m.data.userName && (
                <>
                  <dt>Acting as</dt>
                  <dd>{m.data.userName}</dd>
                </>
              )}
              {m.data.baseUri && (
                <>
                  <dt>API base</dt>
                  <dd>
                    <code>{m.data.baseUri}</code>
                  </dd>
                </>
              )}
            </dl>
          )}
        </div>
      )}
      <ErrorNote error={m.error} title="The connection test could not run" />
    </div>
  );
}

function Saved({ revision, updatedAt }: { revision: bigint; updatedAt?: import("@flowhook/sdk").Timestamp }) {
  return (
    <p className="hint">
      {revision === 0n ? (
        "Never saved."
      ) : (
        <>
          Revision {String(revision)}, saved <Time ts={updatedAt} />.
        </>
      )}
    </p>
  );
}

export function DocuSignTab() {
  const get = useQuery(ProviderSettingsService.method.getDocuSignSettings, {});
  const qc = useQueryClient();
  const m = useMutation(ProviderSettingsService.method.updateDocuSignSettings, { onSuccess: () => qc.invalidateQueries() });
  const s = get.data?.settings;
  return (
    <section aria-labelledby="docusign-title">
      <h2 id="docusign-title">DocuSign</h2>
      <ErrorNote error={get.error} title="The DocuSign settings could not be read" />
      {get.isPending && <Loading what="the DocuSign settings" />}
      {s && (
        <>
          <div className="card">
            <WebhookUrl url={s.webhookUrl} id="docusign-webhook-url" what="Configure it in DocuSign Connect, with HMAC signing on." />
            <TestConnection provider={Provider.DOCUSIGN} id="docusign-test" />
          </div>
          <DocuSignForm key={String(s.revision)} s={s} m={m} />
        </>
      )}
      {m.isSuccess && (
        <p className="success" role="status" id="docusign-saved">
          DocuSign settings saved (revision {String(m.data.settings?.revision ?? 0n)}).
        </p>
      )}
      <ErrorNote error={m.error} title="The DocuSign settings were not saved" />
    </section>
  );
}

type DsMutation = ReturnType<typeof useDs>;
function useDs() {
  return useMutation(ProviderSettingsService.method.updateDocuSignSettings);
}

function DocuSignForm({ s, m }: { s: DocuSignSettings; m: DsMutation }) {
  const [accountId, setAccountId] = useState(s.accountId);
  const [integrationKey, setIntegrationKey] = useState(s.integrationKey);
  const [userId, setUserId] = useState(s.userId);
  const [oauth, setOauth] = useState(s.oauthBaseUrl);
  const [pem, setPem] = useState("");
  const [hmac, setHmac] = useState("");
  const [replaceHmac, setReplaceHmac] = useState(false);
  const save = (e: FormEvent) => {
    e.preventDefault();
    m.mutate({
      accountId: accountId.trim(),
      integrationKey: integrationKey.trim(),
      userId: userId.trim(),
      oauthBaseUrl: oauth.trim(),
      privateKeyPem: pem.trim() === "" ? undefined : pem,
      replaceHmacKeys: replaceHmac,
      hmacKeys: replaceHmac ? hmac.split("\n").map((l) => l.trim()).filter((l) => l !== "") : [],
      expectedRevision: s.revision,
    });
  };
  return (
    <form className="card" onSubmit={save} aria-label="DocuSign settings" autoComplete="off">
      <div className="two">
        <div className="field">
          <label htmlFor="ds-account">Account id</label>
          <input id="ds-account" value={accountId} onChange={(e) => setAccountId(e.target.value)} placeholder={s.revision === 0n ? "empty: the user's default account" : "empty: keep the saved one"} spellCheck={false} />
        </div>
        <div className="field">
          <label htmlFor="ds-integration-key">Integration key</label>
          <input id="ds-integration-key" value={integrationKey} onChange={(e) => setIntegrationKey(e.target.value)} spellCheck={false} />
        </div>
        <div className="field">
          <label htmlFor="ds-user-id">User id (impersonated)</label>
          <input id="ds-user-id" value={userId} onChange={(e) => setUserId(e.target.value)} spellCheck={false} />
        </div>
        <div className="field">
          <label htmlFor="ds-oauth">OAuth base URL</label>
          <input id="ds-oauth" type="url" value={oauth} onChange={(e) => setOauth(e.target.value)} placeholder="https://account-d.docusign.com" spellCheck={false} />
        </div>
      </div>
      <h3>Secrets</h3>
      <p className="hint">Write-only: flowhook says whether each is set, never its value. Leave a field empty to keep what is saved.</p>
      <div className="two">
        <div className="field">
          <label htmlFor="ds-private-key">
            RSA private key (PEM) <SecretState set={s.privateKeySet} id="ds-private-key-state" />
          </label>
          <textarea id="ds-private-key" value={pem} onChange={(e) => setPem(e.target.value)} placeholder="-----BEGIN RSA PRIVATE KEY----- … (replaces the saved key)" spellCheck={false} autoComplete="off" />
        </div>
        <div className="field">
          <label htmlFor="ds-hmac">
            Connect HMAC keys{" "}
            <span className={`badge ${s.hmacKeyCount > 0 ? "done" : "cancelled"}`} id="ds-hmac-state">
              {s.hmacKeyCount > 0 ? `${s.hmacKeyCount} set` : "Not set"}
            </span>
          </label>
          <textarea id="ds-hmac" value={hmac} onChange={(e) => setHmac(e.target.value)} disabled={!replaceHmac} placeholder="one key per line (several, for rotation)" spellCheck={false} autoComplete="off" />
          <div className="field check">
            <input id="ds-hmac-replace" type="checkbox" checked={replaceHmac} onChange={(e) => setReplaceHmac(e.target.checked)} />
            <label htmlFor="ds-hmac-replace">Replace the HMAC keys with these</label>
          </div>
        </div>
      </div>
      <Saved revision={s.revision} updatedAt={s.updatedAt} />
      <button type="submit" className="primary" id="save-docusign" disabled={m.isPending}>
        {m.isPending ? "Saving…" : "Save DocuSign settings"}
      </button>
    </form>
  );
}

export function OneSpanTab() {
  const get = useQuery(ProviderSettingsService.method.getOneSpanSettings, {});
  const qc = useQueryClient();
  const m = useMutation(ProviderSettingsService.method.updateOneSpanSettings, { onSuccess: () => qc.invalidateQueries() });
  const s = get.data?.settings;
  return (
    <section aria-labelledby="onespan-title">
      <h2 id="onespan-title">OneSpan Sign</h2>
      <ErrorNote error={get.error} title="The OneSpan settings could not be read" />
      {get.isPending && <Loading what="the OneSpan settings" />}
      {s && (
        <>
          <div className="card">
            <WebhookUrl url={s.webhookUrl} id="onespan-webhook-url" what="The callback URL to configure at OneSpan (or let flowhook register it when saving)." />
            <TestConnection provider={Provider.ONESPAN} id="onespan-test" />
          </div>
          <OneSpanForm key={String(s.revision)} s={s} m={m} />
        </>
      )}
      {m.isSuccess && (
        <p className="success" role="status" id="onespan-saved">
          OneSpan settings saved (revision {String(m.data.settings?.revision ?? 0n)}).
        </p>
      )}
      <ErrorNote error={m.error} title="The OneSpan settings were not saved" />
    </section>
  );
}

type OsMutation = ReturnType<typeof useOs>;
function useOs() {
  return useMutation(ProviderSettingsService.method.updateOneSpanSettings);
}

function OneSpanForm({ s, m }: { s: OneSpanSettings; m: OsMutation }) {
  const [baseUrl, setBaseUrl] = useState(s.baseUrl);
  const [apiKey, setApiKey] = useState("");
  const [callbackKey, setCallbackKey] = useState("");
  const [graceHours, setGraceHours] = useState("24");
  const [register, setRegister] = useState(false);
  const save = (e: FormEvent) => {
    e.preventDefault();
    const hours = Number(graceHours);
    m.mutate({
      baseUrl: baseUrl.trim(),
      apiKey: apiKey === "" ? undefined : apiKey,
      callbackKey: callbackKey === "" ? undefined : callbackKey,
      callbackKeyGrace: callbackKey !== "" && hours > 0 ? { seconds: BigInt(Math.round(hours * 3600)) } : undefined,
      registerCallback: register,
      expectedRevision: s.revision,
    });
  };
  return (
    <form className="card" onSubmit={save} aria-label="OneSpan settings" autoComplete="off">
      <div className="field">
        <label htmlFor="os-base-url">Base URL</label>
        <input id="os-base-url" type="url" value={baseUrl} onChange={(e) => setBaseUrl(e.target.value)} placeholder={s.revision === 0n ? "https://sandbox.esignlive.com" : "empty: keep the saved one"} spellCheck={false} />
      </div>
      <h3>Secrets</h3>
      <p className="hint">Write-only: flowhook says whether each is set, never its value. Leave a field empty to keep what is saved.</p>
      <div className="two">
        <div className="field">
          <label htmlFor="os-api-key">
            API key <SecretState set={s.apiKeySet} id="os-api-key-state" />
          </label>
          <input id="os-api-key" type="password" value={apiKey} onChange={(e) => setApiKey(e.target.value)} placeholder="replaces the saved key" autoComplete="new-password" />
        </div>
        <div className="field">
          <label htmlFor="os-callback-key">
            Callback key <SecretState set={s.callbackKeySet} id="os-callback-key-state" />
          </label>
          <input id="os-callback-key" type="password" value={callbackKey} onChange={(e) => setCallbackKey(e.target.value)} placeholder="replaces the saved key" autoComplete="new-password" />
          {s.previousCallbackKeyValidUntil && (
            <p className="hint">
              The previous callback key is accepted until <Time ts={s.previousCallbackKeyValidUntil} />.
            </p>
          )}
        </div>
        <div className="field">
          <label htmlFor="os-grace">Accept the replaced callback key for (hours)</label>
          <input id="os-grace" type="number" min={1} max={720} value={graceHours} onChange={(e) => setGraceHours(e.target.value)} />
        </div>
      </div>
      <div className="field check">
        <input id="os-register" type="checkbox" checked={register} onChange={(e) => setRegister(e.target.checked)} />
        <label htmlFor="os-register">After saving, register the webhook URL and callback key at OneSpan</label>
      </div>
      <Saved revision={s.revision} updatedAt={s.updatedAt} />
      <button type="submit" className="primary" id="save-onespan" disabled={m.isPending}>
        {m.isPending ? "Saving…" : "Save OneSpan settings"}
      </button>
    </form>
  );
}
