import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { ApiError } from "../../api/client";
import { parent, workspaceApi, type Entry } from "../../api/workspace";
import { Empty, ErrorBox, Field, Loading } from "../../components/ui";

// The tree of a workspace, read one directory at a time as folders are opened, with the actions
// on the selected entry (new file or folder inside it, rename, delete) and a text search whose
// matches open the file at their line.

export const treeKey = (id: string, path?: string) => (path === undefined ? ["ws-tree", id] : ["ws-tree", id, path]);

interface Props {
  projectId: string;
  selected: Entry | null;
  onSelect: (e: Entry) => void;
  onOpen: (path: string, line?: number) => void;
  // The tree's own changes, for the tabs: a file created (to open), moved or deleted.
  onCreated: (path: string) => void;
  onMoved: (from: string, to: string) => void;
  onDeleted: (path: string) => void;
}

const sortEntries = (items: Entry[]) => [...items].sort((a, b) => (a.dir !== b.dir ? (a.dir ? -1 : 1) : a.name.localeCompare(b.name)));

export function FileTree(props: Props) {
  const { projectId } = props;
  const [expanded, setExpanded] = useState<Set<string>>(() => new Set());
  const queryClient = useQueryClient();
  const toggle = (path: string) =>
    setExpanded((s) => {
      const n = new Set(s);
      if (n.has(path)) n.delete(path);
      else n.add(path);
      return n;
    });
  return (
    <section className="card space-y-3 p-3" aria-label="Files">
      <SearchBox projectId={projectId} onOpen={props.onOpen} />
      <div className="flex items-center justify-between gap-2">
        <h2 className="text-sm font-semibold">Files</h2>
        <button className="text-xs text-slate-500 hover:text-slate-800" title="Refresh" onClick={() => queryClient.invalidateQueries({ queryKey: treeKey(projectId) })}>
          ↻ Refresh
        </button>
      </div>
      <Actions {...props} expand={(p) => setExpanded((s) => new Set(s).add(p))} />
      <div className="max-h-[60vh] overflow-auto text-sm">
        <DirChildren {...props} path="." depth={0} expanded={expanded} toggle={toggle} />
      </div>
    </section>
  );
}

interface DirProps extends Props {
  path: string;
  depth: number;
  expanded: Set<string>;
  toggle: (path: string) => void;
}

function DirChildren(props: DirProps) {
  const { projectId, path, depth, expanded, toggle, selected } = props;
  const tree = useQuery({ queryKey: treeKey(projectId, path), queryFn: () => workspaceApi.tree(projectId, path) });
  if (tree.isPending) return <Loading what={depth === 0 ? "Loading files" : "Loading"} />;
  // A failed refresh keeps the listing it had, under the error.
  const failed = tree.isError && <ErrorBox error={tree.error} retry={() => tree.refetch()} />;
  if (!tree.data) return failed;
  if (tree.data.items.length === 0) {
    return depth === 0 ? <Empty>The workspace is empty: create a file or a folder.</Empty> : <div className="py-0.5 text-xs text-slate-400" style={{ paddingLeft: depth * 12 + 20 }}>empty</div>;
  }
  return (
    <ul>
      {failed && <li>{failed}</li>}
      {sortEntries(tree.data.items).map((e) => (
        <li key={e.path}>
          <button
            data-testid="ws-tree-item"
            data-path={e.path}
            data-dir={e.dir ? "true" : undefined}
            aria-expanded={e.dir ? expanded.has(e.path) : undefined}
            className={`flex w-full items-center gap-1 truncate rounded px-1 py-0.5 text-left hover:bg-slate-100 ${selected?.path === e.path ? "bg-indigo-50 text-indigo-800" : ""}`}
            style={{ paddingLeft: depth * 12 + 4 }}
            onClick={() => {
              props.onSelect(e);
              if (e.dir) toggle(e.path);
              else props.onOpen(e.path);
            }}
            title={e.path}
          >
            <span className="w-3 shrink-0 text-xs text-slate-400">{e.dir ? (expanded.has(e.path) ? "▾" : "▸") : ""}</span>
            <span className="truncate">{e.name}</span>
            {e.symlink && <span className="text-xs text-slate-400">↪</span>}
          </button>
          {e.dir && expanded.has(e.path) && <DirChildren {...props} path={e.path} depth={depth + 1} />}
        </li>
      ))}
      {tree.data.truncated && <li className="px-1 text-xs text-amber-700">More entries than can be listed; use the search.</li>}
    </ul>
  );
}

type Mode = null | "file" | "folder" | "rename" | "delete";

// Actions act on the selected entry: new entries go inside a selected folder (or beside a
// selected file), rename and delete take the entry itself.
function Actions({ projectId, selected, onCreated, onMoved, onDeleted, onSelect, expand }: Props & { expand: (p: string) => void }) {
  const queryClient = useQueryClient();
  const [mode, setMode] = useState<Mode>(null);
  const [value, setValue] = useState("");
  const dir = selected ? (selected.dir ? selected.path : parent(selected.path)) : ".";
  const refresh = () => {
    queryClient.invalidateQueries({ queryKey: treeKey(projectId) });
    queryClient.invalidateQueries({ queryKey: ["ws-git", projectId, "status"] });
  };
  const done = () => {
    setMode(null);
    action.reset();
  };
  const action = useMutation({
    mutationFn: async (m: Exclude<Mode, null>) => {
      const path = value.trim().replace(/^\/+/, "");
      switch (m) {
        case "file": {
          // A new file must not overwrite one already there (a write without If-Match would).
          const exists = await workspaceApi.read(projectId, path, 0, 1).then(
            () => true,
            (e) => (e instanceof ApiError && e.status === 404 ? false : Promise.reject(e)),
          );
          if (exists) throw new ApiError(409, { error: { code: "conflict", message: `${path} already exists`, field: "path" } });
          await workspaceApi.write(projectId, path, "");
          return path;
        }
        case "folder":
          await workspaceApi.mkdir(projectId, path);
          return path;
        case "rename":
          await workspaceApi.move(projectId, selected!.path, path);
          return path;
        case "delete":
          await workspaceApi.remove(projectId, selected!.path, selected!.dir);
          return selected!.path;
      }
    },
    onSuccess: (path, m) => {
      refresh();
      if (parent(path) !== ".") expand(parent(path));
      if (m === "file") onCreated(path);
      if (m === "folder") expand(path);
      if (m === "rename") {
        onMoved(selected!.path, path);
        onSelect({ ...selected!, path, name: path.slice(path.lastIndexOf("/") + 1) });
      }
      if (m === "delete") onDeleted(path);
      done();
    },
  });
  const start = (m: Exclude<Mode, null>) => {
    action.reset();
    setMode(m);
    setValue(m === "rename" ? selected!.path : m === "delete" ? "" : dir === "." ? "" : dir + "/");
  };
  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (mode) action.mutate(mode);
  };
  const err = action.error instanceof ApiError ? action.error : null;
  const fieldName = mode === "rename" ? (err?.fieldMessage("to") ? "to" : "path") : "path";
  return (
    <div className="space-y-2">
      <div className="flex flex-wrap gap-1">
        <button className="btn-secondary px-2 py-1 text-xs" onClick={() => start("file")}>
          New file
        </button>
        <button className="btn-secondary px-2 py-1 text-xs" onClick={() => start("folder")}>
          New folder
        </button>
        <button className="btn-secondary px-2 py-1 text-xs" disabled={!selected} onClick={() => start("rename")}>
          Rename
        </button>
        <button className="btn-secondary px-2 py-1 text-xs" disabled={!selected} onClick={() => start("delete")}>
          Delete
        </button>
      </div>
      {mode === "delete" && selected && (
        <div className="rounded border border-rose-200 bg-rose-50 p-2 text-xs" role="alertdialog">
          Delete <code>{selected.path}</code>
          {selected.dir ? " and everything in it" : ""}?
          <div className="mt-2 flex gap-2">
            <button className="btn-danger px-2 py-1 text-xs" disabled={action.isPending} onClick={() => action.mutate("delete")}>
              Delete
            </button>
            <button className="btn-secondary px-2 py-1 text-xs" onClick={done}>
              Cancel
            </button>
          </div>
          {action.error && <ErrorBox error={action.error} />}
        </div>
      )}
      {(mode === "file" || mode === "folder" || mode === "rename") && (
        <form onSubmit={submit} className="space-y-2">
          <Field label={mode === "rename" ? `Rename ${selected?.name} to` : mode === "file" ? "New file" : "New folder"} name={fieldName} error={err}>
            <input
              className={`input ${err?.fieldMessage(fieldName) ? "input-error" : ""}`}
              value={value}
              onChange={(e) => setValue(e.target.value)}
              placeholder="path/in/the/workspace"
              aria-label="Path"
              autoFocus
            />
          </Field>
          {action.error && !err?.fieldMessage(fieldName) && <ErrorBox error={action.error} />}
          <div className="flex gap-2">
            <button className="btn px-2 py-1 text-xs" type="submit" disabled={action.isPending || !value.trim()}>
              {mode === "rename" ? "Rename" : "Create"}
            </button>
            <button className="btn-secondary px-2 py-1 text-xs" type="button" onClick={done}>
              Cancel
            </button>
          </div>
        </form>
      )}
    </div>
  );
}

function SearchBox({ projectId, onOpen }: { projectId: string; onOpen: Props["onOpen"] }) {
  const [text, setText] = useState("");
  const [glob, setGlob] = useState("");
  // n makes each search a new one: the files may have changed since the same words were sought.
  const [asked, setAsked] = useState<{ q: string; glob: string; n: number } | null>(null);
  const search = useQuery({
    queryKey: ["ws-search", projectId, asked?.q, asked?.glob, asked?.n],
    queryFn: () => workspaceApi.search(projectId, asked!.q, asked!.glob || undefined),
    enabled: !!asked,
  });
  const err = search.error instanceof ApiError ? search.error : null;
  return (
    <div className="space-y-2">
      <form
        className="flex flex-wrap gap-2"
        onSubmit={(e) => {
          e.preventDefault();
          setAsked(text.trim() ? { q: text.trim(), glob: glob.trim(), n: (asked?.n ?? 0) + 1 } : null);
        }}
        role="search"
      >
        <input className={`input min-w-0 flex-1 ${err?.fieldMessage("query") ? "input-error" : ""}`} value={text} onChange={(e) => setText(e.target.value)} placeholder="Search in files" aria-label="Search in files" />
        <input className={`input w-24 ${err?.fieldMessage("glob") ? "input-error" : ""}`} value={glob} onChange={(e) => setGlob(e.target.value)} placeholder="*.go" aria-label="Files matching" />
        <button className="btn-secondary px-2 py-1 text-xs" type="submit">
          Search
        </button>
      </form>
      {asked && search.isPending && <Loading what="Searching" />}
      {search.isError && <ErrorBox error={search.error} />}
      {asked && search.data && (
        <div className="max-h-64 overflow-auto rounded border border-slate-200 text-xs" data-testid="ws-search-results">
          {search.data.items.length === 0 ? (
            <div className="p-2 text-slate-500">No matches.</div>
          ) : (
            <ul>
              {search.data.items.map((m) => (
                <li key={`${m.path}:${m.line}`}>
                  <button className="block w-full truncate px-2 py-1 text-left hover:bg-slate-100" onClick={() => onOpen(m.path, m.line)} title={`${m.path}:${m.line}`} data-testid="ws-search-match">
                    <span className="font-medium text-indigo-700">
                      {m.path}:{m.line}
                    </span>{" "}
                    <span className="font-mono text-slate-600">{m.text.trim()}</span>
                  </button>
                </li>
              ))}
            </ul>
          )}
          {search.data.truncated && <div className="border-t border-slate-200 p-2 text-amber-700">More matches than shown: narrow the search.</div>}
          <button className="w-full border-t border-slate-200 p-1 text-slate-500 hover:bg-slate-50" onClick={() => setAsked(null)}>
            Clear search
          </button>
        </div>
      )}
    </div>
  );
}
