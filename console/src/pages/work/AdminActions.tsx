// Admin actions on an instance: cancel (with a reason, after a confirm step) while it is open,
// retry while it is FAILED.
import { useMutation } from "@connectrpc/connect-query";
import { InstanceStatus, type Instance } from "@flowhook/sdk";
import { useId, useState, type FormEvent } from "react";
import { WorkflowInstanceService } from "../../api";
import { ErrorNote } from "../../ui";

export function AdminActions({ instance, onChanged }: { instance: Instance; onChanged: () => void }) {
  const open = [InstanceStatus.ACTIVE, InstanceStatus.WAITING_EXTERNAL, InstanceStatus.FAILED].includes(instance.status);
  const failed = instance.status === InstanceStatus.FAILED;
  const cancel = useMutation(WorkflowInstanceService.method.cancelInstance);
  const retry = useMutation(WorkflowInstanceService.method.retryInstance);
  const [confirming, setConfirming] = useState(false);
  const [reason, setReason] = useState("");
  const [problem, setProblem] = useState("");
  const [done, setDone] = useState("");
  const reasonId = useId();

  if (!open && !done) return null;

  const submitCancel = (e: FormEvent) => {
    e.preventDefault();
    if (reason.trim() === "") {
      setProblem("Reason is required: say why it is cancelled (kept in the timeline).");
      return;
    }
    setProblem("");
    cancel.mutate(
      { instanceId: instance.id, reason: reason.trim() },
      {
        onSuccess: () => {
          setDone("The instance was cancelled.");
          setConfirming(false);
          onChanged();
        },
      },
    );
  };

  return (
    <section className="card" aria-labelledby="admin-title" id="admin-actions">
      <h2 id="admin-title">Administration</h2>
      {done && (
        <p className="success" role="status" id="admin-result">
          {done}
        </p>
      )}
      {failed && (
        <div className="admin-row">
          <button
            type="button"
            id="retry-instance"
            disabled={retry.isPending}
            onClick={() =>
              retry.mutate(
                { instanceId: instance.id },
                {
                  onSuccess: () => {
                    setDone("The failed step is being retried.");
                    onChanged();
                  },
                },
              )
            }
          >
            {retry.isPending ? "Retrying…" : "Retry the failed step"}
          </button>
          <ErrorNote error={retry.error} title="Retry was refused" />
        </div>
      )}
      {open && !confirming && (
        <button type="button" className="danger" id="cancel-instance" onClick={() => setConfirming(true)}>
          Cancel instance…
        </button>
      )}
      {open && confirming && (
        <form onSubmit={submitCancel} noValidate aria-label="Cancel the instance">
          <div className={problem ? "field invalid" : "field"}>
            <label htmlFor={reasonId}>Why is it cancelled? *</label>
            <textarea
              id={reasonId}
              value={reason}
              required
              aria-invalid={problem ? true : undefined}
              aria-describedby={problem ? `${reasonId}-problem` : undefined}
              disabled={cancel.isPending}
              onChange={(e) => setReason(e.target.value)}
            />
            {problem && (
              <p className="problem" role="alert" id={`${reasonId}-problem`}>
                {problem}
              </p>
            )}
          </div>
          <ErrorNote error={cancel.error} title="Cancel was refused" />
          <div className="admin-row">
            <button type="submit" className="danger" id="confirm-cancel" disabled={cancel.isPending}>
              {cancel.isPending ? "Cancelling…" : "Confirm: cancel the instance"}
            </button>
            <button type="button" onClick={() => setConfirming(false)} disabled={cancel.isPending}>
              Keep it
            </button>
          </div>
        </form>
      )}
    </section>
  );
}
