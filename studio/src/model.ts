// model.ts — a workflow file (SPEC section 4) as the graph the canvas edits,
// and back.  Pure: no DOM, no React, so it is unit-tested under node.
//
// The conversion keeps everything the file says, in the file's order: the
// workflow object's members, each node's members, the edges' order.  A
// switch's out-edges are its branches (and default), derived from the node
// itself, never listed in `edges`.  Positions are not part of a workflow:
// they live in layouts/<workflow>.json (see layout.ts).  So
// workflowText(graphToWorkflow(workflowToGraph(w))) is the file's own text
// when the file is in the canonical form (JSON.stringify with two-space
// indentation, which is also how braid studio writes files).

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

export type NodeKind = "start" | "end" | "api" | "function" | "switch";

export interface GraphNode {
  id: string;
  kind: NodeKind;
  /** The node's object as in the file (START and END have none). */
  def: JsonObject | null;
}

export type EdgeKind = "edge" | "branch" | "default";

export interface GraphEdge {
  /** Stable within one graph: "e<index>" for edges, "b:<switch>:<i>" / "d:<switch>" for a switch's. */
  id: string;
  source: string;
  target: string;
  kind: EdgeKind;
  /** For a branch: its index in the switch's branches. */
  branch?: number;
  /** For a branch: its condition (shown on the canvas). */
  label?: string;
}

export interface Graph {
  /** The workflow object with `nodes` and `edges` as placeholders (order kept). */
  head: JsonObject;
  nodes: GraphNode[];
  edges: GraphEdge[];
}

export const START = "START";
export const END = "END";

function isObject(v: Json | undefined): v is JsonObject {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function kindOf(def: JsonObject): NodeKind {
  const t = def["type"];
  return t === "api" || t === "function" || t === "switch" ? t : "api";
}

/** The edges a switch node's own fields describe. */
export function switchEdges(node: GraphNode): GraphEdge[] {
  const out: GraphEdge[] = [];
  if (node.kind !== "switch" || !node.def) return out;
  const branches = node.def["branches"];
  if (Array.isArray(branches)) {
    branches.forEach((b, i) => {
      if (isObject(b) && typeof b["next"] === "string") {
        out.push({
          id: `b:${node.id}:${i}`, source: node.id, target: b["next"], kind: "branch", branch: i,
          label: typeof b["when"] === "string" ? b["when"] : "",
        });
      }
    });
  }
  const dflt = node.def["default"];
  if (typeof dflt === "string") {
    out.push({ id: `d:${node.id}`, source: node.id, target: dflt, kind: "default", label: "default" });
  }
  return out;
}

/** The graph of a parsed workflow file. */
export function workflowToGraph(wf: JsonObject): Graph {
  const nodes: GraphNode[] = [{ id: START, kind: "start", def: null }];
  const defs = Array.isArray(wf["nodes"]) ? wf["nodes"] : [];
  for (const d of defs) {
    if (isObject(d)) nodes.push({ id: String(d["id"] ?? ""), kind: kindOf(d), def: d });
  }
  nodes.push({ id: END, kind: "end", def: null });
  const edges: GraphEdge[] = [];
  const list = Array.isArray(wf["edges"]) ? wf["edges"] : [];
  list.forEach((e, i) => {
    if (Array.isArray(e) && e.length === 2 && typeof e[0] === "string" && typeof e[1] === "string") {
      edges.push({ id: `e${i}`, source: e[0], target: e[1], kind: "edge" });
    }
  });
  for (const n of nodes) edges.push(...switchEdges(n));
  return { head: { ...wf }, nodes, edges };
}

/** The workflow object of a graph: the head's members in their order,
 * `nodes` from the graph's user nodes, `edges` from its plain edges. */
export function graphToWorkflow(g: Graph): JsonObject {
  const nodes: Json[] = g.nodes.filter((n) => n.def !== null).map((n) => n.def as JsonObject);
  const edges: Json[] = g.edges.filter((e) => e.kind === "edge").map((e) => [e.source, e.target]);
  const out: JsonObject = {};
  let placed = false;
  for (const [k, v] of Object.entries(g.head)) {
    if (k === "nodes") out[k] = nodes;
    else if (k === "edges") out[k] = edges;
    else out[k] = v;
    placed ||= k === "nodes";
  }
  if (!placed) out["nodes"] = nodes;
  if (!("edges" in out)) out["edges"] = edges;
  return out;
}

/** The canonical text of a JSON file: two-space indentation, a final newline. */
export function jsonText(v: Json): string {
  return JSON.stringify(v, null, 2) + "\n";
}

// ---- edits (each returns a new graph; the editor keeps them for undo) ----------------

/** A node id not used yet: PREFIX1, PREFIX2, ... */
export function freshId(g: Graph, prefix: string): string {
  const used = new Set(g.nodes.map((n) => n.id));
  for (let i = 1; ; i++) if (!used.has(prefix + i)) return prefix + i;
}

export function addNode(g: Graph, kind: "api" | "function" | "switch", id?: string): Graph {
  const nid = id ?? freshId(g, kind === "api" ? "API" : kind === "function" ? "PYTHON" : "SWITCH");
  const def: JsonObject =
    kind === "api" ? { id: nid, type: "api", api: "" }
      : kind === "function" ? { id: nid, type: "function", function: "" }
        : { id: nid, type: "switch", branches: [] };
  const nodes = [...g.nodes];
  nodes.splice(nodes.length - 1, 0, { id: nid, kind, def });   // END stays last
  return { ...g, nodes };
}

/** Connects a to b: a plain edge, or — from a switch — a new branch. */
export function connect(g: Graph, a: string, b: string): Graph {
  if (a === b || a === END || b === START) return g;
  const src = g.nodes.find((n) => n.id === a);
  if (!src || !g.nodes.some((n) => n.id === b)) return g;
  if (src.kind === "switch" && src.def) {
    const branches = Array.isArray(src.def["branches"]) ? [...(src.def["branches"] as Json[])] : [];
    branches.push({ when: "true", next: b });
    return setDef(g, a, { ...src.def, branches });
  }
  if (g.edges.some((e) => e.kind === "edge" && e.source === a && e.target === b)) return g;
  const edges = [...g.edges, { id: nextEdgeId(g), source: a, target: b, kind: "edge" as const }];
  return { ...g, edges };
}

function nextEdgeId(g: Graph): string {
  let max = -1;
  for (const e of g.edges) if (e.kind === "edge") max = Math.max(max, Number(e.id.slice(1)));
  return `e${max + 1}`;
}

/** Replaces a node's object (its id may change: edges and references follow). */
export function setDef(g: Graph, id: string, def: JsonObject): Graph {
  const renamed = String(def["id"] ?? id);
  const retarget = (d: JsonObject): JsonObject => {
    // Other switches' branches and defaults that lead to the renamed node.
    const o: JsonObject = { ...d };
    if (Array.isArray(o["branches"])) {
      o["branches"] = (o["branches"] as Json[]).map((b) =>
        isObject(b) && b["next"] === id ? { ...b, next: renamed } : b);
    }
    if (o["default"] === id) o["default"] = renamed;
    return o;
  };
  const nodes = g.nodes.map((n) => {
    if (n.id === id) return { ...n, def, id: renamed };
    return renamed !== id && n.kind === "switch" && n.def ? { ...n, def: retarget(n.def) } : n;
  });
  let edges = g.edges.filter((e) => e.kind === "edge");
  if (renamed !== id) {
    edges = edges.map((e) => ({ ...e, source: e.source === id ? renamed : e.source,
      target: e.target === id ? renamed : e.target }));
  }
  const out: Graph = { ...g, nodes, edges };
  return renamed !== id ? renameReferences(withSwitchEdges(out), id, renamed) : withSwitchEdges(out);
}

function withSwitchEdges(g: Graph): Graph {
  const edges = g.edges.filter((e) => e.kind === "edge");
  for (const n of g.nodes) edges.push(...switchEdges(n));
  return { ...g, edges };
}

/** Deletes nodes (never START or END) and every edge touching them. */
export function removeNodes(g: Graph, ids: string[]): Graph {
  const gone = new Set(ids.filter((i) => i !== START && i !== END));
  const nodes = g.nodes.filter((n) => !gone.has(n.id)).map((n) => {
    if (n.kind !== "switch" || !n.def) return n;
    const branches = Array.isArray(n.def["branches"])
      ? (n.def["branches"] as Json[]).filter((b) => !(isObject(b) && gone.has(String(b["next"])))) : [];
    const def: JsonObject = { ...n.def, branches };
    if (typeof def["default"] === "string" && gone.has(def["default"])) delete def["default"];
    return { ...n, def };
  });
  const edges = g.edges.filter((e) => e.kind === "edge" && !gone.has(e.source) && !gone.has(e.target));
  return withSwitchEdges({ ...g, nodes, edges });
}

/** Deletes one edge: a plain one, or a switch's branch / default. */
export function removeEdge(g: Graph, edgeId: string): Graph {
  const e = g.edges.find((x) => x.id === edgeId);
  if (!e) return g;
  if (e.kind === "edge") return { ...g, edges: g.edges.filter((x) => x.id !== edgeId) };
  const sw = g.nodes.find((n) => n.id === e.source);
  if (!sw || !sw.def) return g;
  const def: JsonObject = { ...sw.def };
  if (e.kind === "default") delete def["default"];
  else def["branches"] = (def["branches"] as Json[]).filter((_, i) => i !== e.branch);
  return setDef(g, sw.id, def);
}

/** Every `${OLD.` / `${OLD}` in strings of every node and the head becomes NEW. */
export function renameReferences(g: Graph, from: string, to: string): Graph {
  const re = new RegExp("\\$\\{" + from.replace(/[-]/g, "\\-") + "(?=[.}\\[])", "g");
  const walk = (v: Json): Json => {
    if (typeof v === "string") return v.replace(re, "${" + to);
    if (Array.isArray(v)) return v.map(walk);
    if (isObject(v)) {
      const o: JsonObject = {};
      for (const [k, x] of Object.entries(v)) o[k] = walk(x);
      return o;
    }
    return v;
  };
  const head: JsonObject = {};
  for (const [k, v] of Object.entries(g.head)) head[k] = k === "nodes" || k === "edges" ? v : walk(v);
  const nodes = g.nodes.map((n) => (n.def ? { ...n, def: walk(n.def) as JsonObject } : n));
  return { ...g, head, nodes };
}

/** The ids a `${` may name at node id: START and every node with a path to it. */
export function referenceable(g: Graph, id: string): string[] {
  const into = new Map<string, string[]>();
  for (const e of g.edges) into.set(e.target, [...(into.get(e.target) ?? []), e.source]);
  const seen = new Set<string>();
  const stack = [...(into.get(id) ?? [])];
  while (stack.length) {
    const x = stack.pop() as string;
    if (seen.has(x)) continue;
    seen.add(x);
    stack.push(...(into.get(x) ?? []));
  }
  seen.add(START);
  seen.delete(id);
  return g.nodes.map((n) => n.id).filter((n) => seen.has(n));
}
