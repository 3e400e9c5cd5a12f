// The sandbox of `flowhook dev`: fake DocuSign, OneSpan and ticketing systems served by the same
// binary under /sandbox/ (plain HTTP, same origin, unauthenticated). When the server is not in
// sandbox mode these routes are 404 and the console shows nothing of the sandbox.

/** An item at one of the fakes, as GET /sandbox/work-items lists it. */
export type SandboxItem = {
  /** DOCUSIGN, ONESPAN or connector:<name>. */
  system: string;
  externalId: string;
  status: string;
  /** The actions its state allows now: generic ones (complete, decline, …) first. */
  actions: string[];
};

export type SandboxDelivery = { id: string; event: string; url: string; statusCode: number; error?: string };

export type SandboxResult = {
  system: string;
  externalId: string;
  action: string;
  performed: string;
  status: string;
  deliveries: SandboxDelivery[];
};

/** The sandbox's items, or undefined when the server is not in sandbox mode (404). */
export async function sandboxItems(signal?: AbortSignal): Promise<SandboxItem[] | undefined> {
  const res = await fetch("/sandbox/work-items", { signal, headers: { accept: "application/json" } });
  if (res.status === 404) return undefined;
  if (!res.ok) throw new Error(`the sandbox answered HTTP ${res.status}: ${await errorText(res)}`);
  const body = (await res.json()) as { workItems?: SandboxItem[] };
  return body.workItems ?? [];
}

/** Plays an action at the fake holding the item; it posts its real, signed webhooks to flowhook. */
export async function sandboxAct(externalId: string, action: string, reason: string): Promise<SandboxResult> {
  const res = await fetch(`/sandbox/work-items/${encodeURIComponent(externalId)}/${encodeURIComponent(action)}`, {
    method: "POST",
    headers: { "content-type": "application/json", accept: "application/json" },
    body: JSON.stringify(reason.trim() === "" ? {} : { reason: reason.trim() }),
  });
  if (!res.ok) throw new Error(`the sandbox refused ${action} (HTTP ${res.status}): ${await errorText(res)}`);
  return (await res.json()) as SandboxResult;
}

async function errorText(res: Response): Promise<string> {
  const text = await res.text();
  try {
    const j = JSON.parse(text) as { error?: string };
    return j.error ?? text;
  } catch {
    return text;
  }
}

/** "DOCUSIGN" → "DocuSign", "connector:sandbox" → "ticket system". */
export function sandboxSystemName(system: string): string {
  if (system === "DOCUSIGN") return "DocuSign";
  if (system === "ONESPAN") return "OneSpan";
  if (system.startsWith("connector:")) return "ticket system";
  return system;
}
