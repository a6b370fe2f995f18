import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { ApiError } from "../../api/client";
import { notARepo, workspaceApi, type GitFile } from "../../api/workspace";
import { Empty, ErrorBox, Field, Loading, when } from "../../components/ui";
import { DiffView } from "./DiffView";

// The git side of a workspace: the branch, the changed files with stage and unstage, the diff
// of the file picked, the commit form, the branches and the recent log.

export const gitKey = (id: string, ...rest: unknown[]) => ["ws-git", id, ...rest];

const staged = (f: GitFile) => f.index !== "" && !f.untracked;
const unstaged = (f: GitFile) => f.work_tree !== "" || f.untracked;

interface Props {
  projectId: string;
  onOpen: (path: string) => void;
  // onWorkTreeChanged: a checkout rewrote files on disk.
  onWorkTreeChanged: () => void;
}

export function GitPanel({ projectId, onOpen, onWorkTreeChanged }: Props) {
  const queryClient = useQueryClient();
  const status = useQuery({ queryKey: gitKey(projectId, "status"), queryFn: () => workspaceApi.gitStatus(projectId) });
  const init = useMutation({
    mutationFn: () => workspaceApi.gitInit(projectId),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: gitKey(projectId) }),
  });

  let body;
  if (status.isPending) body = <Loading what="Reading git status" />;
  else if (status.isError && notARepo(status.error)) {
    body = (
      <div className="space-y-2">
        <Empty>This workspace is not a git repository yet.</Empty>
        <button className="btn" onClick={() => init.mutate()} disabled={init.isPending}>
          Initialize repository
        </button>
        {init.error && <ErrorBox error={init.error} />}
      </div>
    );
  } else if (!status.data) body = <ErrorBox error={status.error} retry={() => status.refetch()} />;
  else {
    const s = status.data;
    const files = s.files ?? [];
    body = (
      <div className="space-y-4">
        {status.isError && <ErrorBox error={status.error} retry={() => status.refetch()} />}
        <div className="flex flex-wrap items-center gap-2 text-sm" data-testid="ws-git-branch">
          <span className="pill bg-indigo-100 text-indigo-800">{s.branch || `detached at ${s.head.slice(0, 8)}`}</span>
          {s.upstream && (
            <span className="text-xs text-slate-500">
              {s.upstream} ↑{s.ahead} ↓{s.behind}
            </span>
          )}
          {!s.head && <span className="text-xs text-slate-500">no commits yet</span>}
        </div>
        <Changes projectId={projectId} files={files} truncated={s.truncated} onOpen={onOpen} />
        <CommitForm projectId={projectId} stagedCount={files.filter(staged).length} />
        <Branches projectId={projectId} onWorkTreeChanged={onWorkTreeChanged} />
        <Log projectId={projectId} />
      </div>
    );
  }
  return (
    <section className="card space-y-3 p-3" aria-label="Git">
      <div className="flex items-center justify-between">
        <h2 className="text-sm font-semibold">Git</h2>
        <button className="text-xs text-slate-500 hover:text-slate-800" onClick={() => queryClient.invalidateQueries({ queryKey: gitKey(projectId) })}>
          ↻ Refresh
        </button>
      </div>
      {body}
    </section>
  );
}

function Changes({ projectId, files, truncated, onOpen }: { projectId: string; files: GitFile[]; truncated: boolean; onOpen: (p: string) => void }) {
  const queryClient = useQueryClient();
  const [picked, setPicked] = useState<{ path: string; staged: boolean } | null>(null);
  // Staging changes what git reports of the files, not the branches or the history.
  const refresh = () => {
    queryClient.invalidateQueries({ queryKey: gitKey(projectId, "status") });
    queryClient.invalidateQueries({ queryKey: gitKey(projectId, "diff") });
  };
  const stage = useMutation({ mutationFn: (paths: string[]) => workspaceApi.gitStage(projectId, paths), onSuccess: refresh });
  const unstage = useMutation({ mutationFn: (paths: string[]) => workspaceApi.gitUnstage(projectId, paths), onSuccess: refresh });
  const busy = stage.isPending || unstage.isPending;
  const toStage = files.filter(unstaged).map((f) => f.path);
  const toUnstage = files.filter(staged).map((f) => f.path);
  // The picked file may have left the list (committed, reverted): then nothing is shown.
  const current = picked && files.find((f) => f.path === picked.path);

  return (
    <div className="space-y-2">
      <div className="flex flex-wrap items-center justify-between gap-2">
        <h3 className="label mb-0">Changes ({files.length})</h3>
        <div className="flex gap-1">
          <button className="btn-secondary px-2 py-0.5 text-xs" disabled={busy || toStage.length === 0} onClick={() => stage.mutate(toStage)}>
            Stage all
          </button>
          <button className="btn-secondary px-2 py-0.5 text-xs" disabled={busy || toUnstage.length === 0} onClick={() => unstage.mutate(toUnstage)}>
            Unstage all
          </button>
        </div>
      </div>
      {stage.error && <ErrorBox error={stage.error} />}
      {unstage.error && <ErrorBox error={unstage.error} />}
      {files.length === 0 ? (
        <p className="text-xs text-slate-500">No changes: the working tree matches the last commit.</p>
      ) : (
        <ul className="max-h-60 divide-y divide-slate-100 overflow-auto rounded border border-slate-200 text-xs">
          {files.map((f) => (
            <li
              key={f.path}
              data-testid="ws-git-file"
              data-path={f.path}
              data-staged={staged(f) ? "true" : undefined}
              className={`flex items-center gap-2 px-2 py-1 ${picked?.path === f.path ? "bg-indigo-50" : ""}`}
            >
              <span className="w-8 shrink-0 font-mono" title="index / work tree">
                {f.untracked ? "??" : `${f.index || "·"}${f.work_tree || "·"}`}
              </span>
              <button
                className="min-w-0 flex-1 truncate text-left hover:underline"
                title={f.orig_path ? `${f.orig_path} → ${f.path}` : f.path}
                onClick={() => setPicked({ path: f.path, staged: !unstaged(f) })}
              >
                {f.path}
                {f.conflicted && <span className="ml-1 text-rose-700">conflict</span>}
              </button>
              {unstaged(f) && (
                <button className="text-indigo-700 hover:underline disabled:opacity-50" disabled={busy} onClick={() => stage.mutate([f.path])}>
                  Stage
                </button>
              )}
              {staged(f) && (
                <button className="text-slate-600 hover:underline disabled:opacity-50" disabled={busy} onClick={() => unstage.mutate([f.path])}>
                  Unstage
                </button>
              )}
            </li>
          ))}
        </ul>
      )}
      {truncated && <p className="text-xs text-amber-700">More changes than git reported here.</p>}
      {current && picked && (
        <FileDiff
          projectId={projectId}
          file={current}
          staged={picked.staged}
          setStaged={(s) => setPicked({ ...picked, staged: s })}
          onOpen={onOpen}
          onClose={() => setPicked(null)}
        />
      )}
    </div>
  );
}

function FileDiff(props: { projectId: string; file: GitFile; staged: boolean; setStaged: (s: boolean) => void; onOpen: (p: string) => void; onClose: () => void }) {
  const { projectId, file, staged: showStaged } = props;
  const diff = useQuery({
    queryKey: gitKey(projectId, "diff", file.path, showStaged),
    queryFn: () => workspaceApi.gitDiff(projectId, file.path, showStaged),
    enabled: !file.untracked,
  });
  return (
    <div className="space-y-2 rounded border border-slate-200 p-2">
      <div className="flex flex-wrap items-center gap-2 text-xs">
        <span className="min-w-0 flex-1 truncate font-medium">{file.path}</span>
        {!file.untracked && (
          <span className="inline-flex overflow-hidden rounded border border-slate-300">
            <button className={`px-2 py-0.5 ${!showStaged ? "bg-slate-200" : ""}`} onClick={() => props.setStaged(false)}>
              Working tree
            </button>
            <button className={`px-2 py-0.5 ${showStaged ? "bg-slate-200" : ""}`} onClick={() => props.setStaged(true)}>
              Staged
            </button>
          </span>
        )}
        <button className="text-indigo-700 hover:underline" onClick={() => props.onOpen(file.path)}>
          Open
        </button>
        <button className="text-slate-500 hover:underline" onClick={props.onClose} aria-label="Close diff">
          ✕
        </button>
      </div>
      {file.untracked ? (
        <p className="text-xs text-slate-500">A new file git does not track yet: stage it to see it as an addition.</p>
      ) : diff.isPending ? (
        <Loading what="Loading diff" />
      ) : !diff.data ? (
        <ErrorBox error={diff.error} retry={() => diff.refetch()} />
      ) : (
        <DiffView diff={diff.data.diff} truncated={diff.data.truncated} />
      )}
    </div>
  );
}

function CommitForm({ projectId, stagedCount }: { projectId: string; stagedCount: number }) {
  const queryClient = useQueryClient();
  const [message, setMessage] = useState("");
  const commit = useMutation({
    mutationFn: () => workspaceApi.gitCommit(projectId, message),
    onSuccess: () => {
      setMessage("");
      queryClient.invalidateQueries({ queryKey: gitKey(projectId) });
    },
  });
  const err = commit.error instanceof ApiError ? commit.error : null;
  return (
    <form
      className="space-y-2"
      onSubmit={(e) => {
        e.preventDefault();
        commit.mutate();
      }}
    >
      <Field label="Commit message" name="message" error={err}>
        <textarea
          name="commit_message"
          className={`input min-h-16 ${err?.fieldMessage("message") ? "input-error" : ""}`}
          value={message}
          onChange={(e) => setMessage(e.target.value)}
          placeholder="What changed, and why"
          rows={3}
        />
      </Field>
      {commit.error && !err?.fieldMessage("message") && <ErrorBox error={commit.error} />}
      {commit.isSuccess && <p className="text-xs text-emerald-700">Committed {commit.data.hash.slice(0, 8)}.</p>}
      <div className="flex items-center gap-2">
        <button className="btn" type="submit" data-testid="ws-commit" disabled={commit.isPending || stagedCount === 0}>
          Commit
        </button>
        <span className="text-xs text-slate-500">{stagedCount === 0 ? "Stage changes to commit them." : `${stagedCount} staged`}</span>
      </div>
    </form>
  );
}

function Branches({ projectId, onWorkTreeChanged }: { projectId: string; onWorkTreeChanged: () => void }) {
  const queryClient = useQueryClient();
  const branches = useQuery({ queryKey: gitKey(projectId, "branches"), queryFn: () => workspaceApi.gitBranches(projectId) });
  const [name, setName] = useState("");
  const checkout = useMutation({
    mutationFn: (v: { branch: string; create: boolean }) => workspaceApi.gitCheckout(projectId, v.branch, v.create),
    onSuccess: (_, v) => {
      if (v.create) setName("");
      queryClient.invalidateQueries({ queryKey: gitKey(projectId) });
      onWorkTreeChanged();
    },
  });
  const err = checkout.error instanceof ApiError ? checkout.error : null;
  return (
    <div className="space-y-2">
      <h3 className="label mb-0">Branches</h3>
      {branches.isPending ? (
        <Loading what="Loading branches" />
      ) : !branches.data ? (
        <ErrorBox error={branches.error} retry={() => branches.refetch()} />
      ) : branches.data.items.length === 0 ? (
        <p className="text-xs text-slate-500">No branches yet: the first commit makes one.</p>
      ) : (
        <ul className="space-y-0.5 text-xs">
          {branches.data.items.map((b) => (
            <li key={b.name} className="flex items-center gap-2" data-branch={b.name}>
              <span className={`min-w-0 flex-1 truncate ${b.current ? "font-semibold" : ""}`}>
                {b.current ? "● " : ""}
                {b.name}
              </span>
              <span className="font-mono text-slate-400">{b.hash.slice(0, 7)}</span>
              {!b.current && (
                <button className="text-indigo-700 hover:underline disabled:opacity-50" disabled={checkout.isPending} onClick={() => checkout.mutate({ branch: b.name, create: false })}>
                  Checkout
                </button>
              )}
            </li>
          ))}
        </ul>
      )}
      <form
        className="flex flex-wrap items-end gap-2"
        onSubmit={(e) => {
          e.preventDefault();
          checkout.mutate({ branch: name.trim(), create: true });
        }}
      >
        <div className="min-w-0 flex-1">
          <Field label="New branch" name="branch" error={err}>
            <input className={`input ${err?.fieldMessage("branch") ? "input-error" : ""}`} value={name} onChange={(e) => setName(e.target.value)} placeholder="feature/name" />
          </Field>
        </div>
        <button className="btn-secondary" type="submit" disabled={checkout.isPending || !name.trim()}>
          Create
        </button>
      </form>
      {checkout.error && !err?.fieldMessage("branch") && <ErrorBox error={checkout.error} />}
    </div>
  );
}

function Log({ projectId }: { projectId: string }) {
  const log = useQuery({ queryKey: gitKey(projectId, "log"), queryFn: () => workspaceApi.gitLog(projectId, 20) });
  return (
    <div className="space-y-2">
      <h3 className="label mb-0">Recent commits</h3>
      {log.isPending ? (
        <Loading what="Loading log" />
      ) : !log.data ? (
        <ErrorBox error={log.error} retry={() => log.refetch()} />
      ) : log.data.items.length === 0 ? (
        <p className="text-xs text-slate-500">No commits yet.</p>
      ) : (
        <ul className="max-h-60 space-y-1 overflow-auto text-xs" data-testid="ws-git-log">
          {log.data.items.map((c) => (
            <li key={c.hash} title={c.body || c.subject}>
              <span className="font-mono text-slate-400">{c.hash.slice(0, 7)}</span> <span className="font-medium">{c.subject}</span>
              <div className="text-slate-500">
                {c.author_name} · {when(c.author_time)}
              </div>
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}
