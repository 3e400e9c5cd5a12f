// The sandbox panel (only under `flowhook dev`): on an instance waiting on a sandbox provider,
// buttons that act as the outside system. Each plays the action at the fake, which posts its
// real, signed webhook to flowhook; the timeline then moves through polling.
import { useMutation, useQuery } from "@tanstack/react-query";
import { InstanceStatus, type Instance } from "@flowhook/sdk";
import { useId, useState } from "react";
import { sandboxAct, sandboxItems, sandboxSystemName, type SandboxResult } from "../../sandbox";
import { ErrorNote, label } from "../../ui";

export function SandboxPanel({ instance, onActed }: { instance: Instance; onActed: () => void }) {
  const waiting = instance.status === InstanceStatus.WAITING_EXTERNAL;
  const externalId = instance.workItem?.externalId ?? "";
  const items = useQuery({
    queryKey: ["sandbox", "work-items"],
    queryFn: ({ signal }) => sandboxItems(signal),
    refetchInterval: (q) => (q.state.data === undefined && q.state.status === "success" ? false : waiting ? 2000 : false),
    retry: false,
    enabled: waiting,
  });
  const [reason, setReason] = useState("");
  const [last, setLast] = useState<SandboxResult | undefined>();
  const act = useMutation({
    mutationFn: (action: string) => sandboxAct(externalId, action, reason),
    onSuccess: (r) => {
      setLast(r);
      onActed();
    },
  });
  const reasonId = useId();

  // Nothing at all unless the server is in sandbox mode (the listing answers) and it holds the item.
  if (!waiting && !last) return null;
  const item = items.data?.find((i) => i.externalId === externalId && externalId !== "");
  if (!last && (!item || item.actions.length === 0)) {
    if (items.error) return <ErrorNote error={items.error} title="The sandbox could not be read" />;
    return null;
  }
  const system = sandboxSystemName(item?.system ?? last?.system ?? "");
  return (
    <section className="card sandbox" aria-labelledby="sandbox-title" id="sandbox-panel">
      <h2 id="sandbox-title">
        <span className="badge sandbox-badge">Sandbox</span> — act as {system}
      </h2>
      <p className="muted">
        Only under <code>flowhook dev</code>: these buttons play the outside system, which sends its real, signed webhook to flowhook.
        Item <code>{externalId}</code>
        {item && <> is {item.status} at the fake {system}</>}.
      </p>
      {item && item.actions.length > 0 && (
        <>
          <div className="field">
            <label htmlFor={reasonId}>Reason (optional)</label>
            <input id={reasonId} value={reason} onChange={(e) => setReason(e.target.value)} disabled={act.isPending} />
          </div>
          <div className="sandbox-actions" role="group" aria-label={`Actions of ${system}`}>
            {item.actions.map((a) => (
              <button
                key={a}
                type="button"
                data-sandbox-action={a}
                className={a === "complete" ? "primary" : ["decline", "void", "delete", "expire"].includes(a) ? "danger" : undefined}
                disabled={act.isPending}
                onClick={() => {
                  setLast(undefined);
                  act.mutate(a);
                }}
              >
                {label(a)}
              </button>
            ))}
          </div>
        </>
      )}
      {act.isPending && (
        <p className="muted" role="status">
          Sending {act.variables}…
        </p>
      )}
      {act.error && <ErrorNote error={act.error} title="The sandbox refused that" />}
      {last && (
        <div className="success" role="status" id="sandbox-result">
          <strong>
            {system}: {last.action}
            {last.performed !== last.action && <> (played as {last.performed})</>} → {last.status}
          </strong>
          {last.deliveries.length === 0 ? (
            <p>No webhook was sent.</p>
          ) : (
            <ul>
              {last.deliveries.map((d) => (
                <li key={d.id}>
                  {d.event}: flowhook answered HTTP {d.statusCode || "—"}
                  {d.error && <> ({d.error})</>}
                </li>
              ))}
            </ul>
          )}
        </div>
      )}
    </section>
  );
}
