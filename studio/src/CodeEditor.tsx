// CodeEditor.tsx — a CodeMirror 6 editor for one file's text: JSON for
// API, SQL API, data source and settings files, Python for functions, with
// syntax highlighting, line numbers, undo and search (basicSetup).  The
// text is owned by the caller: changes are reported, and a new `value`
// from outside (a reload) replaces the document.

import { json } from "@codemirror/lang-json";
import { python } from "@codemirror/lang-python";
import { EditorState } from "@codemirror/state";
import { EditorView } from "@codemirror/view";
import { basicSetup } from "codemirror";
import { useEffect, useRef } from "react";

interface Props {
  value: string;
  language: "json" | "python";
  label: string;
  onChange: (text: string) => void;
}

export function CodeEditor({ value, language, label, onChange }: Props) {
  const host = useRef<HTMLDivElement>(null);
  const view = useRef<EditorView | null>(null);
  const changed = useRef(onChange);
  changed.current = onChange;

  useEffect(() => {
    if (!host.current) return;
    const v = new EditorView({
      parent: host.current,
      state: EditorState.create({
        doc: value,
        extensions: [basicSetup, language === "json" ? json() : python(),
          EditorView.contentAttributes.of({ "aria-label": label }),
          EditorView.updateListener.of((u) => { if (u.docChanged) changed.current(u.state.doc.toString()); })],
      }),
    });
    view.current = v;
    return () => { v.destroy(); view.current = null; };
    // The editor is made once per language; value changes arrive below.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [language, label]);

  useEffect(() => {
    const v = view.current;
    if (v && v.state.doc.toString() !== value) {
      v.dispatch({ changes: { from: 0, to: v.state.doc.length, insert: value } });
    }
  }, [value]);

  return <div className="code" ref={host} data-testid="code-editor" />;
}
