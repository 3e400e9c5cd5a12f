// Reading flowhook's errors: every failed call rejects with a ConnectError whose code says what
// kind of failure it is and, for invalid input, whose details list every problem found.
import { Code, ConnectError } from "@connectrpc/connect";
import { ValidationErrorDetailsSchema, type Problem } from "./gen/flowhook/v1/workflow_pb.js";

export { Code, ConnectError };

/**
 * The Connect code of an error: the server's for a ConnectError, `Code.Canceled` for an
 * aborted call, `Code.Unknown` for anything else (a network failure is `Code.Unavailable` or
 * `Code.Unknown`, depending on the transport).
 */
export function errorCode(err: unknown): Code {
  return ConnectError.from(err).code;
}

/** Whether err is a ConnectError with the code. */
export function hasCode(err: unknown, code: Code): boolean {
  return err instanceof ConnectError && err.code === code;
}

/**
 * The name of a code as the Connect protocol writes it: `invalid_argument`, `unauthenticated`,
 * `failed_precondition`, …
 */
export function codeName(code: Code): string {
  const name = Code[code];
  return name === undefined ? `code_${code}` : name.replace(/([a-z])([A-Z])/g, "$1_$2").toLowerCase();
}

/**
 * The validation problems an error carries (`flowhook.v1.ValidationErrorDetails`): each with a
 * `path` into the request (`states[2].external.signers`, `form_data.signer_email`) and a
 * readable `message`. Empty when the error has none, or is not a ConnectError. flowhook sends
 * them with `InvalidArgument` (a broken draft, a bad form) and some `FailedPrecondition`
 * errors, listing every problem at once.
 */
export function validationProblems(err: unknown): Problem[] {
  if (!(err instanceof ConnectError)) {
    return [];
  }
  return err.findDetails(ValidationErrorDetailsSchema).flatMap((d) => d.problems);
}

/**
 * A one-paragraph description of an error for people: the code, the server's message and one
 * line per validation problem.
 *
 * ```
 * invalid_argument: invalid request: states: a workflow needs exactly one START state (and 1 more problems)
 *   - states: a workflow needs exactly one START state
 *   - transitions[0].to_state: no state "nowhere"
 * ```
 */
export function describeError(err: unknown): string {
  const ce = ConnectError.from(err);
  const lines = [`${codeName(ce.code)}: ${ce.rawMessage}`];
  for (const p of validationProblems(ce)) {
    lines.push(`  - ${p.path === "" ? "(request)" : p.path}: ${p.message}`);
  }
  return lines.join("\n");
}
