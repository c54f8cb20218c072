// FileEditor.tsx — the editors for the directory's other files: registered
// APIs and SQL APIs (apis/), data sources (datasources/), Python functions
// (functions/NAME.py and their settings functions/NAME.json).  Saves go
// through the same etag check as workflows (a change made elsewhere is a
// conflict, never overwritten silently); the problems `braid check` finds
// in the file are listed under it.

import { useEffect, useState } from "react";

import * as api from "./api";
import { CodeEditor } from "./CodeEditor";
import { jsonText } from "./model";

export type FileKind = "apis" | "datasources" | "functions" | "function-settings";

export interface OpenFile { kind: FileKind; name: string }

interface Props {
  file: OpenFile;
  service: api.Service;
  problems: api.Problem[];
  onSaved: (service: api.Service, problems: api.Problem[], status: string) => void;
  onConflict: (path: string) => void;
  onClose: () => void;
}

export const ALLOWED_IMPORTS = ["json", "time", "random", "pickle", "re", "math"];

/** What a new file of a kind starts with. */
export function template(kind: FileKind | "sql"): string {
  switch (kind) {
    case "apis":
      return jsonText({ url: "http://127.0.0.1:8081/users/{uid}", method: "GET", params: { uid: { type: "int", in: "path", required: true } }, timeout_ms: 1000 });
    case "sql":
      return jsonText({ type: "sql", datasource: "app", sql: "SELECT id, name FROM users WHERE id = :id", params: { id: { type: "int", required: true } }, max_rows: 1000 });
    case "datasources":
      return jsonText({ type: "sqlite", path: "data/app.db" });
    case "functions":
      return "import json\n\n\ndef handler(event, context):\n    obj = json.loads(event)\n    return obj\n";
    case "function-settings":
      return jsonText({ timeout_ms: 1000, memory_mb: 128, isolation: "warm" });
  }
}

export function filePath(f: OpenFile): string {
  if (f.kind === "functions") return `functions/${f.name}.py`;
  if (f.kind === "function-settings") return `functions/${f.name}.json`;
  return `${f.kind}/${f.name}.json`;
}

/** The file's current text and etag in the loaded service (null: not on disk). */
export function fileText(s: api.Service, f: OpenFile): { text: string; etag: string | null } {
  if (f.kind === "functions") {
    const e = s.functions[f.name];
    return { text: e?.source ?? "", etag: e?.etag ?? null };
  }
  if (f.kind === "function-settings") {
    const e = s.functions[f.name] as (api.FileEntry & { settings_etag?: string }) | undefined;
    return { text: e?.settings != null ? jsonText(e.settings) : "", etag: e?.settings_etag ?? null };
  }
  const e = s[f.kind][f.name];
  if (!e) return { text: "", etag: null };
  const raw = (e as api.FileEntry & { text?: string }).text;
  return { text: e.content !== undefined && e.content !== null ? jsonText(e.content) : raw ?? "", etag: e.etag };
}

export function FileEditor({ file, service, problems, onSaved, onConflict, onClose }: Props) {
  const path = filePath(file);
  const current = fileText(service, file);
  const [text, setText] = useState(current.text);
  const [etag, setEtag] = useState<string | null>(current.etag);
  const [status, setStatus] = useState("");
  useEffect(() => {
    const c = fileText(service, file);
    setText(c.text);
    setEtag(c.etag);
    setStatus("");
    // Only a different file (or a reload) resets the editor.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [file.kind, file.name]);
  const dirty = text !== current.text || etag !== current.etag;
  const mine = problems.filter((p) => p.file === path);
  const isJson = file.kind !== "functions";

  const save = async () => {
    if (isJson) {
      try { JSON.parse(text); } catch (e) { setStatus(`not JSON: ${(e as Error).message}`); return; }
    }
    try {
      const r = await api.saveFile(file.kind, file.name, text, etag);
      const s = await api.loadService();
      setEtag(r.etag);
      onSaved(s, r.errors, `saved ${path}`);
      setStatus(r.errors.some((p) => p.file === path) ? "saved, with problems" : "saved");
    } catch (e) {
      if (e instanceof api.Conflict) onConflict(path);
      else setStatus(`not saved: ${(e as Error).message}`);
    }
  };

  const remove = async () => {
    if (!etag || !window.confirm(`Delete ${path}?`)) return;
    try {
      await api.deleteFile(file.kind, file.name, etag);
      const s = await api.loadService();
      onSaved(s, await api.check(), `deleted ${path}`);
      onClose();
    } catch (e) {
      if (e instanceof api.Conflict) onConflict(path);
      else setStatus(`not deleted: ${(e as Error).message}`);
    }
  };

  return (
    <section className="fileview" aria-label={`editor for ${path}`}>
      <div className="fileview-head">
        <h2>{path}{dirty ? " • unsaved" : ""}</h2>
        <button type="button" onClick={() => void save()}>Save file</button>
        <button type="button" onClick={() => void remove()} disabled={!etag}>Delete file</button>
        <button type="button" onClick={onClose}>Close</button>
        <span className="status" role="status">{status}</span>
      </div>
      {file.kind === "functions" && (
        <p className="hint">A function defines <code>handler(event, context)</code>; <code>event</code> is JSON text.
          Allowed imports: {ALLOWED_IMPORTS.map((m) => <code key={m}>{m} </code>)} — anything else raises ImportError.
          Settings (timeout_ms, memory_mb, isolation, max_calls) are in functions/{file.name}.json.</p>
      )}
      <CodeEditor value={text} language={isJson ? "json" : "python"} label={path} onChange={setText} />
      {mine.length > 0 && (
        <ul className="problems" aria-label={`problems in ${path}`}>
          {mine.map((p, i) => <li key={i}>{p.field ? `${p.field}: ` : ""}{p.message}</li>)}
        </ul>
      )}
    </section>
  );
}
