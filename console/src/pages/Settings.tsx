// Settings (admin): the outside systems (DocuSign, OneSpan, connectors), the security settings,
// users, groups and API keys, and this browser's console preferences. One tab per path:
// /settings/:tab.
import { useState, type FormEvent } from "react";
import { DEFAULT_JAEGER_URL, jaegerUrl, setJaegerUrl } from "../prefs";
import { Link } from "../router";
import { Page } from "../ui";
import { ConnectorsTab } from "./admin/Connectors";
import { GroupsTab, KeysTab, UsersTab } from "./admin/Identity";
import { DocuSignTab, OneSpanTab } from "./admin/Providers";
import { SecuritySettingsSection } from "./admin/Security";

const TABS = [
  { key: "docusign", label: "DocuSign" },
  { key: "onespan", label: "OneSpan" },
  { key: "connectors", label: "Connectors" },
  { key: "security", label: "Security" },
  { key: "users", label: "Users" },
  { key: "groups", label: "Groups" },
  { key: "keys", label: "API keys" },
  { key: "console", label: "Console" },
] as const;

export function Settings({ tab }: { tab?: string }) {
  const current = tab ?? "docusign";
  const known = TABS.some((t) => t.key === current);
  return (
    <Page title="Settings">
      <nav className="tabs" aria-label="Settings sections">
        {TABS.map((t) => (
          <Link key={t.key} to={`/settings/${t.key}`} id={`tab-${t.key}`} aria-current={current === t.key ? "page" : undefined}>
            {t.label}
          </Link>
        ))}
      </nav>
      <div className="settings-section">
        {!known && (
          <p className="error" role="alert">
            There is no settings section named <code>{current}</code>.
          </p>
        )}
        {current === "docusign" && <DocuSignTab />}
        {current === "onespan" && <OneSpanTab />}
        {current === "connectors" && <ConnectorsTab />}
        {current === "security" && <SecuritySettingsSection />}
        {current === "users" && <UsersTab />}
        {current === "groups" && <GroupsTab />}
        {current === "keys" && <KeysTab />}
        {current === "console" && <ConsoleTab />}
      </div>
    </Page>
  );
}

function ConsoleTab() {
  const [url, setUrl] = useState(jaegerUrl());
  const [saved, setSaved] = useState<string | undefined>();
  const save = (e: FormEvent) => {
    e.preventDefault();
    setJaegerUrl(url);
    setUrl(jaegerUrl());
    setSaved(jaegerUrl());
  };
  return (
    <section aria-labelledby="console-title">
      <h2 id="console-title">Console</h2>
      <form className="card" onSubmit={save}>
        <p className="hint">Preferences of this browser only (kept in its local storage).</p>
        <div className="field">
          <label htmlFor="jaeger-url">Jaeger UI base URL (for trace links)</label>
          <input id="jaeger-url" type="url" value={url} onChange={(e) => setUrl(e.target.value)} placeholder={DEFAULT_JAEGER_URL} spellCheck={false} />
        </div>
        <p className="hint">Empty: {DEFAULT_JAEGER_URL}. A trace opens at {"{base}"}/trace/{"{trace id}"}.</p>
        <button type="submit" className="primary" id="save-console">
          Save preferences
        </button>
        {saved !== undefined && (
          <p className="success" role="status" id="console-saved">
            Saved: trace links open in {saved}.
          </p>
        )}
      </form>
    </section>
  );
}
