// values.ts — how the side panel shows and reads the values of params,
// output and result mappings (SPEC section 5): a string is a JSONPath
// ("$.a"), a reference ("${NODE.a}"), a template or literal text and is
// edited as it is; any other JSON value is a literal, edited as JSON text.
// Pure, unit-tested.

import type { Json, JsonObject } from "./model";

/** The text an input shows for a mapping value. */
export function showValue(v: Json): string {
  return typeof v === "string" ? v : JSON.stringify(v);
}

/** The value typed text stands for: JSON numbers, booleans, null, arrays
 * and objects as themselves, everything else (JSONPaths, references,
 * templates, words) as a string. */
export function readValue(text: string): Json {
  const t = text.trim();
  if (t === "" || t.startsWith("$")) return text;
  if (/^(-?\d|true$|false$|null$|\[|\{)/.test(t)) {
    try { return JSON.parse(t) as Json; } catch { return text; }
  }
  return text;
}

/** An object's members as rows, and back (empty keys dropped, order kept). */
export type Row = [string, string];

export function toRows(o: Json | undefined): Row[] {
  if (typeof o !== "object" || o === null || Array.isArray(o)) return [];
  return Object.entries(o).map(([k, v]) => [k, showValue(v)]);
}

export function fromRows(rows: Row[]): JsonObject {
  const o: JsonObject = {};
  for (const [k, v] of rows) if (k.trim() !== "") o[k] = readValue(v);
  return o;
}

/** Sets or (with undefined) removes a member of a node object, keeping the order of the rest. */
export function withMember(o: JsonObject, key: string, value: Json | undefined): JsonObject {
  const out: JsonObject = {};
  let done = false;
  for (const [k, v] of Object.entries(o)) {
    if (k === key) {
      done = true;
      if (value !== undefined) out[k] = value;
    } else {
      out[k] = v;
    }
  }
  if (!done && value !== undefined) out[key] = value;
  return out;
}
