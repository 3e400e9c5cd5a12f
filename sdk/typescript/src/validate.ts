// Checking a request before sending it, with the rules the server checks: the protovalidate
// rules declared in flowhook's .proto files (lengths, patterns, ranges, ids, defined enums,
// required fields) travel in the generated descriptors, and @bufbuild/protovalidate evaluates
// them here exactly as protovalidate-go does on the server, with the same rule ids.
import type { DescMessage, MessageShape } from "@bufbuild/protobuf";
import { createValidator, violationsToProto, type Validator } from "@bufbuild/protovalidate";
import { ViolationsSchema, type FieldPath, type Violations } from "@bufbuild/protovalidate/gen/buf/validate/validate_pb.js";
import { ConnectError } from "@connectrpc/connect";

export { createValidator, type Validator } from "@bufbuild/protovalidate";

/** A rule a request breaks. */
export interface RuleViolation {
  /**
   * Where, in the form the server's problems use: field names as in the .proto file, indexes
   * and map keys in brackets, e.g. `workflow.states[1].key`, `roles[0]`,
   * `outcome_overrides["envelope-voided"]`.
   */
  path: string;
  /** The rule's id, e.g. `string.max_len`, `string.uuid`, `enum.defined_only`, `required`. */
  ruleId: string;
  /** Readable, e.g. "value length must be at most 64 characters". */
  message: string;
}

let shared: Validator | undefined;

/**
 * The rules a request breaks, checked in the client; an empty list when it breaks none. The
 * server checks the same rules and refuses such a request with InvalidArgument, whose
 * `ruleViolations` are these. Cross-field checks (a draft's graph, whether a user exists) are
 * the server's alone.
 *
 * ```ts
 * const problems = validateRequest(CreateUserRequestSchema, create(CreateUserRequestSchema, input));
 * if (problems.length > 0) showNextToFields(problems);
 * ```
 */
export function validateRequest<Desc extends DescMessage>(schema: Desc, message: MessageShape<Desc>): RuleViolation[] {
  shared ??= createValidator();
  const result = shared.validate(schema, message);
  switch (result.kind) {
    case "valid":
      return [];
    case "invalid":
      return fromProto(violationsToProto(result.violations)[0]);
    default:
      // A rule that cannot be evaluated is a defect of the rules, not of the request.
      throw result.error;
  }
}

/**
 * The rule violations an error from the server carries (its `buf.validate.Violations`
 * detail); empty when it has none. `validationProblems` lists every problem of the request,
 * these included, with flowhook's messages.
 */
export function ruleViolations(err: unknown): RuleViolation[] {
  if (!(err instanceof ConnectError)) {
    return [];
  }
  return err.findDetails(ViolationsSchema).flatMap(fromProto);
}

function fromProto(v: Violations): RuleViolation[] {
  return v.violations.map((x) => ({ path: x.field ? pathString(x.field) : "", ruleId: x.ruleId, message: x.message }));
}

/** A field path as protovalidate-go's FieldPathString writes it. */
function pathString(p: FieldPath): string {
  return p.elements
    .map((e) => {
      const s = e.subscript;
      switch (s.case) {
        case "index":
        case "intKey":
        case "uintKey":
        case "boolKey":
          return `${e.fieldName}[${String(s.value)}]`;
        case "stringKey":
          return `${e.fieldName}[${JSON.stringify(s.value)}]`;
        default:
          return e.fieldName;
      }
    })
    .join(".");
}
