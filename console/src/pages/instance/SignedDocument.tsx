// The signed document of an instance (DocuSign's combined PDF…), downloaded through a Blob URL:
// shown only when there is one (NotFound means none yet; it is fetched shortly after the work
// item FINISHED, so it is polled for a while then). A state may map the provider's completion
// to another outcome (outcome_overrides: envelope-completed → APPROVED) and the document is
// kept all the same, so any resolved work item of a provider that keeps documents is asked
// about too, briefly and silently: a declined envelope simply has none.
//
// The document shown is this work item's where its provider keeps one: the query is keyed by
// it, and an answer of another work item (an earlier signature step's) counts as none yet,
// polled like NotFound — never shown as this step's signed document. Where this work item's
// system keeps none (a connector's ticket after a signature step), the instance's signed
// document is the earlier step's, and it is shown.
import { createClient } from "@connectrpc/connect";
import { Code, ConnectError, Outcome, Provider, type Instance } from "@flowhook/sdk";
import { useQuery } from "@tanstack/react-query";
import { useEffect, useMemo } from "react";
import { transport, WorkflowInstanceService } from "../../api";
import { ErrorNote, Time } from "../../ui";

const instances = createClient(WorkflowInstanceService, transport);

/** The instance's signed document; with workItemId, that work item's (NotFound while it has none). */
async function signedDocumentOf(instanceId: string, workItemId: string, signal: AbortSignal) {
  const doc = await instances.getSignedDocument({ instanceId }, { signal });
  if (workItemId !== "" && doc.workItemId !== workItemId) {
    throw new ConnectError("this work item's signed document has not been kept yet", Code.NotFound);
  }
  return doc;
}

export function SignedDocument({ instance }: { instance: Instance }) {
  const wi = instance.workItem;
  const finished = wi?.outcome === Outcome.FINISHED && !instance.documentsErasedAt;
  const keeps = wi?.provider === Provider.DOCUSIGN || wi?.provider === Provider.ONESPAN;
  const maybe = !finished && keeps && wi?.status === "RESOLVED" && !instance.documentsErasedAt;
  const workItemId = wi?.id ?? "";
  const doc = useQuery({
    queryKey: ["signed-document", instance.id, workItemId],
    queryFn: ({ signal }) => signedDocumentOf(instance.id, keeps ? workItemId : "", signal),
    enabled: (finished || maybe) && workItemId !== "",
    retry: false,
    staleTime: Infinity,
    // Fetched by a background job shortly after the outcome: asked again for about a minute
    // (ten seconds where the outcome is not FINISHED).
    refetchInterval: (q) =>
      q.state.error && ConnectError.from(q.state.error).code === Code.NotFound && q.state.errorUpdateCount < (finished ? 30 : 5) ? 2000 : false,
  });
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
