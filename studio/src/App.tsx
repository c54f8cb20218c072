// App.tsx — Braid Studio's page: the workflow list, the canvas (React Flow)
// with its palette, the side panel, the Test console, saving with etags,
// undo/redo and the keyboard shortcuts.  The document edited is the graph
// of one workflow plus its layout (model.ts, layout.ts); everything the
// engine decides (validation, runs) comes from `braid studio`'s API.

import {
  Background, Controls, Edge, Handle, MiniMap, Node, NodeChange, NodeProps, Position, ReactFlow,
  ReactFlowProvider, useReactFlow,
} from "@xyflow/react";
import { memo, useCallback, useEffect, useMemo, useRef, useState } from "react";

import * as api from "./api";
import { History, push, redo, start, undo } from "./history";
import { Layout, autoLayout, completeLayout, layoutFile } from "./layout";
import {
  END, Graph, Json, JsonObject, START, addNode, connect, graphToWorkflow, jsonText, removeEdge, removeNodes,
  setDef, workflowToGraph,
} from "./model";
import { FileEditor, FileKind, OpenFile, template } from "./FileEditor";
import { Panel } from "./Panel";
import { TestConsole, TestRun } from "./TestConsole";

interface Doc { graph: Graph; layout: Layout }

interface NodeData extends Record<string, unknown> {
  label: string;
  kind: string;
  sub: string;
  state: string | null;
  duration: string | null;
  bad: boolean;
}

const SHORTCUTS: [string, string][] = [
  ["A / Q / F / S", "add an API / SQL API / function / switch node"],
  ["click, Shift+click", "select, add to the selection"],
  ["N / P", "select the next / previous node"],
  ["E", "select the next edge"],
  ["C", "connect the two selected nodes (first → second)"],
  ["Delete", "delete the selected nodes or edge"],
  ["Ctrl+Z / Ctrl+Shift+Z", "undo / redo"],
  ["L", "tidy up: lay the workflow out again"],
  ["Ctrl+S", "save"],
  ["Ctrl+Enter", "run the Test console's input"],
  ["?", "this help"],
];

function BraidNode({ data, selected }: NodeProps<Node<NodeData>>) {
  const cls = ["bnode", `k-${data.kind}`, data.state ? `s-${data.state}` : "", data.bad ? "bad" : "",
    selected ? "sel" : ""].join(" ");
  return (
    <div className={cls} data-testid={`node-${data.label}`} aria-label={`${data.kind} node ${data.label}`}>
      {data.kind !== "start" && <Handle type="target" position={Position.Left} />}
      <div className="bnode-title">{data.label}</div>
      <div className="bnode-sub">{data.sub}</div>
      {data.state && <div className="bnode-state">{data.state}{data.duration ? ` · ${data.duration}` : ""}</div>}
      {data.kind !== "end" && <Handle type="source" position={Position.Right} />}
    </div>
  );
}

const nodeTypes = { braid: memo(BraidNode) };

const ORIGIN = { x: 0, y: 0 };

function fmtDuration(us: unknown): string | null {
  if (typeof us !== "number") return null;
  return us >= 1000 ? `${(us / 1000).toFixed(1)} ms` : `${us} µs`;
}

function Editor() {
  const flow = useReactFlow();
  const [service, setService] = useState<api.Service | null>(null);
  const [loadError, setLoadError] = useState<string | null>(null);
  const [name, setName] = useState<string | null>(null);
  const [hist, setHist] = useState<History<Doc> | null>(null);
  const [saved, setSaved] = useState<string>("");
  const [problems, setProblems] = useState<api.Problem[]>([]);
  const [selected, setSelected] = useState<string[]>([]);
  const [selectedEdge, setSelectedEdge] = useState<string | null>(null);
  const [runs, setRuns] = useState<TestRun[]>([]);
  const [active, setActive] = useState<number | null>(null);
  const [busy, setBusy] = useState(false);
  const [status, setStatus] = useState<string>("");
  const [help, setHelp] = useState(false);
  const [conflict, setConflict] = useState<string | null>(null);
  const [openFile, setOpenFile] = useState<OpenFile | null>(null);
  const wrapper = useRef<HTMLDivElement>(null);

  const doc = hist?.present ?? null;
  // The texts a save would write, each made again only when its part
  // changed (dragging a node changes the layout alone).
  const graph = doc?.graph ?? null;
  const layoutNow = doc?.layout ?? null;
  const wfText = useMemo(() => (graph ? jsonText(graphToWorkflow(graph)) : ""), [graph]);
  const layText = useMemo(() => (graph && layoutNow ? jsonText(layoutFile(graph, layoutNow)) : ""), [graph, layoutNow]);
  const text = wfText + layText;
  const dirty = doc !== null && text !== saved;

  const refresh = useCallback(async () => {
    try {
      const s = await api.loadService();
      setService(s);
      setProblems(await api.check());
      return s;
    } catch (e) {
      setLoadError((e as Error).message);
      return null;
    }
  }, []);

  useEffect(() => { void refresh(); }, [refresh]);

  const open = useCallback((s: api.Service, wf: string) => {
    const entry = s.workflows[wf];
    if (!entry) return;
    const graph = workflowToGraph((entry.content ?? {}) as JsonObject);
    const savedLayout = (s.layouts[wf]?.content ?? null) as Layout | null;
    const layout = completeLayout(graph, savedLayout);
    const d = { graph, layout };
    setName(wf);
    setHist(start(d));
    setSaved(jsonText(graphToWorkflow(graph)) + jsonText(layoutFile(graph, layout)));
    setSelected([]);
    setSelectedEdge(null);
    setActive(null);
    setTimeout(() => flow.fitView({ padding: 0.2, maxZoom: 1 }), 0);
  }, [flow]);

  useEffect(() => {
    if (service && name === null) {
      const first = Object.keys(service.workflows).sort()[0];
      if (first) open(service, first);
    }
  }, [service, name, open]);

  const edit = useCallback((f: (d: Doc) => Doc, group: string | null = null) => {
    setHist((h) => (h ? push(h, f(h.present), group) : h));
  }, []);

  // ---- saving -------------------------------------------------------------------
  const save = useCallback(async (force = false) => {
    if (!doc || !name || !service) return;
    const wfText = jsonText(graphToWorkflow(doc.graph));
    const layText = jsonText(layoutFile(doc.graph, doc.layout));
    try {
      let s = service;
      if (force) s = (await api.loadService());
      const r = await api.saveFile("workflows", name, wfText, s.workflows[name]?.etag ?? null);
      const l = await api.saveFile("layouts", name, layText, s.layouts[name]?.etag ?? null);
      const next: api.Service = {
        ...s,
        workflows: { ...s.workflows, [name]: { content: JSON.parse(wfText), etag: r.etag } },
        layouts: { ...s.layouts, [name]: { content: JSON.parse(layText), etag: l.etag } },
      };
      setService(next);
      setSaved(wfText + layText);
      setProblems(l.errors);
      setConflict(null);
      setStatus(l.errors.length ? `saved, ${l.errors.length} problem(s)` : "saved, valid");
    } catch (e) {
      if (e instanceof api.Conflict) setConflict(e.path);
      else setStatus(`not saved: ${(e as Error).message}`);
    }
  }, [doc, name, service]);

  const reload = useCallback(async () => {
    const s = await refresh();
    if (s && name) open(s, name);
    setConflict(null);
  }, [refresh, name, open]);

  // ---- the Test console ----------------------------------------------------------------
  const runTest = useCallback(async (input: Json) => {
    if (!name) return;
    if (dirty) await save();
    setBusy(true);
    const t0 = performance.now();
    try {
      const response = await api.run(name, input);
      const r: TestRun = { at: new Date().toLocaleTimeString(), workflow: name, input, response,
        ms: Math.round(performance.now() - t0) };
      setRuns((rs) => { setActive(rs.length); return [...rs, r]; });
      if (response.errors) setProblems(response.errors);
    } catch (e) {
      setStatus(`run failed: ${(e as Error).message}`);
    } finally {
      setBusy(false);
    }
  }, [name, dirty, save]);

  const saveCase = useCallback(async (run: TestRun, caseName: string) => {
    if (!service) return;
    const expect: JsonObject = run.response.error
      ? { error: { code: (run.response.error as JsonObject)["code"] ?? "INTERNAL" } }
      : { result: run.response.result ?? null };
    const body = jsonText({ input: run.input, recorded: run.response.recorded ?? {}, expect });
    const path = `${run.workflow}/${caseName}`;
    try {
      const r = await api.saveFile("tests", path, body, service.tests[path]?.etag ?? null);
      setService({ ...service, tests: { ...service.tests, [path]: { content: JSON.parse(body), etag: r.etag } } });
      setStatus(`saved tests/${path}.json`);
    } catch (e) {
      setStatus(e instanceof api.Conflict ? `tests/${path}.json exists: choose another name`
        : `not saved: ${(e as Error).message}`);
    }
  }, [service]);

  // ---- workflows: create, rename, duplicate, delete -----------------------------------------
  const newWorkflow = useCallback(async (copyOf?: string) => {
    if (!service) return;
    const wanted = window.prompt(copyOf ? `Name of the copy of ${copyOf}` : "Name of the new workflow");
    if (!wanted) return;
    if (!/^[A-Za-z0-9_-]{1,64}$/.test(wanted) || service.workflows[wanted]) {
      setStatus(`"${wanted}" is taken or not a name ([A-Za-z0-9_-]{1,64})`);
      return;
    }
    const content = copyOf ? service.workflows[copyOf].content as Json
      : { nodes: [], edges: [[START, END]] };
    const r = await api.saveFile("workflows", wanted, jsonText(content), null);
    const s = await refresh();
    if (s) open(s, wanted);
    setProblems(r.errors);
  }, [service, refresh, open]);

  const renameWorkflow = useCallback(async () => {
    if (!service || !name || !doc) return;
    const wanted = window.prompt(`Rename ${name} to`, name);
    if (!wanted || wanted === name) return;
    if (!/^[A-Za-z0-9_-]{1,64}$/.test(wanted) || service.workflows[wanted]) {
      setStatus(`"${wanted}" is taken or not a name`);
      return;
    }
    const wf = graphToWorkflow(doc.graph);
    if (wf["path"] === `/${name}`) wf["path"] = `/${wanted}`;
    await api.saveFile("workflows", wanted, jsonText(wf), null);
    await api.saveFile("layouts", wanted, jsonText(layoutFile(doc.graph, doc.layout)), null);
    await api.deleteFile("workflows", name, service.workflows[name].etag);
    if (service.layouts[name]) await api.deleteFile("layouts", name, service.layouts[name].etag);
    const s = await refresh();
    if (s) open(s, wanted);
  }, [service, name, doc, refresh, open]);

  const deleteWorkflow = useCallback(async () => {
    if (!service || !name) return;
    if (!window.confirm(`Delete workflow ${name}?`)) return;
    await api.deleteFile("workflows", name, service.workflows[name].etag);
    if (service.layouts[name]) await api.deleteFile("layouts", name, service.layouts[name].etag);
    setName(null);
    setHist(null);
    await refresh();
  }, [service, name, refresh]);

  // ---- the canvas -----------------------------------------------------------------------
  const run = active !== null ? runs[active] : null;
  const traceOf = useMemo(() => {
    const m = new Map<string, JsonObject>();
    if (run && run.workflow === name) for (const t of run.response.trace ?? []) m.set(String(t["id"]), t);
    return m;
  }, [run, name]);
  const badNodes = useMemo(() => new Set(problems.filter((p) => name && p.file === `workflows/${name}.json`)
    .map((p) => p.node ?? "")), [problems, name]);

  // Node and edge objects are kept from one render to the next while
  // nothing of theirs changed: React Flow then redraws only the node being
  // dragged, not all of a 200-node workflow on every mouse move.
  const nodeCache = useRef(new Map<string, Node<NodeData>>());
  const nodes: Node<NodeData>[] = useMemo(() => {
    if (!graph || !layoutNow) return [];
    const cache = nodeCache.current;
    const next = new Map<string, Node<NodeData>>();
    const out = graph.nodes.map((n) => {
      const t = traceOf.get(n.id);
      const sub = n.kind === "api" ? String(n.def?.["api"] ?? "") : n.kind === "function"
        ? String(n.def?.["function"] ?? "") : n.kind === "switch" ? "switch" : "";
      const position = layoutNow[n.id] ?? ORIGIN;
      const isSelected = selected.includes(n.id);
      const data: NodeData = { label: n.id, kind: n.kind, sub, state: t ? String(t["state"]) : null,
        duration: t ? fmtDuration(t["duration_us"]) : null, bad: badNodes.has(n.id) };
      const old = cache.get(n.id);
      const same = old && old.position === position && old.selected === isSelected &&
        (Object.keys(data) as (keyof NodeData)[]).every((k) => old.data[k] === data[k]);
      const node = same ? old : { id: n.id, type: "braid", position, selected: isSelected, data };
      next.set(n.id, node);
      return node;
    });
    nodeCache.current = next;
    return out;
  }, [graph, layoutNow, selected, traceOf, badNodes]);

  const edges: Edge[] = useMemo(() => {
    if (!graph) return [];
    return graph.edges.map((e) => {
      const t = traceOf.get(e.source);
      const chosen = t && e.kind !== "edge" ? (t["branch"] as JsonObject | undefined)?.["next"] === e.target : false;
      return { id: e.id, source: e.source, target: e.target, label: e.label, selected: e.id === selectedEdge,
        className: `k-${e.kind}${chosen ? " chosen" : ""}`, animated: chosen };
    });
  }, [graph, selectedEdge, traceOf]);

  const onNodesChange = useCallback((changes: NodeChange<Node<NodeData>>[]) => {
    for (const c of changes) {
      if (c.type === "position" && c.position) {
        const pos = c.position;
        edit((d) => ({ ...d, layout: { ...d.layout, [c.id]: { x: pos.x, y: pos.y } } }), `move-${c.id}`);
      }
    }
  }, [edit]);

  const sqlApis = useMemo(() => Object.keys(service?.apis ?? {}).sort()
    .filter((a) => (service?.apis[a]?.content as JsonObject | null)?.["type"] === "sql"), [service]);

  const addAt = useCallback((kind: PaletteKind, at?: { x: number; y: number }) => {
    edit((d) => {
      let graph = addNode(d.graph, kind === "sql" ? "api" : kind);
      const id = graph.nodes[graph.nodes.length - 2].id;
      if (kind === "sql") {
        graph = setDef(graph, id, { id, type: "api", api: sqlApis[0] ?? "" });
      }
      const pos = at ?? flow.screenToFlowPosition({
        x: (wrapper.current?.getBoundingClientRect().left ?? 0) + (wrapper.current?.clientWidth ?? 600) / 2,
        y: (wrapper.current?.getBoundingClientRect().top ?? 0) + (wrapper.current?.clientHeight ?? 400) / 2,
      });
      setSelected([id]);
      return { graph, layout: { ...d.layout, [id]: pos } };
    });
  }, [edit, flow, sqlApis]);

  const newFile = useCallback(async (kind: FileKind | "sql") => {
    if (!service) return;
    const what = kind === "sql" ? "SQL API" : kind === "apis" ? "API" : kind === "datasources" ? "data source" : "function";
    const wanted = window.prompt(`Name of the new ${what}`);
    if (!wanted) return;
    const folder = kind === "sql" ? "apis" : kind === "function-settings" ? "functions" : kind;
    const taken = folder === "apis" ? service.apis : folder === "datasources" ? service.datasources : service.functions;
    if (!/^[A-Za-z0-9_-]{1,64}$/.test(wanted) || taken[wanted]) {
      setStatus(`"${wanted}" is taken or not a name ([A-Za-z0-9_-]{1,64})`);
      return;
    }
    try {
      const r = await api.saveFile(kind === "sql" ? "apis" : kind, wanted, template(kind), null);
      const s = await refresh();
      if (s) setProblems(r.errors);
      setOpenFile({ kind: kind === "sql" ? "apis" : kind, name: wanted });
    } catch (e) {
      setStatus(`not created: ${(e as Error).message}`);
    }
  }, [service, refresh]);

  const deleteSelection = useCallback(() => {
    if (selectedEdge) {
      edit((d) => ({ ...d, graph: removeEdge(d.graph, selectedEdge) }));
      setSelectedEdge(null);
    } else if (selected.length) {
      edit((d) => ({ ...d, graph: removeNodes(d.graph, selected) }));
      setSelected([]);
    }
  }, [edit, selected, selectedEdge]);

  // ---- the keyboard --------------------------------------------------------------------
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      const typing = e.target instanceof HTMLElement && /^(INPUT|TEXTAREA|SELECT)$/.test(e.target.tagName);
      const mod = e.ctrlKey || e.metaKey;
      if (mod && e.key.toLowerCase() === "s") { e.preventDefault(); void save(); return; }
      if (typing) return;
      if (mod && e.key.toLowerCase() === "z") {
        e.preventDefault();
        setHist((h) => (h ? (e.shiftKey ? redo(h) : undo(h)) : h));
      } else if (mod && e.key.toLowerCase() === "y") {
        e.preventDefault();
        setHist((h) => (h ? redo(h) : h));
      } else if (mod) {
        return;
      } else if (e.key === "a" || e.key === "q" || e.key === "f" || e.key === "s") {
        addAt(e.key === "a" ? "api" : e.key === "q" ? "sql" : e.key === "f" ? "function" : "switch");
      } else if (e.key === "c" && selected.length === 2) {
        edit((d) => ({ ...d, graph: connect(d.graph, selected[0], selected[1]) }));
      } else if (e.key === "Delete" || e.key === "Backspace") {
        deleteSelection();
      } else if ((e.key === "n" || e.key === "p") && doc) {
        const ids = doc.graph.nodes.map((n) => n.id);
        const at = selected.length ? ids.indexOf(selected[selected.length - 1]) : -1;
        const next = ids[(at + (e.key === "n" ? 1 : ids.length - 1) + (at < 0 && e.key === "p" ? 1 : 0)) % ids.length];
        setSelected([next]);
        setSelectedEdge(null);
      } else if (e.key === "e" && doc && doc.graph.edges.length) {
        const ids = doc.graph.edges.map((x) => x.id);
        setSelected([]);
        setSelectedEdge((cur) => ids[(cur ? ids.indexOf(cur) + 1 : 0) % ids.length]);
      } else if (e.key === "l") {
        edit((d) => ({ ...d, layout: autoLayout(d.graph) }));
        setTimeout(() => flow.fitView({ padding: 0.2, maxZoom: 1 }), 0);
      } else if (e.key === "?") {
        setHelp((x) => !x);
      } else if (e.key === "Escape") {
        setSelected([]);
        setSelectedEdge(null);
        setHelp(false);
      }
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, [save, addAt, edit, selected, deleteSelection, doc, flow]);

  if (loadError) return <main className="fatal"><h1>Braid Studio</h1><p>{loadError}</p>
    <p>Open the address `braid studio` printed (it carries the token).</p></main>;
  if (!service) return <main className="fatal"><p>Loading…</p></main>;

  const nodeId = selected.length === 1 ? selected[0] : null;
  const fileProblems = problems.filter((p) => !name || p.file !== `workflows/${name}.json`);

  return (
    <div className="app">
      <header>
        <h1>Braid Studio</h1>
        <span className="wf">{name ?? "no workflow"}{dirty ? " • unsaved" : ""}</span>
        <button type="button" onClick={() => void save()} disabled={!dirty}>Save</button>
        <button type="button" onClick={() => setHist((h) => (h ? undo(h) : h))} disabled={!hist?.past.length}>Undo</button>
        <button type="button" onClick={() => setHist((h) => (h ? redo(h) : h))} disabled={!hist?.future.length}>Redo</button>
        <button type="button" onClick={() => { edit((d) => ({ ...d, layout: autoLayout(d.graph) })); }}>Tidy up</button>
        <button type="button" onClick={() => setHelp((x) => !x)} aria-expanded={help}>Shortcuts</button>
        <span className="status" role="status">{status}</span>
      </header>
      {conflict && (
        <div className="conflict" role="alertdialog" aria-label="conflict">
          {conflict} was changed elsewhere (on disk or in another tab) since you loaded it.
          <button type="button" onClick={() => void reload()}>Reload theirs</button>
          <button type="button" onClick={() => void save(true)}>Overwrite with mine</button>
        </div>
      )}
      {help && (
        <div className="help" role="dialog" aria-label="keyboard shortcuts">
          <table><tbody>{SHORTCUTS.map(([k, v]) => <tr key={k}><th>{k}</th><td>{v}</td></tr>)}</tbody></table>
        </div>
      )}
      <nav className="side" aria-label="workflows">
        <h2>Workflows</h2>
        <ul>
          {Object.keys(service.workflows).sort().map((w) => (
            <li key={w}><button type="button" className={w === name ? "active" : ""}
              onClick={() => open(service, w)}>{w}</button></li>
          ))}
        </ul>
        <div className="row">
          <button type="button" onClick={() => void newWorkflow()}>New</button>
          <button type="button" disabled={!name} onClick={() => name && void newWorkflow(name)}>Duplicate</button>
          <button type="button" disabled={!name} onClick={() => void renameWorkflow()}>Rename</button>
          <button type="button" disabled={!name} onClick={() => void deleteWorkflow()}>Delete</button>
        </div>
        <h2>Palette</h2>
        {PALETTE.map(([k, label]) => (
          <div key={k} className={`palette k-${k === "sql" ? "api" : k}`} draggable tabIndex={0} role="button"
            aria-label={`add ${label} node`} data-testid={`palette-${k}`}
            onDragStart={(e) => e.dataTransfer.setData("application/braid-node", k)}
            onKeyDown={(e) => { if (e.key === "Enter") addAt(k); }}
            onClick={() => addAt(k)}>{label}</div>
        ))}
        <h2>Files</h2>
        <FileList title="APIs" names={Object.keys(service.apis).sort()} mark={(n) => sqlApis.includes(n) ? "SQL" : "HTTP"}
          onOpen={(n) => setOpenFile({ kind: "apis", name: n })} />
        <div className="row">
          <button type="button" onClick={() => void newFile("apis")}>New API</button>
          <button type="button" onClick={() => void newFile("sql")}>New SQL API</button>
        </div>
        <FileList title="Data sources" names={Object.keys(service.datasources).sort()}
          mark={(n) => String((service.datasources[n]?.content as JsonObject | null)?.["type"] ?? "sqlite")}
          onOpen={(n) => setOpenFile({ kind: "datasources", name: n })} />
        <div className="row"><button type="button" onClick={() => void newFile("datasources")}>New data source</button></div>
        <FileList title="Functions" names={Object.keys(service.functions).sort()} mark={() => "py"}
          onOpen={(n) => setOpenFile({ kind: "functions", name: n })}
          extra={(n) => <button type="button" className="small" aria-label={`settings of ${n}`}
            onClick={() => setOpenFile({ kind: "function-settings", name: n })}>settings</button>} />
        <div className="row"><button type="button" onClick={() => void newFile("functions")}>New function</button></div>
        {fileProblems.length > 0 && (
          <>
            <h2>Other problems</h2>
            <ul className="problems">{fileProblems.map((p, i) => <li key={i}>{p.file}: {p.message}</li>)}</ul>
          </>
        )}
      </nav>
      <div className="canvas" ref={wrapper}
        onDragOver={(e) => { e.preventDefault(); e.dataTransfer.dropEffect = "move"; }}
        onDrop={(e) => {
          e.preventDefault();
          const k = e.dataTransfer.getData("application/braid-node");
          if (k === "api" || k === "sql" || k === "function" || k === "switch") {
            addAt(k, flow.screenToFlowPosition({ x: e.clientX, y: e.clientY }));
          }
        }}>
        <ReactFlow nodes={nodes} edges={edges} nodeTypes={nodeTypes} onNodesChange={onNodesChange}
          onConnect={(c) => { if (c.source && c.target) edit((d) => ({ ...d, graph: connect(d.graph, c.source, c.target) })); }}
          onNodeClick={(e, n) => {
            setSelectedEdge(null);
            setSelected((s) => (e.shiftKey ? (s.includes(n.id) ? s.filter((x) => x !== n.id) : [...s, n.id]) : [n.id]));
          }}
          onEdgeClick={(_, ed) => { setSelected([]); setSelectedEdge(ed.id); }}
          onPaneClick={() => { setSelected([]); setSelectedEdge(null); }}
          deleteKeyCode={null} selectionKeyCode={null} multiSelectionKeyCode={null} minZoom={0.1} maxZoom={2}
          onlyRenderVisibleElements fitView fitViewOptions={{ padding: 0.2, maxZoom: 1 }}>
          <Background />
          {nodes.length <= 100 && <MiniMap pannable zoomable nodeColor="#9aa3b2" nodeStrokeWidth={2} />}
          <Controls />
        </ReactFlow>
      </div>
      {openFile && (
        <FileEditor file={openFile} service={service} problems={problems}
          onSaved={(s, ps, st) => { setService(s); setProblems(ps); setStatus(st); }}
          onConflict={(path) => setConflict(path)} onClose={() => setOpenFile(null)} />
      )}
      {doc && nodeId ? (
        <Panel graph={doc.graph} head={doc.graph.head} nodeId={nodeId}
          apis={Object.keys(service.apis).sort()} functions={Object.keys(service.functions).sort()}
          problems={problems.filter((p) => p.file === `workflows/${name}.json` &&
            (p.node === nodeId || ((nodeId === END || nodeId === START) && !p.node)))}
          trace={traceOf.get(nodeId) ?? null}
          onNode={(id, def, group) => { edit((d) => ({ ...d, graph: setDef(d.graph, id, def) }), `${id}-${group}`);
            if (def["id"] !== id) setSelected([String(def["id"])]); }}
          onHead={(head, group) => edit((d) => ({ ...d, graph: { ...d.graph, head } }), `head-${group}`)} />
      ) : (
        <aside className="panel"><p>{selected.length > 1 ? `${selected.length} nodes selected (C connects two)`
          : selectedEdge && doc ? edgeText(doc.graph, selectedEdge)
            : "Select a node to edit it; press ? for the shortcuts."}</p></aside>
      )}
      {name && <TestConsole workflow={name} runs={runs} active={active} busy={busy} onRun={(i) => void runTest(i)}
        onPick={setActive} onSaveCase={(r, c) => void saveCase(r, c)} />}
    </div>
  );
}

function edgeText(g: Graph, id: string): string {
  const e = g.edges.find((x) => x.id === id);
  return e ? `Edge ${e.source} → ${e.target}${e.label ? ` (${e.label})` : ""} selected: Delete removes it.` : "";
}

type PaletteKind = "api" | "sql" | "function" | "switch";

const PALETTE: [PaletteKind, string][] = [["api", "API"], ["sql", "SQL API"], ["function", "function"], ["switch", "switch"]];

function FileList({ title, names, mark, onOpen, extra }: {
  title: string; names: string[]; mark: (n: string) => string; onOpen: (n: string) => void;
  extra?: (n: string) => React.ReactNode;
}) {
  return (
    <>
      <h3>{title}</h3>
      <ul className="files" aria-label={title}>
        {names.map((n) => (
          <li key={n}><button type="button" onClick={() => onOpen(n)}>{n} <span className="mark">{mark(n)}</span></button>
            {extra?.(n)}</li>
        ))}
        {names.length === 0 && <li className="hint">none</li>}
      </ul>
    </>
  );
}

export function App() {
  return <ReactFlowProvider><Editor /></ReactFlowProvider>;
}
