import { useQuery, useQueryClient } from "@tanstack/react-query";
import { useCallback, useEffect, useRef, useState } from "react";
import { Link, useNavigate, useParams } from "react-router-dom";
import { ApiError } from "../api/client";
import { parent, workspaceApi, type Entry, type Project, type WorkspaceChange } from "../api/workspace";
import { Empty, ErrorBox, LiveBadge, Loading, PageHeader } from "../components/ui";
import { useFeed, type FeedMessage } from "../live/feed";
import type { Reveal } from "./workspace/Editor";
import { FileTree, treeKey } from "./workspace/FileTree";
import { GitPanel, gitKey } from "./workspace/GitPanel";
import { OpenFiles } from "./workspace/OpenFiles";
import { TerminalPanel } from "./workspace/Terminal";
import { useTabs } from "./workspace/tabs";

// A project's workspace: its files (tree, search, editor), its git repository and a terminal,
// kept live from /ws/workspace/<id> so changes made by agents or other sessions show up as they
// happen.
export default function Workspace() {
  const { id = "" } = useParams();
  const project = useQuery({ queryKey: ["project", id], queryFn: () => workspaceApi.project(id), enabled: !!id, retry: false });

  if (!id) return <ProjectPicker />;
  if (project.isPending) return <Loading what="Loading project" />;
  if (project.isError) {
    const e = project.error;
    // No such project, or not one of the caller's: offer theirs instead.
    if (e instanceof ApiError && (e.status === 404 || e.status === 403 || e.status === 400)) return <ProjectPicker problem={e.message} />;
    return <ErrorBox error={e} retry={() => project.refetch()} />;
  }
  return <ProjectWorkspace key={id} project={project.data} />;
}

function ProjectWorkspace({ project }: { project: Project }) {
  const id = project.id;
  const queryClient = useQueryClient();
  const tabs = useTabs(id);
  const [selected, setSelected] = useState<Entry | null>(null);
  const [reveal, setReveal] = useState<Reveal | null>(null);
  const revealN = useRef(0);

  const refreshFiles = useCallback(() => {
    queryClient.invalidateQueries({ queryKey: treeKey(id) });
    queryClient.invalidateQueries({ queryKey: gitKey(id) });
    queryClient.invalidateQueries({ queryKey: ["ws-search", id] });
  }, [queryClient, id]);

  // Agents can change many files in a burst: the queries an event makes stale are gathered and
  // refetched once, shortly after, rather than once per event (reads are rate limited).
  const stale = useRef(new Map<string, unknown[]>());
  const timer = useRef<ReturnType<typeof setTimeout>>(undefined);
  const invalidate = useCallback(
    (keys: unknown[][]) => {
      for (const k of keys) stale.current.set(JSON.stringify(k), k);
      clearTimeout(timer.current);
      timer.current = setTimeout(() => {
        const all = [...stale.current.values()];
        stale.current.clear();
        for (const queryKey of all) queryClient.invalidateQueries({ queryKey });
      }, 250);
    },
    [queryClient],
  );
  useEffect(() => () => clearTimeout(timer.current), []);

  const feed = useFeed(`/ws/workspace/${id}`, (m: FeedMessage) => {
    if (!m.type.startsWith("workspace.")) return;
    const change = { ...(m.data as WorkspaceChange), kind: (m.data as WorkspaceChange)?.kind ?? m.type.slice("workspace.".length) };
    if (change.kind === "terminal_session" && change.event !== "closed") return;
    invalidate(staleAfter(id, change));
    tabs.changed(change);
  });

  const open = useCallback(
    (path: string, line?: number) => {
      tabs.open(path);
      if (line) setReveal({ path, line, n: ++revealN.current });
    },
    [tabs],
  );

  const title = project.display_name || project.name;
  return (
    <div className="space-y-4">
      <PageHeader title={`Workspace · ${title}`}>
        <LiveBadge state={feed} />
        <ProjectSwitch current={id} />
      </PageHeader>
      <div className="grid gap-4 lg:grid-cols-[16rem_minmax(0,1fr)] 2xl:grid-cols-[17rem_minmax(0,1fr)_22rem]">
        <FileTree
          projectId={id}
          selected={selected}
          onSelect={setSelected}
          onOpen={open}
          onCreated={(p) => open(p)}
          onMoved={tabs.renamed}
          onDeleted={(p) => {
            tabs.removed(p);
            setSelected(null);
          }}
        />
        <div className="min-w-0 space-y-4">
          <OpenFiles projectId={id} tabs={tabs} reveal={reveal} />
          <TerminalPanel
            projectId={id}
            onExit={() => {
              refreshFiles();
              tabs.refreshAll();
            }}
            onCommand={() => invalidate([treeKey(id), gitKey(id, "status"), gitKey(id, "diff")])}
          />
        </div>
        <div className="min-w-0 lg:col-span-2 2xl:col-span-1">
          <GitPanel
            projectId={id}
            onOpen={(p) => open(p)}
            onWorkTreeChanged={() => {
              refreshFiles();
              tabs.refreshAll();
            }}
          />
        </div>
      </div>
    </div>
  );
}

// staleAfter names the queries a change makes stale: the listings of the folders it touched
// and git's view of the files; git's own operations also change branches and history.
function staleAfter(id: string, c: WorkspaceChange): unknown[][] {
  const status = gitKey(id, "status");
  const diffs = gitKey(id, "diff");
  switch (c.kind) {
    case "file_written":
    case "dir_created":
    case "deleted":
      return [...listings(id, c.path), status, diffs];
    case "moved":
      return [...listings(id, c.path), ...listings(id, c.to), status, diffs];
    case "git_staged":
    case "git_unstaged":
      return [status, diffs];
    case "git_committed":
    case "git_initialized":
      return [gitKey(id)];
    default:
      // a checkout or a terminal session: anything may have changed
      return [treeKey(id), gitKey(id)];
  }
}

// listings are the tree queries of every folder above path: a write creates missing folders.
function listings(id: string, path = "."): unknown[][] {
  const out = [treeKey(id, ".")];
  for (let p = parent(path); p !== "."; p = parent(p)) out.push(treeKey(id, p));
  return out;
}

function ProjectSwitch({ current }: { current: string }) {
  const navigate = useNavigate();
  const projects = useQuery({ queryKey: ["projects", "workspace-picker"], queryFn: workspaceApi.projects });
  const items = projects.data?.items ?? [];
  if (items.length < 2) return null;
  return (
    <select className="input w-auto" aria-label="Project" value={current} onChange={(e) => navigate(`/projects/${e.target.value}/workspace`)}>
      {items.map((p) => (
        <option key={p.id} value={p.id}>
          {p.display_name || p.name}
        </option>
      ))}
    </select>
  );
}

function ProjectPicker({ problem }: { problem?: string }) {
  const projects = useQuery({ queryKey: ["projects", "workspace-picker"], queryFn: workspaceApi.projects });
  return (
    <div className="space-y-4">
      <PageHeader title="Workspace" />
      {problem && <p className="text-sm text-rose-700">{problem}</p>}
      <p className="text-sm text-slate-600">Pick the project whose workspace to open.</p>
      {projects.isPending ? (
        <Loading what="Loading projects" />
      ) : projects.isError ? (
        <ErrorBox error={projects.error} retry={() => projects.refetch()} />
      ) : projects.data.items.length === 0 ? (
        <Empty>You have no projects yet.</Empty>
      ) : (
        <ul className="card divide-y divide-slate-100 p-0" data-testid="ws-projects">
          {projects.data.items.map((p) => (
            <li key={p.id}>
              <Link to={`/projects/${p.id}/workspace`} className="flex flex-wrap items-center justify-between gap-2 px-4 py-2 hover:bg-slate-50">
                <span className="font-medium">{p.display_name || p.name}</span>
                <span className="text-xs text-slate-500">
                  {p.name}
                  {p.status === "archived" ? " · archived" : ""}
                </span>
              </Link>
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}
