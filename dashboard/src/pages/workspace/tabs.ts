import { useCallback, useRef, useState } from "react";
import { ApiError } from "../../api/client";
import { isBinaryRead, isConflict, within, workspaceApi, type FileRead, type WorkspaceChange } from "../../api/workspace";

// The open files of the workspace page: each tab's text as the user edits it, the text and
// sha256 last read or saved (a save sends that sha256 as If-Match, so a file changed meanwhile is
// never overwritten unseen), and what happened to it on disk since.

export interface Tab {
  path: string;
  state: "loading" | "ready" | "error";
  error?: unknown;
  file?: FileRead;
  content: string;
  saved: string;
  sha256: string | null;
  binary: boolean;
  // partial: larger than one read, so shown in part and read-only.
  partial: boolean;
  saving: boolean;
  // loads counts the reads that set the text: the editor takes the text from the page only
  // when it changes, never while the user types.
  loads: number;
  saveError?: unknown;
  // conflict: a save was refused because the file changed (or vanished) since it was read.
  conflict?: string;
  // external: someone else changed or deleted the file while this tab had unsaved changes.
  external?: { kind: "changed" | "deleted"; by?: string };
}

export const isDirty = (t: Tab) => t.state === "ready" && !t.binary && t.content !== t.saved;
export const isEditable = (t: Tab) => t.state === "ready" && !t.binary && !t.partial;

function fromRead(prev: Tab, f: FileRead): Tab {
  const binary = isBinaryRead(f);
  const text = binary ? "" : f.content;
  return { path: prev.path, state: "ready", file: f, content: text, saved: text, sha256: f.sha256 ?? null, binary, partial: !f.eof, saving: false, loads: prev.loads + 1 };
}

export function useTabs(projectId: string) {
  const [tabs, setTabs] = useState<Tab[]>([]);
  const [active, setActive] = useState<string | null>(null);
  const ref = useRef(tabs);
  ref.current = tabs;
  // Changes announced for a file while its save is in flight: the feed can deliver our own
  // write's event before the answer to the write, so they are judged once the answer is in.
  const inflight = useRef(new Map<string, WorkspaceChange[]>());

  const update = useCallback((path: string, patch: Partial<Tab> | ((t: Tab) => Partial<Tab>)) => {
    setTabs((ts) => ts.map((t) => (t.path === path ? { ...t, ...(typeof patch === "function" ? patch(t) : patch) } : t)));
  }, []);

  const load = useCallback(
    async (path: string) => {
      try {
        const f = await workspaceApi.read(projectId, path);
        setTabs((ts) => ts.map((t) => (t.path === path ? fromRead(t, f) : t)));
      } catch (error) {
        update(path, { state: "error", error });
      }
    },
    [projectId, update],
  );

  const open = useCallback(
    (path: string) => {
      setActive(path);
      if (ref.current.some((t) => t.path === path)) return;
      setTabs((ts) => [...ts, { path, state: "loading", content: "", saved: "", sha256: null, binary: false, partial: false, saving: false, loads: 0 }]);
      void load(path);
    },
    [load],
  );

  const close = useCallback((path: string) => {
    const ts = ref.current;
    const i = ts.findIndex((t) => t.path === path);
    const rest = ts.filter((t) => t.path !== path);
    setTabs((cur) => cur.filter((t) => t.path !== path));
    setActive((a) => (a === path ? (rest[Math.min(i, rest.length - 1)]?.path ?? null) : a));
  }, []);

  const edit = useCallback((path: string, content: string) => update(path, { content }), [update]);

  // reload replaces the tab with the file as it is now, dropping unsaved changes.
  const reload = useCallback(
    async (path: string) => {
      try {
        const f = await workspaceApi.read(projectId, path);
        setTabs((ts) => ts.map((t) => (t.path === path ? fromRead(t, f) : t)));
      } catch (error) {
        if (error instanceof ApiError && error.status === 404) update(path, { external: { kind: "deleted" }, conflict: undefined });
        else update(path, { saveError: error });
      }
    },
    [projectId, update],
  );

  // onDisk handles a change made by someone else: a clean tab follows it, a dirty one warns.
  const onDisk = useCallback(
    (path: string, c: WorkspaceChange) => {
      const t = ref.current.find((x) => x.path === path);
      if (!t || t.state !== "ready") return;
      if (c.kind === "file_written" && c.sha256 && c.sha256 === t.sha256) return; // what we hold
      if (!isDirty(t) && c.kind === "file_written") void reload(path);
      else update(path, { external: { kind: c.kind === "deleted" ? "deleted" : "changed", by: c.by } });
    },
    [reload, update],
  );

  const write = useCallback(
    async (path: string, force: boolean) => {
      const t = ref.current.find((x) => x.path === path);
      if (!t || !isEditable(t) || t.saving) return;
      const content = t.content;
      update(path, { saving: true, saveError: undefined });
      inflight.current.set(path, []);
      try {
        let sha = t.sha256;
        if (force) {
          // Overwrite exactly the version on disk now, still as a conditional write.
          sha = await workspaceApi.read(projectId, path).then(
            (f) => f.sha256 ?? null,
            (e) => (e instanceof ApiError && e.status === 404 ? null : Promise.reject(e)),
          );
        }
        const res = await workspaceApi.write(projectId, path, content, sha);
        update(path, (cur) => ({
          saving: false,
          saved: content,
          sha256: res.sha256,
          conflict: undefined,
          external: undefined,
          file: cur.file ? { ...cur.file, entry: res.entry } : cur.file,
        }));
        const seen = inflight.current.get(path) ?? [];
        inflight.current.delete(path);
        for (const c of seen) if (!(c.kind === "file_written" && c.sha256 === res.sha256)) onDisk(path, c);
      } catch (error) {
        inflight.current.delete(path);
        if (isConflict(error)) update(path, { saving: false, conflict: (error as ApiError).message });
        else update(path, { saving: false, saveError: error });
      }
    },
    [projectId, update, onDisk],
  );

  // refresh re-reads an open file: a new version replaces a clean tab and warns a dirty one.
  const refresh = useCallback(
    async (path: string) => {
      try {
        const f = await workspaceApi.read(projectId, path);
        const t = ref.current.find((x) => x.path === path);
        if (!t || t.state !== "ready" || !f.sha256 || f.sha256 === t.sha256 || inflight.current.has(path)) return;
        if (isDirty(t)) update(path, { external: { kind: "changed" } });
        else setTabs((ts) => ts.map((x) => (x.path === path ? fromRead(x, f) : x)));
      } catch (error) {
        if (error instanceof ApiError && error.status === 404) onDisk(path, { kind: "deleted", path });
      }
    },
    [projectId, update, onDisk],
  );

  // changed applies a workspace.* event to the open tabs.
  const changed = useCallback(
    (c: WorkspaceChange) => {
      const path = c.path ?? "";
      switch (c.kind) {
        case "file_written": {
          const pending = inflight.current.get(path);
          if (pending) pending.push(c);
          else onDisk(path, c);
          break;
        }
        case "moved": {
          const to = c.to ?? "";
          const rename = (p: string) => (within(p, path) ? to + p.slice(path.length) : p);
          setTabs((ts) => ts.map((t) => (within(t.path, path) ? { ...t, path: rename(t.path) } : t)));
          setActive((a) => (a && within(a, path) ? rename(a) : a));
          break;
        }
        case "deleted":
          for (const t of ref.current) if (within(t.path, path)) update(t.path, { external: { kind: "deleted", by: c.by } });
          break;
        case "git_checked_out":
        case "terminal_session":
          // Files may have changed with no event of their own: look at each open file again.
          for (const t of ref.current) if (t.state === "ready" && !t.binary) void refresh(t.path);
          break;
      }
    },
    [onDisk, update, refresh],
  );

  const refreshAll = useCallback(() => {
    for (const t of ref.current) if (t.state === "ready" && !t.binary) void refresh(t.path);
  }, [refresh]);

  // renamed and removed follow the tree's own actions before their events arrive.
  const renamed = useCallback((from: string, to: string) => changed({ kind: "moved", path: from, to }), [changed]);
  const removed = useCallback((path: string) => {
    const gone = ref.current.filter((t) => within(t.path, path) && !isDirty(t)).map((t) => t.path);
    const rest = ref.current.filter((t) => !gone.includes(t.path));
    setTabs((ts) =>
      ts.filter((t) => !gone.includes(t.path)).map((t) => (within(t.path, path) ? { ...t, external: { kind: "deleted" as const } } : t)),
    );
    setActive((a) => (a && gone.includes(a) ? (rest[0]?.path ?? null) : a));
  }, []);

  return { tabs, active, setActive, open, close, edit, save: (p: string) => write(p, false), overwrite: (p: string) => write(p, true), reload, changed, refreshAll, renamed, removed, update };
}
