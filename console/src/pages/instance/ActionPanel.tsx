// The action panel of Form Activity: the current HUMAN state's outgoing transitions, each taken
// with the state's form (the server validates TakeTransition's form_data against the current
// state's form_fields), checked here first by the same rules, the server's problems shown at
// the fields they name, and expected_revision sent so that a change made meanwhile is a
// conflict, explained, not an overwrite.
import { useMutation } from "@connectrpc/connect-query";
import { Code, ConnectError, type Instance, type WorkflowVersion } from "@flowhook/sdk";
import { useState, type FormEvent } from "react";
import { WorkflowInstanceService } from "../../api";
import { checkForm, FormFields, initialValues, serverProblems, toFormData, type FormValues } from "../../form";
import { ErrorNote } from "../../ui";
import { namer } from "./timeline";

export function ActionPanel(props: {
  instance: Instance;
  version: WorkflowVersion;
  onChanged: () => void;
  /** Reads the instance again; resolves to its revision now. */
  reload: () => Promise<bigint | undefined>;
  onTaken: (now: Instance, transitionName: string) => void;
}) {
  const { instance, version } = props;
  const state = version.states.find((s) => s.key === instance.stateKey);
  const transitions = version.transitions.filter((t) => t.fromState === instance.stateKey && !t.onTimeout && t.onOutcome === 0);
  const n = namer(version);
  const fields = state?.formFields ?? [];
  const [choice, setChoice] = useState(transitions[0]?.key ?? "");
  const [values, setValues] = useState<FormValues>(() => initialValues(fields, instance.formData));
  const [problems, setProblems] = useState<Record<string, string>>({});
  const [other, setOther] = useState<string[]>([]);
  // The revision the form was filled against: a change since is a conflict, not an overwrite.
  const [revision, setRevision] = useState(instance.revision);
  const take = useMutation(WorkflowInstanceService.method.takeTransition);

  if (transitions.length === 0) {
    return <p className="muted">This state has no transition to take by hand.</p>;
  }
  const chosen = transitions.find((t) => t.key === choice) ?? transitions[0];
  const conflict =
    take.error && [Code.Aborted, Code.FailedPrecondition].includes(ConnectError.from(take.error).code) ? take.error : undefined;

  const submit = (e: FormEvent) => {
    e.preventDefault();
    const found = checkForm(fields, values);
    setProblems(found);
    setOther([]);
    if (Object.keys(found).length > 0) {
      focusFirstInvalid(e.currentTarget as HTMLFormElement);
      return;
    }
    take.mutate(
      {
        instanceId: instance.id,
        transitionKey: chosen.key,
        formData: toFormData(fields, values),
        expectedRevision: revision,
      },
      {
        onSuccess: (res) => {
          if (res.instance) props.onTaken(res.instance, n.transition(chosen.key));
          props.onChanged();
        },
        onError: (err) => {
          const sp = serverProblems(err);
          setProblems(sp.fields);
          setOther(sp.other);
        },
      },
    );
  };

  return (
    <form onSubmit={submit} noValidate id="action-form" aria-label={`Act on ${n.state(instance.stateKey)}`}>
      {transitions.length > 1 && (
        <fieldset className="choices">
          <legend>What do you do?</legend>
          {transitions.map((t) => (
            <div key={t.key} className="field check">
              <input
                type="radio"
                id={`transition-${t.key}`}
                name="transition"
                value={t.key}
                checked={chosen.key === t.key}
                disabled={take.isPending}
                onChange={() => setChoice(t.key)}
              />
              <label htmlFor={`transition-${t.key}`}>
                {n.transition(t.key)} <span className="muted">→ {n.state(t.toState)}</span>
              </label>
            </div>
          ))}
        </fieldset>
      )}
      <FormFields fields={fields} values={values} problems={problems} onChange={setValues} disabled={take.isPending} />
      {conflict ? (
        <div className="error" role="alert" id="take-conflict">
          <strong>The instance changed meanwhile.</strong>
          <p>
            Someone else acted on it, or it moved on, since this page was loaded ({ConnectError.from(conflict).rawMessage}). Reload it
            to see where it is now; your entries are kept.
          </p>
          <button
            type="button"
            onClick={() => {
              void props.reload().then((rev) => {
                if (rev !== undefined) setRevision(rev);
                take.reset();
              });
            }}
          >
            Reload the instance
          </button>
        </div>
      ) : (
        take.error &&
        (other.length > 0 || Object.keys(problems).length === 0) && <ErrorNote error={take.error} title="The transition was refused" />
      )}
      <button type="submit" className="primary" id="take-transition" disabled={take.isPending}>
        {take.isPending ? "Sending…" : n.transition(chosen.key)}
      </button>
    </form>
  );
}

function focusFirstInvalid(form: HTMLFormElement) {
  requestAnimationFrame(() => form.querySelector<HTMLElement>("[aria-invalid=true]")?.focus());
}
