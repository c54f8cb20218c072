// Panel.tsx — the side panel for the selected node: every field of SPEC
// section 4 (id, api/function, params, output, on_error, timeout_ms; a
// switch's ordered branches and default; END's result; START's request
// settings), the problems that name the node beside the field they concern,
// and — after a Test run — what the node did.

import { useEffect, useState } from "react";

import type { Problem } from "./api";
import type { Graph, Json, JsonObject } from "./model";
import { END, START, referenceable } from "./model";
import { fromRows, readValue, Row, showValue, toRows, withMember } from "./values";

interface Props {
  graph: Graph;
  head: JsonObject;
  nodeId: string;
  apis: string[];
  functions: string[];
  problems: Problem[];
  trace: JsonObject | null;
  onNode: (id: string, def: JsonObject, group: string) => void;
  onHead: (head: JsonObject, group: string) => void;
}

function fieldProblems(problems: Problem[], field: string): Problem[] {
  return problems.filter((p) => (p.field ?? "").split(/[.[]/)[0] === field);
}

function Problems({ list }: { list: Problem[] }) {
  if (!list.length) return null;
  return <ul className="problems">{list.map((p, i) => <li key={i}>{p.message}</li>)}</ul>;
}

/** A key/value table (params, output, result), values as SPEC section 5 reads them. */
function Mapping({ label, value, refs, problems, onChange }: {
  label: string; value: Json | undefined; refs: string[]; problems: Problem[];
  onChange: (v: JsonObject | undefined) => void;
}) {
  // Rows live here while they are typed (a row whose name is being
  // retyped has no name for a moment, and must not vanish); the value
  // handed on drops unnamed rows.  A value changed elsewhere (undo, another
  // node) replaces them.
  const [rows, setRows] = useState<Row[]>(() => toRows(value));
  const shown = JSON.stringify(fromRows(rows));
  const given = JSON.stringify(value ?? {});
  useEffect(() => { if (shown !== given) setRows(toRows(value)); }, [given]); // eslint-disable-line react-hooks/exhaustive-deps
  const set = (next: Row[]) => {
    setRows(next);
    const o = fromRows(next);
    onChange(Object.keys(o).length ? o : undefined);
  };
  const listId = `refs-${label}`;
  return (
    <fieldset className="mapping">
      <legend>{label}</legend>
      <datalist id={listId}>
        {refs.map((r) => <option key={r} value={"${" + r + "."} />)}
        <option value="$." />
      </datalist>
      {rows.map(([k, v], i) => (
        <div className="row" key={i}>
          <input aria-label={`${label} name ${i + 1}`} value={k}
            onChange={(e) => set(rows.map((r, j) => (j === i ? [e.target.value, r[1]] : r)))} />
          <input aria-label={`${label} value ${i + 1}`} list={listId} value={v} className="value"
            onChange={(e) => set(rows.map((r, j) => (j === i ? [r[0], e.target.value] : r)))} />
          <button type="button" title="remove" aria-label={`remove ${label} ${i + 1}`}
            onClick={() => set(rows.filter((_, j) => j !== i))}>×</button>
        </div>
      ))}
      <button type="button" onClick={() => set([...rows, [`name${rows.length + 1}`, "$."]])}>+ {label}</button>
      <Problems list={problems} />
    </fieldset>
  );
}

/** A JSON value edited as text; shown red while it does not parse. */
function JsonField({ label, value, onChange }: {
  label: string; value: Json | undefined; onChange: (v: Json | undefined) => void;
}) {
  const [text, setText] = useState(value === undefined ? "" : JSON.stringify(value, null, 1));
  const [bad, setBad] = useState(false);
  return (
    <label className="json">{label}
      <textarea aria-label={label} className={bad ? "bad" : ""} value={text} rows={3}
        onChange={(e) => {
          setText(e.target.value);
          if (e.target.value.trim() === "") { setBad(false); onChange(undefined); return; }
          try { onChange(JSON.parse(e.target.value) as Json); setBad(false); } catch { setBad(true); }
        }} />
    </label>
  );
}

const TYPES = ["string", "int", "number", "bool", "object", "array", "any"];

interface Decl { name: string; type: string; required: boolean; def: string }

function declRows(v: Json | undefined): Decl[] {
  if (typeof v !== "object" || v === null || Array.isArray(v)) return [];
  return Object.entries(v).map(([name, d]) => {
    const o = (typeof d === "object" && d !== null && !Array.isArray(d) ? d : {}) as JsonObject;
    return { name, type: typeof o["type"] === "string" ? o["type"] : "any", required: o["required"] === true,
      def: "default" in o ? showValue(o["default"]) : "" };
  });
}

function declValue(rows: Decl[]): JsonObject {
  const out: JsonObject = {};
  for (const r of rows) {
    if (!r.name.trim()) continue;
    const d: JsonObject = { type: r.type };
    if (r.required) d["required"] = true;
    if (r.def !== "") d["default"] = readValue(r.def);
    out[r.name] = d;
  }
  return out;
}

/** START's declared request parameters as a table: name, type, required, default. */
function Declared({ value, onChange }: { value: Json | undefined; onChange: (v: JsonObject | undefined) => void }) {
  const [rows, setRows] = useState<Decl[]>(() => declRows(value));
  const given = JSON.stringify(value ?? {});
  useEffect(() => { if (JSON.stringify(declValue(rows)) !== given) setRows(declRows(value)); }, [given]); // eslint-disable-line react-hooks/exhaustive-deps
  const set = (next: Decl[]) => {
    setRows(next);
    const o = declValue(next);
    onChange(Object.keys(o).length ? o : undefined);
  };
  const change = (i: number, part: Partial<Decl>) => set(rows.map((r, j) => (j === i ? { ...r, ...part } : r)));
  return (
    <fieldset className="declared">
      <legend>request parameters</legend>
      {rows.map((r, i) => (
        <div className="row" key={i}>
          <input aria-label={`parameter name ${i + 1}`} value={r.name} onChange={(e) => change(i, { name: e.target.value })} />
          <select aria-label={`parameter type ${i + 1}`} value={r.type} onChange={(e) => change(i, { type: e.target.value })}>
            {TYPES.map((t) => <option key={t}>{t}</option>)}
          </select>
          <label className="inline"><input type="checkbox" aria-label={`parameter required ${i + 1}`} checked={r.required}
            onChange={(e) => change(i, { required: e.target.checked })} />required</label>
          <input aria-label={`parameter default ${i + 1}`} placeholder="default" value={r.def}
            onChange={(e) => change(i, { def: e.target.value })} />
          <button type="button" aria-label={`remove parameter ${i + 1}`} onClick={() => set(rows.filter((_, j) => j !== i))}>×</button>
        </div>
      ))}
      <button type="button" onClick={() => set([...rows, { name: `param${rows.length + 1}`, type: "string", required: false, def: "" }])}>
        + parameter</button>
    </fieldset>
  );
}

function TraceView({ t }: { t: JsonObject }) {
  const show = (k: string) => (k in t ? (
    <div key={k}><b>{k}</b><pre>{typeof t[k] === "string" ? (t[k] as string) : JSON.stringify(t[k], null, 1)}</pre></div>
  ) : null);
  return (
    <section className="trace-detail" aria-label="what the node did">
      <h3>Last Test run: {String(t["state"])}{"duration_us" in t ? `, ${t["duration_us"]} µs` : ""}
        {"attempts" in t ? `, ${t["attempts"]} attempt(s)` : ""}</h3>
      {["input", "raw", "output", "branch", "error", "print", "traceback"].map(show)}
    </section>
  );
}

export function Panel(p: Props) {
  const node = p.graph.nodes.find((n) => n.id === p.nodeId);
  if (!node) return <aside className="panel"><p>Select a node.</p></aside>;
  const mine = p.problems.filter((x) => x.node === node.id);
  const refs = referenceable(p.graph, node.id);
  const others = p.graph.nodes.map((n) => n.id).filter((i) => i !== node.id && i !== START);

  if (node.id === START || node.id === END) {
    const h = p.head;
    const general = p.problems.filter((x) => !x.node);
    return (
      <aside className="panel">
        <h2>{node.id}</h2>
        {node.id === START ? (
          <>
            <label>path<input aria-label="path" value={typeof h["path"] === "string" ? h["path"] : ""}
              placeholder="/<workflow name>"
              onChange={(e) => p.onHead(withMember(h, "path", e.target.value || undefined), "path")} /></label>
            <label>methods<input aria-label="methods" value={Array.isArray(h["methods"]) ? h["methods"].join(", ") : ""}
              placeholder="GET, POST"
              onChange={(e) => {
                const m = e.target.value.split(/[ ,]+/).filter(Boolean).map((x) => x.toUpperCase());
                p.onHead(withMember(h, "methods", m.length ? m : undefined), "methods");
              }} /></label>
            <label>timeout_ms<input aria-label="timeout_ms" type="number"
              value={typeof h["timeout_ms"] === "number" ? h["timeout_ms"] : ""}
              onChange={(e) => p.onHead(withMember(h, "timeout_ms", e.target.value ? Number(e.target.value) : undefined),
                "timeout")} /></label>
            <Declared key={`${p.nodeId}-params`} value={h["params"]}
              onChange={(v) => p.onHead(withMember(h, "params", v), "params")} />
          </>
        ) : (
          <Mapping key="END-result" label="result" value={p.head["result"]} refs={refs}
            problems={general.filter((x) => (x.field ?? "").startsWith("result"))}
            onChange={(v) => p.onHead(withMember(p.head, "result", v), "result")} />
        )}
        <Problems list={general} />
        {p.trace && <TraceView t={p.trace} />}
      </aside>
    );
  }

  const def = node.def as JsonObject;
  const set = (key: string, value: Json | undefined, group: string) => p.onNode(node.id, withMember(def, key, value), group);
  const branches = Array.isArray(def["branches"]) ? (def["branches"] as JsonObject[]) : [];
  return (
    <aside className="panel">
      <h2>{node.kind === "api" ? "API" : node.kind === "function" ? "Function" : "Switch"} {node.id}</h2>
      <Problems list={mine.filter((x) => !x.field)} />
      <label>id<input aria-label="id" value={node.id}
        onChange={(e) => { if (/^[A-Za-z0-9_-]{1,64}$/.test(e.target.value)) set("id", e.target.value, "id"); }} /></label>
      {node.kind === "api" && (
        <label>api<select aria-label="api" value={String(def["api"] ?? "")} onChange={(e) => set("api", e.target.value, "api")}>
          <option value="">(choose)</option>
          {p.apis.map((a) => <option key={a}>{a}</option>)}
        </select></label>
      )}
      {node.kind === "function" && (
        <label>function<select aria-label="function" value={String(def["function"] ?? "")}
          onChange={(e) => set("function", e.target.value, "function")}>
          <option value="">(choose)</option>
          {p.functions.map((a) => <option key={a}>{a}</option>)}
        </select></label>
      )}
      <Problems list={fieldProblems(mine, node.kind === "api" ? "api" : "function")} />
      {node.kind === "switch" ? (
        <fieldset className="branches">
          <legend>branches (the first whose condition holds)</legend>
          {branches.map((b, i) => (
            <div className="row" key={i}>
              <input aria-label={`condition ${i + 1}`} className="value" value={String(b["when"] ?? "")}
                onChange={(e) => set("branches", branches.map((x, j) => (j === i ? withMember(x, "when", e.target.value) : x)),
                  `when${i}`)} />
              <select aria-label={`next ${i + 1}`} value={String(b["next"] ?? "")}
                onChange={(e) => set("branches", branches.map((x, j) => (j === i ? withMember(x, "next", e.target.value) : x)),
                  "next")}>
                {others.map((o) => <option key={o}>{o}</option>)}
              </select>
              <button type="button" aria-label={`move branch ${i + 1} up`} disabled={i === 0}
                onClick={() => { const c = [...branches]; [c[i - 1], c[i]] = [c[i], c[i - 1]]; set("branches", c, "order"); }}>↑</button>
              <button type="button" aria-label={`remove branch ${i + 1}`}
                onClick={() => set("branches", branches.filter((_, j) => j !== i), "remove")}>×</button>
            </div>
          ))}
          <button type="button" onClick={() => set("branches", [...branches, { when: "true", next: others[0] ?? END }], "add")}>
            + branch</button>
          <label>default<select aria-label="default" value={String(def["default"] ?? "")}
            onChange={(e) => set("default", e.target.value || undefined, "default")}>
            <option value="">(none: NO_BRANCH_MATCHED)</option>
            {others.map((o) => <option key={o}>{o}</option>)}
          </select></label>
          <Problems list={fieldProblems(mine, "branches").concat(fieldProblems(mine, "default"))} />
        </fieldset>
      ) : (
        <Mapping key={`${node.id}-params`} label="params" value={def["params"]} refs={refs} problems={fieldProblems(mine, "params")}
          onChange={(v) => set("params", v, "params")} />
      )}
      <Mapping key={`${node.id}-output`} label="output" value={def["output"]} refs={refs} problems={fieldProblems(mine, "output")}
        onChange={(v) => set("output", v, "output")} />
      {node.kind !== "switch" && (
        <JsonField key={`${node.id}-on_error`} label="on_error output (hand this on when the node fails)"
          value={(def["on_error"] as JsonObject | undefined)?.["output"]}
          onChange={(v) => set("on_error", v === undefined ? undefined : { output: v }, "on_error")} />
      )}
      <Problems list={fieldProblems(mine, "on_error")} />
      <label>timeout_ms<input aria-label="node timeout_ms" type="number"
        value={typeof def["timeout_ms"] === "number" ? def["timeout_ms"] : ""}
        onChange={(e) => set("timeout_ms", e.target.value ? Number(e.target.value) : undefined, "timeout")} /></label>
      <Problems list={fieldProblems(mine, "timeout_ms")} />
      {p.trace && <TraceView t={p.trace} />}
      <p className="hint">Values: <code>$.a</code> reads the previous output, <code>{"${NODE.a}"}</code> a node's output,
        text with <code>{"${...}"}</code> is a template; numbers, true/false/null, [..] and {"{..}"} are literals.</p>
    </aside>
  );
}
