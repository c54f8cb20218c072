// layout.ts — where nodes sit on the canvas.  Positions are saved in
// layouts/<workflow>.json (SPEC section 4: {"API1": {"x": 120, "y": 40}}),
// never in the workflow.  A workflow without a layout (or nodes missing from
// it) is laid out automatically and deterministically: the same graph always
// gets the same positions, so "tidy up" is one undoable step and a layout
// file written from it never churns.
//
// The automatic layout is layered, left to right: a node's column is the
// length of the longest path from START to it (END is always last), and
// within a column nodes keep the order they have in the file.

import { END, Graph, START } from "./model";

export interface Point { x: number; y: number }
export type Layout = Record<string, Point>;

export const COLUMN = 240;
export const ROW = 110;

/** Column of every node: longest path from START (cycles cut by visiting order). */
function columns(g: Graph): Map<string, number> {
  const ids = g.nodes.map((n) => n.id);
  const out = new Map<string, string[]>();
  const indeg = new Map<string, number>(ids.map((i) => [i, 0]));
  for (const e of g.edges) {
    if (!indeg.has(e.source) || !indeg.has(e.target)) continue;
    out.set(e.source, [...(out.get(e.source) ?? []), e.target]);
    indeg.set(e.target, (indeg.get(e.target) ?? 0) + 1);
  }
  const col = new Map<string, number>(ids.map((i) => [i, 0]));
  // Kahn's order, ties broken by file order: deterministic.
  const queue = ids.filter((i) => indeg.get(i) === 0);
  const done = new Set<string>();
  while (queue.length) {
    const v = queue.shift() as string;
    done.add(v);
    for (const w of out.get(v) ?? []) {
      col.set(w, Math.max(col.get(w) ?? 0, (col.get(v) ?? 0) + 1));
      indeg.set(w, (indeg.get(w) ?? 0) - 1);
      if (indeg.get(w) === 0) {
        // keep the queue in file order
        const at = queue.findIndex((q) => ids.indexOf(q) > ids.indexOf(w));
        if (at < 0) queue.push(w); else queue.splice(at, 0, w);
      }
    }
  }
  // Nodes on a cycle (an invalid workflow, still drawn) go after their column's peers.
  for (const i of ids) if (!done.has(i)) col.set(i, Math.max(1, col.get(i) ?? 1));
  col.set(START, 0);
  let last = 0;
  for (const [k, c] of col) if (k !== END) last = Math.max(last, c);
  col.set(END, last + 1);
  return col;
}

/** Positions for every node of g: saved ones first, the rest laid out. */
export function autoLayout(g: Graph): Layout {
  const col = columns(g);
  const rows = new Map<number, number>();
  const out: Layout = {};
  for (const n of g.nodes) {
    const c = col.get(n.id) ?? 0;
    const r = rows.get(c) ?? 0;
    rows.set(c, r + 1);
    out[n.id] = { x: c * COLUMN, y: r * ROW };
  }
  // Centre each column vertically on the tallest one.
  const tallest = Math.max(...rows.values());
  const shift = new Map<number, number>();
  for (const [c, n] of rows) shift.set(c, ((tallest - n) * ROW) / 2);
  for (const n of g.nodes) out[n.id].y += shift.get(col.get(n.id) ?? 0) ?? 0;
  return out;
}

/** The saved layout completed for nodes it lacks (and cleaned of nodes that are gone). */
export function completeLayout(g: Graph, saved: Layout | null): Layout {
  const auto = autoLayout(g);
  const out: Layout = {};
  for (const n of g.nodes) {
    const p = saved?.[n.id];
    out[n.id] = p && Number.isFinite(p.x) && Number.isFinite(p.y) ? { x: p.x, y: p.y } : auto[n.id];
  }
  return out;
}

/** A layout file's object: node ids in the graph's order, whole-pixel positions. */
export function layoutFile(g: Graph, layout: Layout): Record<string, { x: number; y: number }> {
  const out: Record<string, { x: number; y: number }> = {};
  for (const n of g.nodes) {
    const p = layout[n.id];
    if (p) out[n.id] = { x: Math.round(p.x), y: Math.round(p.y) };
  }
  return out;
}
