// The Designer's model: the draft being edited (the generated WorkflowDraft message, changed on
// a clone), what is selected, and the validation problems mapped to the element they concern by
// the index in their path ("states[1].external.signers" → state 1, "external.signers").
import {
  AssigneeSchema,
  create,
  clone,
  ExternalStepSchema,
  Provider,
  StateKind,
  StateSchema,
  TransitionSchema,
  WorkflowDraftSchema,
  type Problem,
  type State,
  type WorkflowDraft,
} from "@flowhook/sdk";

export type Selection = { kind: "workflow" } | { kind: "state"; index: number } | { kind: "transition"; index: number };

/** A problem placed: on the workflow, a state or a transition, with the path inside it. */
export type Placed = Problem & { target: Selection; sub: string };

/** Places a problem by its path; "workflow." (the prefix of UpdateWorkflow's problems) is dropped. */
export function place(p: Problem): Placed {
  const path = p.path.startsWith("workflow.") ? p.path.slice("workflow.".length) : p.path === "workflow" ? "" : p.path;
  const m = /^(states|transitions)\[(\d+)\]\.?(.*)$/.exec(path);
  if (m) {
    const index = Number(m[2]);
    return { ...p, path, target: m[1] === "states" ? { kind: "state", index } : { kind: "transition", index }, sub: m[3] };
  }
  return { ...p, path, target: { kind: "workflow" }, sub: path };
}

export function sameTarget(a: Selection, b: Selection): boolean {
  if (a.kind !== b.kind) return false;
  if (a.kind === "workflow" || b.kind === "workflow") return true;
  return a.index === b.index;
}

export function problemsOf(ps: Placed[], target: Selection): Placed[] {
  return ps.filter((p) => sameTarget(p.target, target));
}

/** The messages for exactly this sub-path of the target. */
export function messagesAt(ps: Placed[], target: Selection, sub: string): string[] {
  return ps.filter((p) => sameTarget(p.target, target) && p.sub === sub).map((p) => p.message);
}

/** The messages for this sub-path of the target and everything under it. */
export function messagesUnder(ps: Placed[], target: Selection, sub: string): { sub: string; message: string }[] {
  return ps
    .filter((p) => sameTarget(p.target, target) && (p.sub === sub || p.sub.startsWith(sub + ".") || p.sub.startsWith(sub + "[")))
    .map((p) => ({ sub: p.sub, message: p.message }));
}

/** Applies a change to a copy of the draft. */
export function edit(d: WorkflowDraft, fn: (c: WorkflowDraft) => void): WorkflowDraft {
  const c = clone(WorkflowDraftSchema, d);
  fn(c);
  return c;
}

/** The smallest valid draft: START → END. */
export function minimalDraft(name: string): WorkflowDraft {
  return create(WorkflowDraftSchema, {
    name,
    states: [
      { key: "start", name: "Start", kind: StateKind.START },
      { key: "end", name: "End", kind: StateKind.END },
    ],
    transitions: [{ key: "finish", name: "Finish", fromState: "start", toState: "end" }],
  });
}

function freeKey(used: string[], base: string): string {
  for (let n = used.length + 1; ; n++) {
    const k = `${base}_${n}`;
    if (!used.includes(k)) return k;
  }
}

export function addState(d: WorkflowDraft): WorkflowDraft {
  return edit(d, (c) => {
    const key = freeKey(
      c.states.map((s) => s.key),
      "state",
    );
    c.states.push(create(StateSchema, { key, name: "", kind: StateKind.HUMAN, assignee: { assignee: { case: "userId", value: "" } } }));
  });
}

export function addTransition(d: WorkflowDraft, from: string): WorkflowDraft {
  return edit(d, (c) => {
    const key = freeKey(
      c.transitions.map((t) => t.key),
      "transition",
    );
    c.transitions.push(create(TransitionSchema, { key, fromState: from, toState: "" }));
  });
}

/** Removes a state and the transitions into and out of it. */
export function removeState(d: WorkflowDraft, index: number): WorkflowDraft {
  return edit(d, (c) => {
    const key = c.states[index]?.key;
    c.states.splice(index, 1);
    if (key && !c.states.some((s) => s.key === key)) {
      c.transitions = c.transitions.filter((t) => t.fromState !== key && t.toState !== key);
    }
  });
}

/** The transitions out of and into a state (when its key is unique): they follow a rename. */
export type Links = { from: number[]; to: number[] };
export function linksOf(d: WorkflowDraft, index: number): Links {
  const key = d.states[index]?.key ?? "";
  if (key === "" || d.states.filter((s) => s.key === key).length !== 1) return { from: [], to: [] };
  const from: number[] = [];
  const to: number[] = [];
  d.transitions.forEach((t, i) => {
    if (t.fromState === key) from.push(i);
    if (t.toState === key) to.push(i);
  });
  return { from, to };
}

/** Renames a state; the linked transitions (see linksOf, taken when the editing began) follow. */
export function renameState(c: WorkflowDraft, index: number, key: string, links: Links) {
  c.states[index].key = key;
  for (const i of links.from) if (c.transitions[i]) c.transitions[i].fromState = key;
  for (const i of links.to) if (c.transitions[i]) c.transitions[i].toState = key;
}

/** Changes a state's kind, keeping only what the new kind may have. */
export function setKind(s: State, kind: StateKind) {
  s.kind = kind;
  if (kind !== StateKind.HUMAN) s.assignee = undefined;
  else if (!s.assignee) s.assignee = create(AssigneeSchema, { assignee: { case: "userId", value: "" } });
  if (kind !== StateKind.EXTERNAL) s.external = undefined;
  else if (!s.external) s.external = create(ExternalStepSchema, { provider: Provider.DOCUSIGN });
  if (kind !== StateKind.START && kind !== StateKind.HUMAN) s.formFields = [];
  if (kind !== StateKind.HUMAN && kind !== StateKind.EXTERNAL) s.timeout = undefined;
}

export const KIND_LABEL: Record<number, string> = {
  [StateKind.START]: "Start",
  [StateKind.HUMAN]: "Human",
  [StateKind.EXTERNAL]: "External",
  [StateKind.END]: "End",
};

/** How a selection is named in words: "state “approve”", "transition “submit”", "the workflow". */
export function targetName(d: WorkflowDraft, t: Selection): string {
  if (t.kind === "state") {
    const s = d.states[t.index];
    return s ? `State ${s.key ? `“${s.key}”` : `#${t.index + 1}`}` : `State #${t.index + 1}`;
  }
  if (t.kind === "transition") {
    const tr = d.transitions[t.index];
    return tr ? `Transition ${tr.key ? `“${tr.key}”` : `#${t.index + 1}`}` : `Transition #${t.index + 1}`;
  }
  return "Workflow";
}
