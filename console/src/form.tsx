// Forms of workflow states: one input per FormField, checked in the browser by the same rules
// the server applies (engine.ValidateForm: type, required, email and date shapes, lengths), and
// the server's own problems shown at the field they name (path "form_data.<field>").
import { FieldType, validationProblems, type FormField, type JsonObject, type JsonValue } from "@flowhook/sdk";
import { useId } from "react";

export type FormValues = Record<string, string | boolean>;

const MAX_VALUE_LEN = 10_000;
// Go's net/mail accepts more, but a plain address is what a signer's email field holds.
const EMAIL = /^[^\s@<>(),;:"[\]]+@[^\s@<>(),;:"[\]]+\.[^\s@<>(),;:"[\]]+$/;

/** Initial values: from existing form data where present. */
export function initialValues(fields: FormField[], data?: JsonObject): FormValues {
  const v: FormValues = {};
  for (const f of fields) {
    const d = data?.[f.name];
    if (f.type === FieldType.BOOL) v[f.name] = d === true;
    else v[f.name] = d === undefined || d === null ? "" : String(d);
  }
  return v;
}

/** The problems of values against fields, by field name: what the server would say. */
export function checkForm(fields: FormField[], values: FormValues): Record<string, string> {
  const out: Record<string, string> = {};
  for (const f of fields) {
    const v = values[f.name];
    if (f.type === FieldType.BOOL) continue;
    const s = typeof v === "string" ? v.trim() : "";
    if (s === "") {
      if (f.required) out[f.name] = "is required";
      continue;
    }
    if ([...s].length > MAX_VALUE_LEN) out[f.name] = `must be at most ${MAX_VALUE_LEN} characters`;
    else if (f.type === FieldType.NUMBER && !Number.isFinite(Number(s))) out[f.name] = `must be a number`;
    else if (f.type === FieldType.EMAIL && (!EMAIL.test(s) || s.length > 254)) out[f.name] = `"${s}" is not an email address`;
    else if (f.type === FieldType.DATE && !validDate(s)) out[f.name] = `"${s}" is not a date of the form YYYY-MM-DD`;
  }
  return out;
}

function validDate(s: string): boolean {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(s)) return false;
  const d = new Date(s + "T00:00:00Z");
  return !Number.isNaN(d.getTime()) && d.toISOString().slice(0, 10) === s;
}

/** The form data to send: typed values, empty optional values left out. */
export function toFormData(fields: FormField[], values: FormValues): JsonObject {
  const out: Record<string, JsonValue> = {};
  for (const f of fields) {
    const v = values[f.name];
    if (f.type === FieldType.BOOL) {
      out[f.name] = v === true;
      continue;
    }
    const s = typeof v === "string" ? v.trim() : "";
    if (s === "") continue;
    out[f.name] = f.type === FieldType.NUMBER ? Number(s) : s;
  }
  return out;
}

/**
 * The server's validation problems of err, by form field name (from "form_data.<name>"), and
 * the rest as messages for the whole form.
 */
export function serverProblems(err: unknown): { fields: Record<string, string>; other: string[] } {
  const fields: Record<string, string> = {};
  const other: string[] = [];
  for (const p of validationProblems(err)) {
    const m = /^form_data\.(.+)$/.exec(p.path);
    if (m) fields[m[1]] = p.message;
    else other.push(p.path === "" ? p.message : `${p.path}: ${p.message}`);
  }
  return { fields, other };
}

const INPUT: Record<number, string> = {
  [FieldType.STRING]: "text",
  [FieldType.NUMBER]: "text",
  [FieldType.EMAIL]: "email",
  [FieldType.DATE]: "date",
};

/** The inputs of a form; problems are shown under the field they concern. */
export function FormFields(props: {
  fields: FormField[];
  values: FormValues;
  problems: Record<string, string>;
  onChange: (v: FormValues) => void;
  disabled?: boolean;
}) {
  const id = useId();
  if (props.fields.length === 0) return <p className="muted">This step has no form.</p>;
  return (
    <div className="fields">
      {props.fields.map((f) => {
        const fid = `${id}-${f.name}`;
        const problem = props.problems[f.name];
        const label = f.label || f.name;
        if (f.type === FieldType.BOOL) {
          return (
            <div key={f.name} className="field check">
              <input
                id={fid}
                type="checkbox"
                name={f.name}
                checked={props.values[f.name] === true}
                disabled={props.disabled}
                onChange={(e) => props.onChange({ ...props.values, [f.name]: e.target.checked })}
              />
              <label htmlFor={fid}>{label}</label>
            </div>
          );
        }
        return (
          <div key={f.name} className={problem ? "field invalid" : "field"}>
            <label htmlFor={fid}>
              {label}
              {f.required && <span aria-hidden="true"> *</span>}
            </label>
            <input
              id={fid}
              name={f.name}
              type={INPUT[f.type] ?? "text"}
              inputMode={f.type === FieldType.NUMBER ? "decimal" : undefined}
              required={f.required}
              aria-required={f.required}
              aria-invalid={problem ? true : undefined}
              aria-describedby={problem ? `${fid}-problem` : undefined}
              value={String(props.values[f.name] ?? "")}
              disabled={props.disabled}
              onChange={(e) => props.onChange({ ...props.values, [f.name]: e.target.value })}
            />
            {problem && (
              <p id={`${fid}-problem`} className="problem" role="alert">
                {label} {problem}
              </p>
            )}
          </div>
        );
      })}
    </div>
  );
}
