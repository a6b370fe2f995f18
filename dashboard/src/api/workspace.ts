import { useSession } from "../auth/session";
import { ApiError, api, refreshSession, type Page } from "./client";

// The workspace API (httpapi/workspace.go): a project's files and its git repository. The JSON
// of entries, matches and git state is package workspace's (workspace/files.go, search.go,
// git.go); every change made here comes back as a workspace.<kind> event on /ws/workspace/<id>.

export interface Project {
  id: string;
  name: string;
  display_name: string;
  description: string;
  owner: string;
  status: string; // active | archived
  default_branch: string;
  version: number;
}

export interface Entry {
  path: string; // relative to the workspace, slash-separated
  name: string;
  dir: boolean;
  size: number;
  mod_time: string;
  mode: string;
  symlink: boolean;
  binary: boolean; // set by reads and writes, never by tree listings
}

export interface Tree {
  items: Entry[];
  truncated: boolean;
}

export interface FileRead {
  entry: Entry;
  offset: number;
  length: number;
  eof: boolean;
  encoding: "utf-8" | "base64";
  content: string;
  sha256?: string; // only when the whole file was read
}

export interface Written {
  entry: Entry;
  sha256: string;
}

export interface Match {
  path: string;
  line: number; // 1-based
  text: string;
}

export interface GitFile {
  path: string;
  orig_path?: string;
  index: string; // git's status letter for the index side, "" when unchanged
  work_tree: string;
  untracked: boolean;
  conflicted: boolean;
}

export interface GitStatus {
  branch: string; // "" when HEAD is detached
  head: string; // "" before the first commit
  upstream?: string;
  ahead: number;
  behind: number;
  files: GitFile[] | null;
  truncated: boolean;
}

export interface Commit {
  hash: string;
  parents: string[] | null;
  author_name: string;
  author_email: string;
  author_time: string;
  commit_time: string;
  subject: string;
  body: string;
}

export interface Branch {
  name: string;
  hash: string;
  current: boolean;
  upstream?: string;
}

// WorkspaceChange is the data of a workspace.<kind> event (domain/workspace.go).
export interface WorkspaceChange {
  kind: string;
  path?: string;
  to?: string;
  size?: number;
  sha256?: string;
  created?: boolean;
  recursive?: boolean;
  paths?: string[];
  commit?: string;
  message?: string;
  branch?: string;
  by?: string;
  session?: string;
  event?: string;
  exit_code?: number;
}

const q = (params: Record<string, string | number | boolean | undefined>) => {
  const s = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== "") s.set(k, String(v));
  const out = s.toString();
  return out ? `?${out}` : "";
};

const base = (id: string) => `/workspace/${encodeURIComponent(id)}`;

// rawFetch is the API client's request for what it cannot send or read: a raw body (a file's
// content is not JSON) and a binary answer (downloads). Same token, same single refresh on 401.
async function rawFetch(path: string, init: { method?: string; body?: BodyInit; headers?: Record<string, string> }, retried = false): Promise<Response> {
  const headers: Record<string, string> = { ...(init.headers ?? {}) };
  const token = useSession.getState().access;
  if (token) headers.Authorization = `Bearer ${token}`;
  const res = await fetch(path, { method: init.method ?? "GET", headers, body: init.body });
  if (res.status === 401 && !retried && (await refreshSession())) return rawFetch(path, init, true);
  if (res.status === 401) useSession.getState().clear();
  if (!res.ok) {
    const text = await res.text();
    let body = null;
    try {
      body = text ? JSON.parse(text) : null;
    } catch {
      // not the API's error JSON (a proxy's page): the status says enough
    }
    throw new ApiError(res.status, body);
  }
  return res;
}

// ifMatch is the header a conditional write sends: the sha256 of the content last read.
export function ifMatch(sha256: string | null | undefined): Record<string, string> {
  return sha256 ? { "If-Match": `"${sha256}"` } : {};
}

export const workspaceApi = {
  projects: () => api<Page<Project>>("/projects?limit=500"),
  project: (id: string) => api<Project>(`/projects/${encodeURIComponent(id)}`),

  tree: (id: string, path = ".", depth = 1) => api<Tree>(`${base(id)}/tree${q({ path, depth })}`),
  read: (id: string, path: string, offset?: number, length?: number) => api<FileRead>(`${base(id)}/file${q({ path, offset, length })}`),
  // write stores content; with sha256 it refuses (409) when the file changed since it was read.
  write: async (id: string, path: string, content: string, sha256?: string | null): Promise<Written> => {
    const res = await rawFetch(`${base(id)}/file${q({ path })}`, {
      method: "PUT",
      body: content,
      headers: { "Content-Type": "application/octet-stream", ...ifMatch(sha256) },
    });
    return (await res.json()) as Written;
  },
  remove: (id: string, path: string, recursive: boolean) =>
    api<null>(`${base(id)}/file${q({ path, recursive: recursive ? "true" : undefined })}`, { method: "DELETE" }),
  mkdir: (id: string, path: string) => api<Entry>(`${base(id)}/dir`, { method: "POST", body: { path } }),
  move: (id: string, from: string, to: string) => api<Entry>(`${base(id)}/move`, { method: "POST", body: { from, to } }),
  search: (id: string, query: string, glob?: string) => api<{ items: Match[]; truncated: boolean }>(`${base(id)}/search${q({ q: query, glob })}`),
  // download fetches a file as it is (with the token a plain link could not carry).
  download: async (id: string, path: string): Promise<Blob> => (await rawFetch(`${base(id)}/raw${q({ path })}`, {})).blob(),

  gitStatus: (id: string) => api<GitStatus>(`${base(id)}/git/status`),
  gitDiff: (id: string, path: string | undefined, staged: boolean) =>
    api<{ diff: string; truncated: boolean }>(`${base(id)}/git/diff${q({ path, staged: staged ? "true" : undefined })}`),
  gitLog: (id: string, limit = 20) => api<{ items: Commit[] }>(`${base(id)}/git/log${q({ limit })}`),
  gitBranches: (id: string) => api<{ items: Branch[] }>(`${base(id)}/git/branches`),
  gitInit: (id: string) => api<{ ok: boolean }>(`${base(id)}/git/init`, { method: "POST" }),
  gitStage: (id: string, paths: string[]) => api<{ ok: boolean }>(`${base(id)}/git/stage`, { method: "POST", body: { paths } }),
  gitUnstage: (id: string, paths: string[]) => api<{ ok: boolean }>(`${base(id)}/git/unstage`, { method: "POST", body: { paths } }),
  gitCommit: (id: string, message: string) => api<Commit>(`${base(id)}/git/commit`, { method: "POST", body: { message } }),
  gitCheckout: (id: string, branch: string, create: boolean) =>
    api<{ ok: boolean }>(`${base(id)}/git/checkout`, { method: "POST", body: { branch, create } }),
};

// isConflict tells a stale write (the file changed or vanished since it was read).
export const isConflict = (e: unknown) => e instanceof ApiError && e.status === 409;

// notARepo tells git's answer for a workspace that has no repository yet.
export const notARepo = (e: unknown) => e instanceof ApiError && e.status === 409 && /not a git repository/i.test(e.message);

// decodeBase64 turns a base64 read (binary content) into its bytes.
export function decodeBase64(s: string): Uint8Array {
  const bin = atob(s);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

// isBinary tells a read that cannot be edited as text.
export const isBinaryRead = (f: FileRead) => f.encoding === "base64" || f.entry.binary;

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} bytes`;
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
}

// parent is the directory holding path ("." for the root's children).
export function parent(path: string): string {
  const i = path.lastIndexOf("/");
  return i < 0 ? "." : path.slice(0, i);
}

export function join(dir: string, name: string): string {
  const d = dir === "." || dir === "" ? "" : dir.replace(/\/+$/, "") + "/";
  return d + name.replace(/^\/+/, "");
}

// within tells whether path is dir itself or lies below it.
export const within = (path: string, dir: string) => path === dir || path.startsWith(dir + "/");

// saveBlob hands a blob to the browser as a download.
export function saveBlob(blob: Blob, name: string) {
  const url = URL.createObjectURL(blob);
  const a = document.createElement("a");
  a.href = url;
  a.download = name;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

// A unified diff as git prints it, split into files, hunks and numbered lines.
export interface DiffLine {
  kind: "add" | "del" | "ctx" | "meta";
  text: string;
  oldLine?: number;
  newLine?: number;
}

export interface DiffHunk {
  header: string;
  lines: DiffLine[];
}

export interface DiffFile {
  oldPath: string;
  newPath: string;
  headers: string[]; // "new file mode", "rename from", "Binary files … differ", …
  hunks: DiffHunk[];
}

export function parseUnifiedDiff(text: string): DiffFile[] {
  const files: DiffFile[] = [];
  let file: DiffFile | null = null;
  let hunk: DiffHunk | null = null;
  let oldNo = 0;
  let newNo = 0;
  const lines = text.split("\n");
  if (lines.length && lines[lines.length - 1] === "") lines.pop();
  for (const line of lines) {
    if (line.startsWith("diff --git ")) {
      const m = /^diff --git a\/(.*) b\/(.*)$/.exec(line);
      file = { oldPath: m?.[1] ?? "", newPath: m?.[2] ?? "", headers: [], hunks: [] };
      files.push(file);
      hunk = null;
      continue;
    }
    if (!file) continue;
    const h = /^@@ -(\d+)(?:,\d+)? \+(\d+)(?:,\d+)? @@/.exec(line);
    if (h) {
      oldNo = Number(h[1]);
      newNo = Number(h[2]);
      hunk = { header: line, lines: [] };
      file.hunks.push(hunk);
      continue;
    }
    if (!hunk) {
      // Headers between "diff --git" and the first hunk.
      if (line.startsWith("--- ")) {
        if (line !== "--- /dev/null") file.oldPath = line.slice(6);
      } else if (line.startsWith("+++ ")) {
        if (line !== "+++ /dev/null") file.newPath = line.slice(6);
      } else if (!line.startsWith("index ")) file.headers.push(line);
      continue;
    }
    if (line.startsWith("+")) hunk.lines.push({ kind: "add", text: line.slice(1), newLine: newNo++ });
    else if (line.startsWith("-")) hunk.lines.push({ kind: "del", text: line.slice(1), oldLine: oldNo++ });
    else if (line.startsWith("\\")) hunk.lines.push({ kind: "meta", text: line });
    else hunk.lines.push({ kind: "ctx", text: line.slice(1), oldLine: oldNo++, newLine: newNo++ });
  }
  return files;
}

// languageOf picks the editor's language from a file name.
const byExtension: Record<string, string> = {
  ts: "typescript", tsx: "typescript", mts: "typescript", cts: "typescript",
  js: "javascript", jsx: "javascript", mjs: "javascript", cjs: "javascript",
  json: "json", jsonc: "json", md: "markdown", markdown: "markdown", mdx: "mdx",
  go: "go", py: "python", rb: "ruby", rs: "rust", java: "java", kt: "kotlin", kts: "kotlin", scala: "scala",
  swift: "swift", c: "cpp", h: "cpp", cc: "cpp", cpp: "cpp", cxx: "cpp", hpp: "cpp", cs: "csharp", fs: "fsharp",
  php: "php", lua: "lua", r: "r", pl: "perl", sh: "shell", bash: "shell", zsh: "shell", ps1: "powershell",
  bat: "bat", cmd: "bat", sql: "sql", graphql: "graphql", gql: "graphql", proto: "protobuf",
  html: "html", htm: "html", css: "css", scss: "scss", less: "less", xml: "xml", svg: "xml",
  yaml: "yaml", yml: "yaml", toml: "ini", ini: "ini", cfg: "ini", conf: "ini", env: "ini",
  tf: "hcl", hcl: "hcl", dart: "dart", ex: "elixir", exs: "elixir", clj: "clojure", jl: "julia", sol: "solidity",
  vue: "html", svelte: "html",
};

const byName: Record<string, string> = {
  dockerfile: "dockerfile", makefile: "shell", ".bashrc": "shell", ".zshrc": "shell",
  ".gitignore": "ini", ".editorconfig": "ini",
};

export function languageOf(path: string): string {
  const name = path.slice(path.lastIndexOf("/") + 1).toLowerCase();
  if (byName[name]) return byName[name];
  if (name.startsWith("dockerfile")) return "dockerfile";
  const dot = name.lastIndexOf(".");
  if (dot < 0) return "plaintext";
  return byExtension[name.slice(dot + 1)] ?? "plaintext";
}

const imageTypes: Record<string, string> = { png: "image/png", jpg: "image/jpeg", jpeg: "image/jpeg", gif: "image/gif", webp: "image/webp", ico: "image/x-icon", bmp: "image/bmp" };

// imageType is the MIME type of a file the page can preview as an image, if it is one.
export function imageType(path: string): string | undefined {
  const dot = path.lastIndexOf(".");
  return dot < 0 ? undefined : imageTypes[path.slice(dot + 1).toLowerCase()];
}
