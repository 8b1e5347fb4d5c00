/* The Code node's editor and the Jinja2 template box: CodeMirror 6 (syntax highlighting, line
   numbers, bracket matching, undo inside the box), bundled with the canvas. */
import { useEffect, useRef } from "react";
import { basicSetup, EditorView } from "codemirror";
import { Compartment, EditorState } from "@codemirror/state";
import { python } from "@codemirror/lang-python";
import { javascript } from "@codemirror/lang-javascript";

function languageFor(name) {
  if (name === "python3") return python();
  if (name === "javascript") return javascript();
  return [];
}

export function CodeBox({ value, onChange, language, label, readOnly }) {
  const host = useRef(null);
  const view = useRef(null);
  const lang = useRef(new Compartment());
  const latest = useRef(onChange);
  latest.current = onChange;
  useEffect(() => {
    const state = EditorState.create({
      doc: value || "",
      extensions: [basicSetup, lang.current.of(languageFor(language)), EditorState.readOnly.of(!!readOnly),
        EditorView.contentAttributes.of({ "aria-label": label || "" }),
        EditorView.updateListener.of((u) => { if (u.docChanged) latest.current(u.state.doc.toString()); })],
    });
    view.current = new EditorView({ state, parent: host.current });
    return () => view.current.destroy();
  }, []);  // eslint-disable-line react-hooks/exhaustive-deps
  useEffect(() => {  // a change from outside (undo on the canvas, JSON box) replaces the text
    const v = view.current;
    if (v && (value || "") !== v.state.doc.toString()) {
      v.dispatch({ changes: { from: 0, to: v.state.doc.length, insert: value || "" } });
    }
  }, [value]);
  useEffect(() => {
    if (view.current) view.current.dispatch({ effects: lang.current.reconfigure(languageFor(language)) });
  }, [language]);
  return <div ref={host} className="wfe-codemirror nodrag nowheel" data-testid="code-editor" />;
}
