// history.ts — undo and redo over the editor's document (the graph and its
// layout).  Pure and small: a past stack, the present, a future stack.  A
// run of edits of one kind (dragging a node, typing in one field) may be
// merged into one step by giving them the same `group`.

export interface History<T> {
  past: T[];
  present: T;
  future: T[];
  group: string | null;
}

export const LIMIT = 200;

export function start<T>(present: T): History<T> {
  return { past: [], present, future: [], group: null };
}

/** A new present; merged with the previous step when group equals the last one's. */
export function push<T>(h: History<T>, next: T, group: string | null = null): History<T> {
  if (next === h.present) return h;
  if (group !== null && group === h.group) return { ...h, present: next, future: [] };
  const past = [...h.past, h.present];
  if (past.length > LIMIT) past.shift();
  return { past, present: next, future: [], group };
}

export function undo<T>(h: History<T>): History<T> {
  if (!h.past.length) return h;
  const past = h.past.slice(0, -1);
  return { past, present: h.past[h.past.length - 1], future: [h.present, ...h.future], group: null };
}

export function redo<T>(h: History<T>): History<T> {
  if (!h.future.length) return h;
  return { past: [...h.past, h.present], present: h.future[0], future: h.future.slice(1), group: null };
}
