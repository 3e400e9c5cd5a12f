// The signed document of an instance (DocuSign's combined PDF…), downloaded through a Blob URL:
// shown only when there is one (NotFound means none yet; it is fetched shortly after the work
// item FINISHED, so it is polled for a while then). A state may map the provider's completion
// to another outcome (outcome_overrides: envelope-completed → APPROVED) and the document is
// kept all the same, so any resolved work item of a provider that keeps documents is asked
// about too, briefly and silently: a declined envelope simply has none.
import { useQuery } from "@connectrpc/connect-query";
import { Code, ConnectError, Outcome, Provider, type Instance } from "@flowhook/sdk";
import { useEffect, useMemo } from "react";
import { WorkflowInstanceService } from "../../api";
import { ErrorNote, Time } from "../../ui";

export function SignedDocument({ instance }: { instance: Instance }) {
  const wi = instance.workItem;
  const finished = wi?.outcome === Outcome.FINISHED && !instance.documentsErasedAt;
  const keeps = wi?.provider === Provider.DOCUSIGN || wi?.provider === Provider.ONESPAN;
  const maybe = !finished && keeps && wi?.status === "RESOLVED" && !instance.documentsErasedAt;
  const doc = useQuery(
    WorkflowInstanceService.method.getSignedDocument,
    { instanceId: instance.id },
    {
      enabled: finished || maybe,
      retry: false,
      staleTime: Infinity,
      // Fetched by a background job shortly after the outcome: asked again for about a minute
      // (ten seconds where the outcome is not FINISHED).
      refetchInterval: (q) =>
        q.state.error && ConnectError.from(q.state.error).code === Code.NotFound && q.state.errorUpdateCount < (finished ? 30 : 5) ? 2000 : false,
    },
  );
  const d = doc.data;
  const href = useMemo(() => (d ? URL.createObjectURL(new Blob([d.content.slice()], { type: d.contentType || "application/pdf" })) : undefined), [d]);
  useEffect(() => () => (href ? URL.revokeObjectURL(href) : undefined), [href]);

  if (instance.documentsErasedAt) {
    return (
      <p className="notice">
        The signed document was erased by retention on <Time ts={instance.documentsErasedAt} />.
      </p>
    );
  }
  if (!finished && !(maybe && doc.data)) return null;
  if (doc.error && ConnectError.from(doc.error).code === Code.NotFound) {
    return (
      <p className="muted" role="status" id="signed-document-pending">
        {doc.errorUpdateCount < 30
          ? "The signed document is being fetched…"
          : "No signed document has been kept for this work item yet (the server log says why)."}
      </p>
    );
  }
  if (doc.error) return <ErrorNote error={doc.error} title="The signed document could not be read" />;
  if (!d || !href) return null;
  return (
    <div className="signed-doc" id="signed-document">
      <h3>Signed document</h3>
      <p>
        <a href={href} download={d.name || "signed.pdf"} className="button">
          Download {d.name || "signed.pdf"}
        </a>{" "}
        <span className="muted">{formatBytes(d.content.length)}</span>
      </p>
      <p className="muted sha">
        SHA-256 <code>{d.sha256}</code>
      </p>
      <p className="muted">
        Kept <Time ts={d.createdAt} />
      </p>
    </div>
  );
}

function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}
