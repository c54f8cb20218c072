// TestConsole.tsx — the "Test" button of the original product: an input
// JSON (remembered per workflow in this browser), Run against the saved
// workflow with the real engine and sandbox, the result or error, the runs
// made since the page was opened, and "Save as test case" (SPEC section 12).
// Test data stays here and in tests/, never in the workflow.

import { useEffect, useState } from "react";

import type { RunResponse } from "./api";
import type { Json } from "./model";

export interface TestRun {
  at: string;            // local time of the run
  workflow: string;
  input: Json;
  response: RunResponse;
  ms: number;
}

interface Props {
  workflow: string;
  runs: TestRun[];
  active: number | null;
  busy: boolean;
  onRun: (input: Json) => void;
  onPick: (i: number) => void;
  onSaveCase: (run: TestRun, name: string) => void;
}

const key = (wf: string) => `braid.studio.input.${wf}`;

export function TestConsole(p: Props) {
  const [text, setText] = useState("{}");
  const [bad, setBad] = useState<string | null>(null);
  const [caseName, setCaseName] = useState("");
  useEffect(() => { setText(localStorage.getItem(key(p.workflow)) ?? "{}"); }, [p.workflow]);
  const run = p.active !== null ? p.runs[p.active] : null;
  const go = () => {
    let input: Json;
    try { input = JSON.parse(text) as Json; } catch (e) { setBad(`input is not JSON: ${(e as Error).message}`); return; }
    if (typeof input !== "object" || input === null || Array.isArray(input)) { setBad("input must be a JSON object"); return; }
    setBad(null);
    localStorage.setItem(key(p.workflow), text);
    p.onRun(input);
  };
  return (
    <section className="console" aria-label="Test console">
      <div className="console-input">
        <label>input
          <textarea aria-label="test input" value={text} rows={4} spellCheck={false}
            onChange={(e) => setText(e.target.value)}
            onKeyDown={(e) => { if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) { e.preventDefault(); go(); } }} />
        </label>
        <button type="button" className="primary" onClick={go} disabled={p.busy}>{p.busy ? "Running…" : "Run"}</button>
        {bad && <p className="problems">{bad}</p>}
      </div>
      <div className="console-output" aria-live="polite">
        {run ? (
          <>
            <h3>{run.response.error ? "Error" : run.response.errors ? "Does not validate" : "Result"}
              {" "}<small>({run.ms} ms, {run.at})</small></h3>
            <pre className={run.response.error || run.response.errors ? "error" : "result"} aria-label="test output">
              {JSON.stringify(run.response.errors ?? run.response.error ?? run.response.result, null, 2)}</pre>
            {!run.response.errors && (
              <div className="row">
                <input aria-label="test case name" placeholder="case name" value={caseName}
                  onChange={(e) => setCaseName(e.target.value)} />
                <button type="button" disabled={!/^[A-Za-z0-9_-]{1,64}$/.test(caseName)}
                  onClick={() => p.onSaveCase(run, caseName)}>Save as test case</button>
              </div>
            )}
          </>
        ) : <p>Run the saved workflow with this input; the trace is drawn on the canvas.</p>}
      </div>
      <ol className="history" aria-label="test runs">
        {p.runs.map((r, i) => (
          <li key={i}>
            <button type="button" className={i === p.active ? "active" : ""} onClick={() => p.onPick(i)}>
              {r.at} {r.workflow} {r.response.error ? String((r.response.error as { code?: string }).code) : r.response.errors ? "invalid" : "ok"}
            </button>
          </li>
        ))}
      </ol>
    </section>
  );
}
