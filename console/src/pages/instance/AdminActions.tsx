// Acting on an instance besides its form: an admin cancels it (with a reason, after a confirm
// step) while it is open (ACTIVE or WAITING_EXTERNAL) or FAILED, retries it while it is FAILED,
// reassigns the HUMAN work while it is ACTIVE; the user who started it may cancel it too
// (runner.Cancel: "an admin or the starter").
import { useMutation } from "@connectrpc/connect-query";
import { InstanceStatus, type Instance } from "@flowhook/sdk";
import { useId, useState, type FormEvent } from "react";
import { AllNote, useAll } from "../../all";
import { IdentityService, WorkflowInstanceService } from "../../api";
import { ErrorNote } from "../../ui";

/** What CancelInstance takes: an open instance. */
/** Open (ACTIVE or WAITING_EXTERNAL): its work is still to do. */
export function open(i: Instance): boolean {
  return i.status === InstanceStatus.ACTIVE || i.status === InstanceStatus.WAITING_EXTERNAL;
}

/** CancelInstance takes open instances and FAILED ones (whose failed step is then voided). */
export function cancellable(i: Instance): boolean {
  return open(i) || i.status === InstanceStatus.FAILED;
}

export function AdminActions({ instance, onChanged }: { instance: Instance; onChanged: () => void }) {
  const canCancel = cancellable(instance);
  const failed = instance.status === InstanceStatus.FAILED;
  const retry = useMutation(WorkflowInstanceService.method.retryInstance);
  const [done, setDone] = useState("");

  if (!canCancel && !done) return null;

  return (
    <section className="card" aria-labelledby="admin-title" id="admin-actions">
      <h2 id="admin-title">Administration</h2>
      {done && (
        <p className="success" role="status" id="admin-result">
          {done}
        </p>
      )}
      {failed && (
        <div className="admin-block">
          <h3>Retry</h3>
          <p className="muted">Runs the failed step again; an outside system never gets a second work item.</p>
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
      {instance.status === InstanceStatus.ACTIVE && <Reassign instance={instance} onChanged={onChanged} />}
      {canCancel && (
        <CancelBlock
          instance={instance}
          onCancelled={() => {
            setDone("The instance was cancelled.");
            onChanged();
          }}
        />
      )}
    </section>
  );
}

/** The starter's own actions (not an admin): cancelling what they started, while it is open. */
export function StarterActions({ instance, onChanged }: { instance: Instance; onChanged: () => void }) {
  const [done, setDone] = useState("");
  if (!cancellable(instance) && !done) return null;
  return (
    <section className="card" aria-labelledby="starter-title" id="starter-actions">
      <h2 id="starter-title">You started this instance</h2>
      {done && (
        <p className="success" role="status" id="starter-result">
          {done}
        </p>
      )}
      {cancellable(instance) && (
        <CancelBlock
          instance={instance}
          onCancelled={() => {
            setDone("The instance was cancelled.");
            onChanged();
          }}
        />
      )}
    </section>
  );
}

/** Cancel: a button, then the reason (required, kept in the timeline) and a confirm. */
function CancelBlock({ instance, onCancelled }: { instance: Instance; onCancelled: () => void }) {
  const cancel = useMutation(WorkflowInstanceService.method.cancelInstance);
  const [confirming, setConfirming] = useState(false);
  const [reason, setReason] = useState("");
  const [problem, setProblem] = useState("");
  const reasonId = useId();

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
          setConfirming(false);
          onCancelled();
        },
      },
    );
  };

  return (
    <div className="admin-block">
      <h3>Cancel</h3>
      {!confirming && (
        <button type="button" className="danger" id="cancel-instance" onClick={() => setConfirming(true)}>
          Cancel instance…
        </button>
      )}
      {confirming && (
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
    </div>
  );
}

function Reassign({ instance, onChanged }: { instance: Instance; onChanged: () => void }) {
  const users = useAll(IdentityService.method.listUsers, {}, (r) => r.users, { staleTime: 60_000 });
  const groups = useAll(IdentityService.method.listGroups, {}, (r) => r.groups, { staleTime: 60_000 });
  const reassign = useMutation(WorkflowInstanceService.method.reassignInstance);
  const [to, setTo] = useState("");
  const [reason, setReason] = useState("");
  const [done, setDone] = useState("");
  const [problem, setProblem] = useState("");
  const toId = useId();
  const reasonId = useId();
  const current = instance.assignee?.assignee;
  const submit = (e: FormEvent) => {
    e.preventDefault();
    setDone("");
    const [kind, id] = to.split(":");
    if (!id) {
      setProblem("Choose who takes the work over.");
      return;
    }
    setProblem("");
    reassign.mutate(
      {
        instanceId: instance.id,
        assignee: { assignee: kind === "group" ? { case: "groupId", value: id } : { case: "userId", value: id } },
        reason: reason.trim(),
      },
      {
        onSuccess: () => {
          const label = (document.getElementById(toId) as HTMLSelectElement | null)?.selectedOptions[0]?.text ?? "";
          setDone(`Reassigned to ${label}.`);
          setTo("");
          setReason("");
          onChanged();
        },
      },
    );
  };
  return (
    <form className="admin-block" onSubmit={submit} noValidate aria-labelledby="reassign-title">
      <h3 id="reassign-title">Reassign</h3>
      <div className={problem ? "field invalid" : "field"}>
        <label htmlFor={toId}>Reassign to</label>
        <select
          id={toId}
          value={to}
          onChange={(e) => setTo(e.target.value)}
          disabled={reassign.isPending}
          aria-invalid={problem ? true : undefined}
          aria-describedby={problem ? `${toId}-problem` : undefined}
        >
          <option value="">Choose a user or group…</option>
          <optgroup label="Users">
            {(users.data?.items ?? [])
              .filter((u) => !u.deactivated && !(current?.case === "userId" && current.value === u.id))
              .map((u) => (
                <option key={u.id} value={`user:${u.id}`}>
                  {u.displayName || u.email} ({u.email})
                </option>
              ))}
          </optgroup>
          <optgroup label="Groups">
            {(groups.data?.items ?? [])
              .filter((g) => !(current?.case === "groupId" && current.value === g.id))
              .map((g) => (
                <option key={g.id} value={`group:${g.id}`}>
                  group {g.name}
                </option>
              ))}
          </optgroup>
        </select>
        {problem && (
          <p className="problem" role="alert" id={`${toId}-problem`}>
            {problem}
          </p>
        )}
      </div>
      <div className="field">
        <label htmlFor={reasonId}>Why (optional, kept in the timeline)</label>
        <input id={reasonId} value={reason} onChange={(e) => setReason(e.target.value)} disabled={reassign.isPending} />
      </div>
      <AllNote list={users} what="users" />
      <AllNote list={groups} what="groups" />
      <ErrorNote error={users.error ?? groups.error} title="Users and groups could not be read" />
      <ErrorNote error={reassign.error} title="Reassign was refused" />
      {done && (
        <p className="success" role="status" id="reassign-result">
          {done}
        </p>
      )}
      <div className="admin-row">
        <button type="submit" id="reassign-instance" disabled={reassign.isPending}>
          {reassign.isPending ? "Reassigning…" : "Reassign"}
        </button>
      </div>
    </form>
  );
}
