import { useEffect, useRef } from "react";
import { monaco } from "./monaco";

type Model = ReturnType<typeof monaco.editor.createModel>;
type ViewState = ReturnType<ReturnType<typeof monaco.editor.create>["saveViewState"]>;

export interface Reveal {
  path: string;
  line: number;
  // n changes on every request, so asking twice for the same line scrolls there again.
  n: number;
}

interface Props {
  // path is the file shown, null for none (the page shows something else: a binary file, a
  // file still loading); the editor stays, so the other files keep their undo history.
  path: string | null;
  value: string;
  // version changes when the page replaces the text (a reload); value is taken only then, so
  // an edit the page has not caught up with yet is never undone.
  version: number;
  language: string;
  readOnly?: boolean;
  reveal?: Reveal | null;
  // paths lists the open tabs: the models of the others are let go.
  paths: string[];
  onChange: (path: string, value: string) => void;
}

// CodeEditor is one Monaco editor for every open file: each file has its own model (so undo
// history and cursor survive switching tabs), and the page holds the text of each. A value the
// page changes from outside (a reload) replaces the model's content.
export function CodeEditor({ path, value, version, language, readOnly, reveal, paths, onChange }: Props) {
  const host = useRef<HTMLDivElement>(null);
  const editor = useRef<ReturnType<typeof monaco.editor.create> | null>(null);
  const models = useRef(new Map<string, Model>());
  const views = useRef(new Map<string, ViewState>());
  const current = useRef<string | null>(null);
  const versions = useRef(new Map<string, number>());
  const change = useRef(onChange);
  change.current = onChange;

  useEffect(() => {
    const ed = monaco.editor.create(host.current!, {
      automaticLayout: true,
      minimap: { enabled: false },
      fontSize: 13,
      scrollBeyondLastLine: false,
      tabSize: 2,
      // The classic hidden textarea rather than Chromium's EditContext: it is what browser
      // automation (the end-to-end suite) and older assistive tools type into.
      editContext: false,
    });
    editor.current = ed;
    const all = models.current;
    return () => {
      ed.dispose();
      for (const m of all.values()) m.dispose();
      all.clear();
      editor.current = null;
      current.current = null;
    };
  }, []);

  // Switch to the file's model, creating it on first sight.
  useEffect(() => {
    const ed = editor.current;
    if (!ed) return;
    if (path === null) {
      if (current.current) views.current.set(current.current, ed.saveViewState());
      ed.setModel(null);
      current.current = null;
      return;
    }
    let model = models.current.get(path);
    if (!model || model.isDisposed()) {
      model = monaco.editor.createModel(value, language);
      const m = model;
      m.onDidChangeContent(() => change.current(path, m.getValue()));
      models.current.set(path, m);
      versions.current.set(path, version);
    }
    if (current.current !== path) {
      if (current.current) views.current.set(current.current, ed.saveViewState());
      ed.setModel(model);
      const view = views.current.get(path);
      if (view) ed.restoreViewState(view);
      current.current = path;
    }
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [path]);

  // A reload from the page (the file changed on disk) replaces the text.
  useEffect(() => {
    const model = path === null ? undefined : models.current.get(path);
    if (!model || model.isDisposed() || versions.current.get(path!) === version) return;
    versions.current.set(path!, version);
    if (model.getValue() !== value) model.setValue(value);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [path, version]);

  useEffect(() => {
    const model = path === null ? undefined : models.current.get(path);
    if (model && !model.isDisposed()) monaco.editor.setModelLanguage(model, language);
  }, [path, language]);

  useEffect(() => {
    editor.current?.updateOptions({ readOnly: !!readOnly });
  }, [readOnly]);

  useEffect(() => {
    for (const [p, m] of models.current) {
      if (!paths.includes(p)) {
        m.dispose();
        models.current.delete(p);
        views.current.delete(p);
        versions.current.delete(p);
      }
    }
  }, [paths]);

  // A search hit asks for its line; it is applied once its file is the one shown.
  const revealed = useRef(0);
  useEffect(() => {
    const ed = editor.current;
    if (!ed || !reveal || reveal.path !== path || revealed.current === reveal.n) return;
    revealed.current = reveal.n;
    ed.revealLineInCenter(reveal.line);
    ed.setPosition({ lineNumber: reveal.line, column: 1 });
    ed.focus();
  }, [reveal, path]);

  return (
    <div
      ref={host}
      data-testid="ws-editor"
      data-path={path ?? undefined}
      className={path === null ? "hidden" : "h-[60vh] min-h-[300px] w-full"}
    />
  );
}
