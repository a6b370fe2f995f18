import { useEffect, useMemo, useRef, useState } from "react";
import { decodeBase64, formatBytes, imageType, languageOf, saveBlob, workspaceApi } from "../../api/workspace";
import { useSession } from "../../auth/session";
import { Empty, ErrorBox, Loading } from "../../components/ui";
import { CodeEditor, type Reveal } from "./Editor";
import { isDirty, isEditable, type Tab, type useTabs } from "./tabs";

type Tabs = ReturnType<typeof useTabs>;

const nameOf = (p: string) => p.slice(p.lastIndexOf("/") + 1);
// who names the author of a change: "user:<id>" or "agent:<id>".
function who(by?: string): string {
  if (!by) return "";
  if (by === `user:${useSession.getState().user?.id}`) return " by you, in another window";
  return ` by ${by.replace(":", " ")}`;
}

// OpenFiles is the centre of the page: the tabs of the open files, the one shown (in Monaco,
// or as a binary file to download), its Save button and what stands in its way (a conflict, a
// change on disk).
export function OpenFiles({ projectId, tabs, reveal }: { projectId: string; tabs: Tabs; reveal: Reveal | null }) {
  const tab = tabs.tabs.find((t) => t.path === tabs.active) ?? null;
  const [closing, setClosing] = useState<string | null>(null);
  const saveRef = useRef<() => void>(() => {});
  saveRef.current = () => {
    if (tab && isEditable(tab)) void tabs.save(tab.path);
  };

  // Ctrl/Cmd+S saves the file shown rather than the page.
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if ((e.ctrlKey || e.metaKey) && !e.altKey && e.key.toLowerCase() === "s") {
        e.preventDefault();
        saveRef.current();
      }
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, []);

  // Leaving the console with unsaved files asks first.
  const unsaved = tabs.tabs.some(isDirty);
  useEffect(() => {
    if (!unsaved) return;
    const warn = (e: BeforeUnloadEvent) => e.preventDefault();
    window.addEventListener("beforeunload", warn);
    return () => window.removeEventListener("beforeunload", warn);
  }, [unsaved]);

  const textTabs = useMemo(() => tabs.tabs.filter((t) => t.state === "ready" && !t.binary).map((t) => t.path), [tabs.tabs]);
  const shown = tab && tab.state === "ready" && !tab.binary ? tab : null;

  return (
    <section className="card space-y-2 p-0" aria-label="Editor">
      {tabs.tabs.length > 0 && (
        <div className="flex overflow-x-auto border-b border-slate-200" role="tablist">
          {tabs.tabs.map((t) => (
            <div
              key={t.path}
              role="tab"
              aria-selected={t.path === tabs.active}
              data-path={t.path}
              data-dirty={isDirty(t) ? "true" : undefined}
              className={`flex shrink-0 items-center gap-1 border-r border-slate-200 px-2 py-1.5 text-sm ${t.path === tabs.active ? "bg-white font-medium text-slate-900" : "bg-slate-50 text-slate-600"}`}
            >
              <button onClick={() => tabs.setActive(t.path)} title={t.path} className="max-w-[12rem] truncate">
                {nameOf(t.path)}
              </button>
              {isDirty(t) && (
                <span className="text-amber-600" aria-label="unsaved changes" title="unsaved changes">
                  ●
                </span>
              )}
              {closing === t.path ? (
                <span className="flex items-center gap-1 text-xs">
                  <button className="text-rose-700 hover:underline" onClick={() => {
                      setClosing(null);
                      tabs.close(t.path);
                    }}>
                    Discard
                  </button>
                  <button className="text-slate-500 hover:underline" onClick={() => setClosing(null)}>
                    Keep
                  </button>
                </span>
              ) : (
                <button
                  className="px-1 text-slate-400 hover:text-slate-800"
                  aria-label={`Close ${t.path}`}
                  onClick={() => (isDirty(t) ? setClosing(t.path) : tabs.close(t.path))}
                >
                  ×
                </button>
              )}
            </div>
          ))}
        </div>
      )}
      <div className="space-y-2 px-3 pb-3 pt-1">
        {tab ? <Toolbar projectId={projectId} tab={tab} tabs={tabs} /> : <div className="pt-2" />}
        {!tab && <Empty>Open a file from the tree, or create one.</Empty>}
        {tab?.state === "loading" && <Loading what={`Opening ${tab.path}`} />}
        {tab?.state === "error" && <ErrorBox error={tab.error} retry={() => tabs.reload(tab.path)} />}
        {tab?.state === "ready" && tab.binary && <BinaryFile projectId={projectId} tab={tab} />}
        <CodeEditor
          path={shown?.path ?? null}
          value={shown?.content ?? ""}
          version={shown?.loads ?? 0}
          language={shown ? languageOf(shown.path) : "plaintext"}
          readOnly={shown ? !isEditable(shown) : true}
          reveal={reveal}
          paths={textTabs}
          onChange={tabs.edit}
        />
      </div>
    </section>
  );
}

function Toolbar({ projectId, tab, tabs }: { projectId: string; tab: Tab; tabs: Tabs }) {
  const dirty = isDirty(tab);
  return (
    <div className="space-y-2">
      <div className="flex flex-wrap items-center gap-2">
        <code className="min-w-0 flex-1 truncate text-xs text-slate-600" title={tab.path}>
          {tab.path}
          {dirty ? " (unsaved)" : ""}
        </code>
        {tab.file && <span className="text-xs text-slate-400">{formatBytes(tab.file.entry.size)}</span>}
        {tab.state === "ready" && (
          <button className="btn-secondary px-2 py-1 text-xs" onClick={() => download(projectId, tab.path)}>
            Download
          </button>
        )}
        {tab.state === "ready" && !tab.binary && (
          <button
            className="btn px-3 py-1 text-xs"
            data-testid="ws-save"
            disabled={!isEditable(tab) || !dirty || tab.saving}
            onClick={() => tabs.save(tab.path)}
            title="Save (Ctrl/Cmd+S)"
          >
            {tab.saving ? "Saving…" : "Save"}
          </button>
        )}
      </div>
      {tab.partial && (
        <p className="rounded border border-amber-200 bg-amber-50 p-2 text-xs text-amber-800">
          This file is too large to edit here: it shows the first {formatBytes(tab.file?.length ?? 0)}, read-only. Download it to see it all.
        </p>
      )}
      {tab.saveError != null && <ErrorBox error={tab.saveError} />}
      {tab.conflict && (
        <div role="alert" data-testid="ws-conflict" className="rounded border border-rose-200 bg-rose-50 p-2 text-xs text-rose-800">
          <p className="font-medium">Not saved: {tab.conflict}.</p>
          <p>Someone changed this file after you opened it. Reload it (your changes are lost) or overwrite it with yours.</p>
          <div className="mt-2 flex flex-wrap gap-2">
            <button className="btn-secondary px-2 py-1 text-xs" onClick={() => tabs.reload(tab.path)}>
              Reload
            </button>
            <button className="btn-danger px-2 py-1 text-xs" onClick={() => tabs.overwrite(tab.path)} disabled={tab.saving}>
              Overwrite
            </button>
          </div>
        </div>
      )}
      {!tab.conflict && tab.external && (
        <div role="alert" data-testid="ws-external" className="rounded border border-amber-200 bg-amber-50 p-2 text-xs text-amber-900">
          {tab.external.kind === "deleted" ? (
            <p>
              This file was deleted{who(tab.external.by)}.{isDirty(tab) ? " Save to create it again with your text, or close it." : ""}
            </p>
          ) : (
            <p>This file was changed{who(tab.external.by)} while you were editing it. Reload to see the new version (your changes are lost), or keep editing; saving will ask before overwriting.</p>
          )}
          <div className="mt-2 flex flex-wrap gap-2">
            {tab.external.kind === "changed" && (
              <button className="btn-secondary px-2 py-1 text-xs" onClick={() => tabs.reload(tab.path)}>
                Reload
              </button>
            )}
            {tab.external.kind === "deleted" && (
              <button className="btn-secondary px-2 py-1 text-xs" onClick={() => tabs.close(tab.path)}>
                Close
              </button>
            )}
            <button className="btn-secondary px-2 py-1 text-xs" onClick={() => tabs.update(tab.path, { external: undefined, sha256: tab.external?.kind === "deleted" ? null : tab.sha256 })}>
              Dismiss
            </button>
          </div>
        </div>
      )}
    </div>
  );
}

function BinaryFile({ projectId, tab }: { projectId: string; tab: Tab }) {
  const f = tab.file!;
  const mime = imageType(tab.path);
  const url = useMemo(() => {
    if (!mime || f.encoding !== "base64" || !f.eof) return null;
    return URL.createObjectURL(new Blob([decodeBase64(f.content) as BlobPart], { type: mime }));
  }, [f, mime]);
  useEffect(() => () => (url ? URL.revokeObjectURL(url) : undefined), [url]);
  return (
    <div className="space-y-2 rounded border border-slate-200 p-3 text-sm" data-testid="ws-binary">
      <p>
        binary, {f.entry.size} bytes,{" "}
        <button className="text-indigo-700 underline" onClick={() => download(projectId, tab.path)}>
          Download
        </button>
      </p>
      {url && <img src={url} alt={tab.path} className="max-h-96 max-w-full rounded border border-slate-100" />}
    </div>
  );
}

async function download(projectId: string, path: string) {
  try {
    saveBlob(await workspaceApi.download(projectId, path), nameOf(path));
  } catch (e) {
    alert(`Download failed: ${(e as Error).message}`);
  }
}
