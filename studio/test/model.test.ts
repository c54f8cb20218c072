// The graph <-> workflow conversion and the editing operations (model.ts),
// and the deterministic layout (layout.ts), over the repository's examples.
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";

import { autoLayout, completeLayout, layoutFile } from "../src/layout";
import {
  addNode, connect, graphToWorkflow, jsonText, JsonObject, referenceable, removeEdge, removeNodes,
  setDef, workflowToGraph,
} from "../src/model";

const EXAMPLES = join(process.cwd(), "..", "examples");

function exampleWorkflows(): { name: string; text: string }[] {
  const out: { name: string; text: string }[] = [];
  for (const ex of readdirSync(EXAMPLES)) {
    const dir = join(EXAMPLES, ex, "workflows");
    let files: string[] = [];
    try { files = readdirSync(dir); } catch { continue; }
    for (const f of files.filter((x) => x.endsWith(".json")).sort()) {
      out.push({ name: `${ex}/${f}`, text: readFileSync(join(dir, f), "utf8") });
    }
  }
  return out;
}

test("every example round-trips byte for byte", () => {
  const all = exampleWorkflows();
  assert.ok(all.length >= 2, "the examples have workflows");
  for (const { name, text } of all) {
    const g = workflowToGraph(JSON.parse(text));
    assert.equal(jsonText(graphToWorkflow(g)), text, name);
  }
});

test("a switch's branches and default are edges of the graph, never listed edges", () => {
  const wf = JSON.parse(readFileSync(join(EXAMPLES, "seed", "workflows", "user_lookup.json"), "utf8"));
  const g = workflowToGraph(wf);
  const sw = g.edges.filter((e) => e.source === "SWITCH2");
  assert.deepEqual(sw.map((e) => [e.kind, e.target, e.label]),
    [["branch", "PYTHON1", "$.user_id != 1"], ["branch", "PYTHON2", "$.user_id == 1"]]);
  assert.deepEqual(graphToWorkflow(g)["edges"], wf.edges);
});

test("adding, connecting and removing keep the file's shape", () => {
  const g0 = workflowToGraph({ nodes: [], edges: [] });
  let g = addNode(g0, "api");
  g = addNode(g, "function");
  assert.deepEqual(g.nodes.map((n) => n.id), ["START", "API1", "PYTHON1", "END"]);
  g = connect(connect(connect(g, "START", "API1"), "API1", "PYTHON1"), "PYTHON1", "END");
  g = connect(g, "API1", "PYTHON1");           // twice: once
  g = connect(g, "END", "API1");               // from END: refused
  const wf = graphToWorkflow(g);
  assert.deepEqual(wf["edges"], [["START", "API1"], ["API1", "PYTHON1"], ["PYTHON1", "END"]]);
  assert.deepEqual(wf["nodes"], [{ id: "API1", type: "api", api: "" },
    { id: "PYTHON1", type: "function", function: "" }]);
  const h = removeNodes(g, ["API1", "START"]);
  assert.deepEqual(h.nodes.map((n) => n.id), ["START", "PYTHON1", "END"]);
  assert.deepEqual(graphToWorkflow(h)["edges"], [["PYTHON1", "END"]]);
});

test("connecting from a switch adds a branch; removing the edge removes it", () => {
  let g = addNode(addNode(workflowToGraph({ nodes: [], edges: [] }), "switch"), "function");
  g = connect(g, "SWITCH1", "PYTHON1");
  const sw = g.nodes.find((n) => n.id === "SWITCH1")!;
  assert.deepEqual(sw.def!["branches"], [{ when: "true", next: "PYTHON1" }]);
  assert.deepEqual(graphToWorkflow(g)["edges"], []);
  const edge = g.edges.find((e) => e.kind === "branch")!;
  g = removeEdge(g, edge.id);
  assert.deepEqual(g.nodes.find((n) => n.id === "SWITCH1")!.def!["branches"], []);
});

test("renaming a node keeps edges, branches and ${references} consistent", () => {
  const wf = JSON.parse(readFileSync(join(EXAMPLES, "seed", "workflows", "user_lookup.json"), "utf8"));
  const g = workflowToGraph(wf);
  const api = g.nodes.find((n) => n.id === "API1")!;
  const h = setDef(g, "API1", { ...api.def!, id: "LOOKUP" } as JsonObject);
  const out = graphToWorkflow(h);
  assert.deepEqual((out["edges"] as string[][])[0], ["START", "LOOKUP"]);
  assert.equal((out["result"] as JsonObject)["user_id"], "${LOOKUP.user_id}");
  const sw = workflowToGraph(out).nodes.find((n) => n.id === "SWITCH2")!;
  const renamedSwitch = setDef(workflowToGraph(out), "PYTHON1", { id: "REGULAR", type: "function",
    function: "regular_user" });
  const branches = renamedSwitch.nodes.find((n) => n.id === "SWITCH2")!.def!["branches"] as JsonObject[];
  assert.equal(branches[0]["next"], "REGULAR");
  assert.ok(sw);
});

test("the ids a ${ may name are START and the node's ancestors", () => {
  const wf = JSON.parse(readFileSync(join(EXAMPLES, "fanout", "workflows", "order_summary.json"), "utf8"));
  const g = workflowToGraph(wf);
  assert.deepEqual(referenceable(g, "SUMMARY"), ["START", "ORDER", "CUSTOMER", "SHIPPING", "LOYALTY"]);
  assert.deepEqual(referenceable(g, "CUSTOMER"), ["START", "ORDER"]);
});

test("the automatic layout is layered, deterministic, and kept where saved", () => {
  const wf = JSON.parse(readFileSync(join(EXAMPLES, "fanout", "workflows", "order_summary.json"), "utf8"));
  const g = workflowToGraph(wf);
  const a = autoLayout(g), b = autoLayout(workflowToGraph(JSON.parse(JSON.stringify(wf))));
  assert.deepEqual(a, b);
  const col = (id: string) => a[id].x;
  assert.ok(col("START") < col("ORDER") && col("ORDER") < col("CUSTOMER"));
  assert.equal(col("CUSTOMER"), col("SHIPPING"));
  assert.equal(col("SHIPPING"), col("LOYALTY"));
  assert.ok(col("LOYALTY") < col("SUMMARY") && col("SUMMARY") < col("END"));
  const ys = ["CUSTOMER", "SHIPPING", "LOYALTY"].map((i) => a[i].y);
  assert.equal(new Set(ys).size, 3);
  const saved = { ORDER: { x: 5, y: 7 }, GONE: { x: 1, y: 1 } };
  const c = completeLayout(g, saved);
  assert.deepEqual(c["ORDER"], { x: 5, y: 7 });
  assert.deepEqual(c["SUMMARY"], a["SUMMARY"]);
  assert.ok(!("GONE" in layoutFile(g, c)));
  assert.deepEqual(Object.keys(layoutFile(g, c)), g.nodes.map((n) => n.id));
});
