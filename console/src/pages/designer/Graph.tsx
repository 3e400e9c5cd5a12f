// The workflow as a graph: states as nodes, transitions as edges, laid out by elkjs (loaded
// lazily: it is 1.4 MB and only the Designer needs it) and drawn as SVG. Every node and edge is
// a focusable role="button": click, Enter or Space selects it. Elements with problems are drawn
// in the problem style; a transition from or to a state that does not exist ends at a dashed
// "missing" node so that it still shows.
import { Outcome, StateKind, type State, type Transition } from "@flowhook/sdk";
import type { ElkNode } from "elkjs/lib/elk-api";
import { useEffect, useMemo, useState, type KeyboardEvent } from "react";
import { enumLabel, providerName } from "../../ui";
import { KIND_LABEL, problemsOf, type Placed, type Selection } from "./model";

const NODE_W = 180;
const NODE_H = 58;
const GHOST_W = 130;
const GHOST_H = 40;

type ElkApi = { layout: (g: ElkNode) => Promise<ElkNode> };
let elkPromise: Promise<ElkApi> | undefined;
function elk(): Promise<ElkApi> {
  elkPromise ??= import("elkjs/lib/elk.bundled.js").then((m) => new m.default() as unknown as ElkApi);
  return elkPromise;
}

type Point = { x: number; y: number };
type NodeBox = { id: string; x: number; y: number; w: number; h: number };
type EdgeShape = { id: string; points: Point[]; label?: { x: number; y: number; w: number; h: number } };
type Layout = { width: number; height: number; nodes: Map<string, NodeBox>; edges: Map<string, EdgeShape> };

export function edgeText(t: Transition): string {
  const parts = [t.name || t.key || "(no key)"];
  if (t.onOutcome !== Outcome.UNSPECIFIED) parts.push(`on ${enumLabel(Outcome, t.onOutcome)}`);
  if (t.onTimeout) parts.push("timeout");
  return parts.join(" · ");
}

function nodeSub(s: State): string {
  const kind = KIND_LABEL[s.kind] ?? "No kind";
  if (s.kind === StateKind.EXTERNAL && s.external) return `${kind} · ${providerName(s.external.provider, s.external.connector)}`;
  return kind;
}

/** The graph of states and transitions: nodes by state index, ghosts for missing ends. */
function model(states: State[], transitions: Transition[]) {
  const byKey = new Map<string, number>();
  states.forEach((s, i) => {
    if (!byKey.has(s.key)) byKey.set(s.key, i);
  });
  const ghosts = new Map<string, string>(); // ghost id → the key it stands for
  const end = (key: string) => {
    const i = byKey.get(key);
    if (i !== undefined) return `s${i}`;
    const id = `g:${key}`;
    ghosts.set(id, key);
    return id;
  };
  const edges = transitions.map((t, i) => ({ id: `t${i}`, from: end(t.fromState), to: end(t.toState), text: edgeText(t) }));
  return { edges, ghosts };
}

export function Graph(props: {
  states: State[];
  transitions: Transition[];
  selection: Selection;
  problems: Placed[];
  onSelect: (s: Selection) => void;
  label: string;
}) {
  const { states, transitions } = props;
  const g = useMemo(() => model(states, transitions), [states, transitions]);
  const shape = JSON.stringify({ n: states.length, e: g.edges, gh: [...g.ghosts.keys()] });
  const [layout, setLayout] = useState<Layout>();
  const [error, setError] = useState<string>();

  useEffect(() => {
    let live = true;
    const parsed = JSON.parse(shape) as { n: number; e: { id: string; from: string; to: string; text: string }[]; gh: string[] };
    const graph: ElkNode = {
      id: "root",
      layoutOptions: {
        "elk.algorithm": "layered",
        "elk.direction": "DOWN",
        "elk.layered.spacing.nodeNodeBetweenLayers": "50",
        "elk.spacing.nodeNode": "36",
        "elk.spacing.edgeLabel": "4",
        "elk.layered.spacing.edgeNodeBetweenLayers": "20",
        "elk.edgeRouting": "POLYLINE",
        "elk.layered.nodePlacement.strategy": "NETWORK_SIMPLEX",
        "elk.padding": "[top=16,left=16,bottom=16,right=16]",
      },
      children: [
        ...Array.from({ length: parsed.n }, (_, i) => ({ id: `s${i}`, width: NODE_W, height: NODE_H })),
        ...parsed.gh.map((id) => ({ id, width: GHOST_W, height: GHOST_H })),
      ],
      edges: parsed.e.map((e) => ({
        id: e.id,
        sources: [e.from],
        targets: [e.to],
        labels: [{ text: e.text, width: Math.min(220, e.text.length * 7 + 8), height: 16 }],
      })),
    };
    elk()
      .then((api) => api.layout(graph))
      .then((res) => {
        if (!live) return;
        const nodes = new Map<string, NodeBox>();
        for (const c of res.children ?? []) nodes.set(c.id, { id: c.id, x: c.x ?? 0, y: c.y ?? 0, w: c.width ?? 0, h: c.height ?? 0 });
        const edgesOut = new Map<string, EdgeShape>();
        for (const e of res.edges ?? []) {
          const sec = e.sections?.[0];
          if (!sec) continue;
          const points = [sec.startPoint, ...(sec.bendPoints ?? []), sec.endPoint];
          const l = e.labels?.[0];
          edgesOut.set(e.id, {
            id: e.id,
            points,
            label: l ? { x: l.x ?? 0, y: l.y ?? 0, w: l.width ?? 0, h: l.height ?? 0 } : undefined,
          });
        }
        setLayout({ width: res.width ?? 0, height: res.height ?? 0, nodes, edges: edgesOut });
        setError(undefined);
      })
      .catch((e: unknown) => live && setError(String(e)));
    return () => {
      live = false;
    };
  }, [shape]);

  if (error) {
    return (
      <div className="error" role="alert">
        <strong>The graph could not be laid out.</strong> <p>{error}</p>
      </div>
    );
  }
  if (!layout) {
    return (
      <div className="graph designer-graph" id="designer-graph">
        <p className="muted" role="status">
          Laying out the graph…
        </p>
      </div>
    );
  }

  const keys = (sel: Selection) => (e: KeyboardEvent) => {
    if (e.key === "Enter" || e.key === " ") {
      e.preventDefault();
      props.onSelect(sel);
    }
  };
  const isSel = (sel: Selection) =>
    props.selection.kind === sel.kind && (sel.kind === "workflow" || (props.selection.kind !== "workflow" && props.selection.index === sel.index));

  return (
    <div className="graph designer-graph" id="designer-graph">
      <svg
        role="group"
        aria-label={props.label}
        viewBox={`0 0 ${Math.max(layout.width, 200)} ${Math.max(layout.height, 100)}`}
        width={Math.max(layout.width, 200)}
        height={Math.max(layout.height, 100)}
        className="designer-svg"
      >
        <defs>
          <marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerUnits="userSpaceOnUse" markerWidth="11" markerHeight="11" orient="auto-start-reverse">
            <path d="M 0 0 L 10 5 L 0 10 z" className="arrowhead" />
          </marker>
          <marker id="arrow-problem" viewBox="0 0 10 10" refX="9" refY="5" markerUnits="userSpaceOnUse" markerWidth="11" markerHeight="11" orient="auto-start-reverse">
            <path d="M 0 0 L 10 5 L 0 10 z" className="arrowhead problem" />
          </marker>
          <marker id="arrow-selected" viewBox="0 0 10 10" refX="9" refY="5" markerUnits="userSpaceOnUse" markerWidth="11" markerHeight="11" orient="auto-start-reverse">
            <path d="M 0 0 L 10 5 L 0 10 z" className="arrowhead selected" />
          </marker>
        </defs>
        {transitions.map((t, i) => {
          const shape = layout.edges.get(`t${i}`);
          if (!shape) return null;
          const sel: Selection = { kind: "transition", index: i };
          const n = problemsOf(props.problems, sel).length;
          const selected = isSel(sel);
          const d = shape.points.map((p, j) => `${j === 0 ? "M" : "L"} ${p.x} ${p.y}`).join(" ");
          const text = edgeText(t);
          const shownText = text.length > 30 ? text.slice(0, 29) + "…" : text;
          return (
            <g
              key={`t${i}`}
              id={`edge-${i}`}
              data-key={t.key}
              className={`edge${selected ? " selected" : ""}${n > 0 ? " problem" : ""}`}
              role="button"
              tabIndex={0}
              aria-pressed={selected}
              aria-label={`${shownText}: transition ${t.key || "with no key"} from ${t.fromState || "(none)"} to ${t.toState || "(none)"}${
                t.onOutcome ? `, on outcome ${enumLabel(Outcome, t.onOutcome)}` : ""
              }${t.onTimeout ? ", on timeout" : ""}${n > 0 ? `, ${n} problem${n === 1 ? "" : "s"}` : ""}`}
              onClick={() => props.onSelect(sel)}
              onKeyDown={keys(sel)}
            >
              <path d={d} className="hit" />
              <path d={d} markerEnd={`url(#${n > 0 ? "arrow-problem" : selected ? "arrow-selected" : "arrow"})`} />
              {shape.label && (
                <>
                  <rect x={shape.label.x - 2} y={shape.label.y - 1} width={shape.label.w} height={shape.label.h + 2} rx={3} className="label-bg" />
                  <text x={shape.label.x + 2} y={shape.label.y + 12}>
                    {shownText}
                  </text>
                </>
              )}
            </g>
          );
        })}
        {states.map((s, i) => {
          const box = layout.nodes.get(`s${i}`);
          if (!box) return null;
          const sel: Selection = { kind: "state", index: i };
          const n = problemsOf(props.problems, sel).length;
          const selected = isSel(sel);
          const kindClass = (StateKind[s.kind] ?? "UNSPECIFIED").toLowerCase();
          const title = s.name || s.key || "(no key)";
          const shown = title.length > 21 ? title.slice(0, 20) + "…" : title;
          return (
            <g
              key={`s${i}`}
              id={`node-${i}`}
              data-key={s.key}
              className={`node kind-${kindClass}${selected ? " selected" : ""}${n > 0 ? " problem" : ""}`}
              role="button"
              tabIndex={0}
              aria-pressed={selected}
              aria-describedby={`node-${i}-desc`}
              transform={`translate(${box.x} ${box.y})`}
              onClick={() => props.onSelect(sel)}
              onKeyDown={keys(sel)}
            >
              <desc id={`node-${i}-desc`}>{`State key ${s.key || "(none)"}${n > 0 ? `, ${n} problem${n === 1 ? "" : "s"}` : ", no problems"}`}</desc>
              <rect width={box.w} height={box.h} rx={s.kind === StateKind.START || s.kind === StateKind.END ? 26 : 8} />
              <rect width={6} height={box.h} rx={3} className="kind-bar" />
              <text x={16} y={23} className="title">
                {shown}
              </text>
              <text x={16} y={43} className="sub">
                {nodeSub(s)}
              </text>
              {n > 0 && (
                <g className="badge-problem" transform={`translate(${box.w - 14} 14)`}>
                  <circle r={10} />
                  <text textAnchor="middle" y={4}>
                    {n}
                  </text>
                </g>
              )}
            </g>
          );
        })}
        {[...g.ghosts.entries()].map(([id, key]) => {
          const box = layout.nodes.get(id);
          if (!box) return null;
          return (
            <g key={id} className="ghost" transform={`translate(${box.x} ${box.y})`}>
              <rect width={box.w} height={box.h} rx={6} />
              <text x={box.w / 2} y={box.h / 2 + 4} textAnchor="middle">
                {key ? `missing “${key.length > 10 ? key.slice(0, 9) + "…" : key}”` : "no state"}
              </text>
            </g>
          );
        })}
      </svg>
    </div>
  );
}
