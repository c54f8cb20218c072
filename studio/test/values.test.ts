// The side panel's value reading (values.ts) and undo/redo (history.ts).
import assert from "node:assert/strict";
import { test } from "node:test";

import { push, redo, start, undo } from "../src/history";
import { fromRows, readValue, showValue, toRows, withMember } from "../src/values";

test("mapping values: paths, references and templates stay text, JSON literals are values", () => {
  assert.equal(readValue("$.data[0].id"), "$.data[0].id");
  assert.equal(readValue("${START.uid}"), "${START.uid}");
  assert.equal(readValue("id=${START.uid}"), "id=${START.uid}");
  assert.equal(readValue("admin"), "admin");
  assert.equal(readValue("42"), 42);
  assert.equal(readValue("-2.5"), -2.5);
  assert.equal(readValue("true"), true);
  assert.equal(readValue("null"), null);
  assert.deepEqual(readValue('{"a": [1]}'), { a: [1] });
  assert.equal(readValue("{not json"), "{not json");
  assert.equal(readValue("12 monkeys"), "12 monkeys");
  for (const v of ["$.a", 7, true, null, [1, "x"], { k: "v" }, "plain"]) {
    assert.deepEqual(readValue(showValue(v as never)), v);
  }
});

test("rows keep the order and drop empty names", () => {
  const o = { b: "$.b", a: 1 };
  assert.deepEqual(toRows(o), [["b", "$.b"], ["a", "1"]]);
  assert.deepEqual(Object.keys(fromRows(toRows(o))), ["b", "a"]);
  assert.deepEqual(fromRows([["", "x"], ["k", "${A.x}"]]), { k: "${A.x}" });
  assert.deepEqual(toRows(undefined), []);
});

test("a member set in place keeps the object's order; undefined removes it", () => {
  const o = { id: "A", type: "api", api: "x", output: { a: 1 } };
  assert.deepEqual(Object.keys(withMember(o, "api", "y")), ["id", "type", "api", "output"]);
  assert.deepEqual(Object.keys(withMember(o, "timeout_ms", 5)), ["id", "type", "api", "output", "timeout_ms"]);
  assert.deepEqual(Object.keys(withMember(o, "output", undefined)), ["id", "type", "api"]);
});

test("undo and redo; a group of edits is one step", () => {
  let h = start(0);
  h = push(h, 1);
  h = push(h, 2, "drag");
  h = push(h, 3, "drag");
  h = push(h, 4, "drag");
  assert.equal(h.present, 4);
  h = undo(h);
  assert.equal(h.present, 1);
  h = undo(h);
  assert.equal(h.present, 0);
  assert.equal(undo(h), h);
  h = redo(redo(h));
  assert.equal(h.present, 4);
  h = undo(h);
  h = push(h, 9);
  assert.deepEqual(h.future, []);
  assert.equal(redo(h), h);
});
