// Small pieces the admin pages share: filters kept in the URL query, a copy button, the
// "set / not set" state of a write-only secret, and a secret shown once.
import { Provider } from "@flowhook/sdk";
import { useState } from "react";
import { AllNote, useAll } from "../../all";
import { ProviderSettingsService } from "../../api";
import { navigate, useLocation } from "../../router";
import "./admin.css";

/** The page's filters as URL query parameters: read them, and replace some (keeping the rest). */
export function useQueryFilters(): { get: (k: string) => string; set: (changes: Record<string, string>) => void; all: URLSearchParams } {
  const { path, query } = useLocation();
  return {
    all: query,
    get: (k) => query.get(k) ?? "",
    set: (changes) => {
      const q = new URLSearchParams(query);
      for (const [k, v] of Object.entries(changes)) {
        if (v === "") q.delete(k);
        else q.set(k, v);
      }
      const s = q.toString();
      navigate(path + (s ? "?" + s : ""), { replace: true });
    },
  };
}

/** A button copying text to the clipboard, saying whether it worked. */
export function CopyButton({ text, label, id }: { text: string; label?: string; id?: string }) {
  const [state, setState] = useState<"" | "copied" | "failed">("");
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(text);
      setState("copied");
    } catch {
      setState("failed");
    }
  };
  return (
    <>
      <button type="button" id={id} onClick={copy} aria-label={label ?? "Copy"}>
        Copy
      </button>
      <span role="status" className="copy-state">
        {state === "copied" ? "Copied" : state === "failed" ? "Copy failed: select the text and copy it yourself" : ""}
      </span>
    </>
  );
}

/** A write-only secret's state: set or not set, never its value. */
export function SecretState({ set, id }: { set: boolean; id?: string }) {
  return (
    <span id={id} className={`badge ${set ? "done" : "cancelled"}`} data-secret-set={set ? "true" : "false"}>
      {set ? "Set" : "Not set"}
    </span>
  );
}

/** A secret the server returns once: shown with a copy button and a warning. */
export function SecretOnce({ title, secret, id, onDone }: { title: string; secret: string; id: string; onDone: () => void }) {
  return (
    <div className="success secret-once" role="status">
      <strong>{title}</strong>
      <p>It is shown this once: copy it now and keep it somewhere safe. flowhook cannot show it again.</p>
      <div className="copy-row">
        <code id={id}>{secret}</code> <CopyButton text={secret} label={`Copy ${title}`} />
      </div>
      <button type="button" onClick={onDone}>
        I have copied it
      </button>
    </div>
  );
}

/** Text of an error for a per-item result list. */
export function errText(e: unknown): string {
  if (e instanceof Error) return e.message;
  return String(e);
}

/**
 * One select for the outside system: any, DocuSign, OneSpan, any connector, or one connector
 * (the API wants provider CONNECTOR with a connector's name). Values in the URL: provider=DOCUSIGN,
 * or provider=CONNECTOR&connector=name.
 */
export function SystemSelect({ id, label, provider, connector, onChange }: { id: string; label: string; provider: string; connector: string; onChange: (provider: string, connector: string) => void }) {
  const list = useAll(ProviderSettingsService.method.listConnectors, {}, (r) => r.connectors, { staleTime: 60_000 });
  const value = provider === "CONNECTOR" && connector ? `CONNECTOR:${connector}` : provider;
  const names = (list.data?.items ?? []).map((c) => ({ name: c.name, label: c.displayName || c.name }));
  if (connector && !names.some((n) => n.name === connector)) names.push({ name: connector, label: connector });
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      <select
        id={id}
        value={value}
        onChange={(e) => {
          const v = e.target.value;
          if (v.startsWith("CONNECTOR:")) onChange("CONNECTOR", v.slice("CONNECTOR:".length));
          else onChange(v, "");
        }}
      >
        <option value="">Any</option>
        <option value={Provider[Provider.DOCUSIGN]}>DocuSign</option>
        <option value={Provider[Provider.ONESPAN]}>OneSpan</option>
        <option value={Provider[Provider.CONNECTOR]}>Any connector</option>
        {names.map((n) => (
          <option key={n.name} value={`CONNECTOR:${n.name}`}>
            Connector {n.label}
          </option>
        ))}
      </select>
      <AllNote list={list} what="connectors" />
    </div>
  );
}

/** A text filter applied on Enter or when the field is left (not on each key). */
export function TextFilter({ id, label, value, onCommit }: { id: string; label: string; value: string; onCommit: (v: string) => void }) {
  const [v, setV] = useState(value);
  const [seen, setSeen] = useState(value);
  if (seen !== value) {
    setSeen(value);
    setV(value);
  }
  const commit = () => {
    if (v.trim() !== value) onCommit(v.trim());
  };
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      <input
        id={id}
        type="search"
        value={v}
        onChange={(e) => setV(e.target.value)}
        onBlur={commit}
        onKeyDown={(e) => {
          if (e.key === "Enter") {
            e.preventDefault();
            commit();
          }
        }}
      />
    </div>
  );
}
