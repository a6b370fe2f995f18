import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { act, fireEvent, render, screen, waitFor, within } from "@testing-library/react";
import { MemoryRouter, Route, Routes } from "react-router-dom";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { decodeBase64, ifMatch, join, languageOf, parent, parseUnifiedDiff, within as isWithin, workspaceApi } from "../api/workspace";
import { useSession } from "../auth/session";
import Workspace from "./Workspace";

// jsdom runs neither Monaco nor xterm: Monaco is replaced by a textarea with models, xterm by a
// recorder of what it was asked to write.
vi.mock("./workspace/monaco", () => {
  type Listener = () => void;
  class Model {
    value: string;
    listeners: Listener[] = [];
    disposed = false;
    constructor(v: string) {
      this.value = v;
    }
    getValue() {
      return this.value;
    }
    setValue(v: string) {
      this.value = v;
      this.listeners.forEach((l) => l());
    }
    onDidChangeContent(l: Listener) {
      this.listeners.push(l);
      return { dispose() {} };
    }
    isDisposed() {
      return this.disposed;
    }
    dispose() {
      this.disposed = true;
    }
  }
  const create = (el: HTMLElement) => {
    const ta = document.createElement("textarea");
    ta.setAttribute("aria-label", "code");
    el.appendChild(ta);
    let model: Model | null = null;
    ta.addEventListener("input", () => model?.setValue(ta.value));
    return {
      setModel(m: Model | null) {
        model = m;
        ta.value = m ? m.getValue() : "";
        m?.onDidChangeContent(() => {
          if (model === m) ta.value = m.getValue();
        });
      },
      saveViewState: () => null,
      restoreViewState() {},
      updateOptions(o: { readOnly?: boolean }) {
        ta.readOnly = !!o.readOnly;
      },
      revealLineInCenter(line: number) {
        ta.dataset.line = String(line);
      },
      setPosition() {},
      focus() {},
      dispose() {
        ta.remove();
      },
    };
  };
  return { monaco: { editor: { create, createModel: (v: string) => new Model(v), setModelLanguage() {} } } };
});

const xterm = vi.hoisted(() => ({ writes: [] as string[], onData: null as null | ((d: string) => void) }));
vi.mock("@xterm/xterm", () => ({
  Terminal: class {
    cols = 100;
    rows = 30;
    loadAddon() {}
    open() {}
    write(d: string) {
      xterm.writes.push(d);
    }
    onData(h: (d: string) => void) {
      xterm.onData = h;
      return { dispose() {} };
    }
    onResize() {
      return { dispose() {} };
    }
    focus() {}
    dispose() {}
  },
}));
vi.mock("@xterm/addon-fit", () => ({ FitAddon: class { fit() {} activate() {} dispose() {} } }));

class FakeSocket {
  static OPEN = 1;
  static all: FakeSocket[] = [];
  readyState = 0;
  sent: string[] = [];
  onopen: ((e: unknown) => void) | null = null;
  onmessage: ((e: { data: string }) => void) | null = null;
  onclose: ((e: { code: number }) => void) | null = null;
  constructor(
    public url: string,
    public protocols?: string[],
  ) {
    FakeSocket.all.push(this);
  }
  send(d: string) {
    this.sent.push(d);
  }
  close() {
    this.readyState = 3;
  }
  accept() {
    this.readyState = 1;
    this.onopen?.({});
  }
  receive(m: unknown) {
    this.onmessage?.({ data: JSON.stringify(m) });
  }
}
const socket = (part: string) => FakeSocket.all.filter((s) => s.url.includes(part)).at(-1)!;

interface Call {
  method: string;
  url: string;
  body: unknown;
  headers: Record<string, string>;
}
type Reply = { status?: number; body?: unknown };
type Handler = Reply | ((c: Call) => Reply);

// stub answers "METHOD /path" or "METHOD /path?query" (the full URL first); anything else is a 404.
function stub(routes: Record<string, Handler>) {
  const calls: Call[] = [];
  globalThis.fetch = vi.fn(async (input: RequestInfo | URL, init?: RequestInit) => {
    const url = decodeURIComponent(String(input));
    const method = init?.method ?? "GET";
    const raw = init?.body;
    let body: unknown = raw;
    if (typeof raw === "string" && (init?.headers as Record<string, string>)?.["Content-Type"] === "application/json") body = JSON.parse(raw);
    const call = { method, url, body, headers: (init?.headers ?? {}) as Record<string, string> };
    calls.push(call);
    const h = routes[`${method} ${url}`] ?? routes[`${method} ${url.split("?")[0]}`];
    const r: Reply = h === undefined ? { status: 404, body: { error: { code: "not_found", message: `no stub for ${method} ${url}` } } } : typeof h === "function" ? h(call) : h;
    return new Response(r.body === undefined ? null : JSON.stringify(r.body), { status: r.status ?? 200, headers: { "Content-Type": "application/json" } });
  }) as unknown as typeof fetch;
  return calls;
}

function renderAt(path: string) {
  const client = new QueryClient({ defaultOptions: { queries: { retry: false }, mutations: { retry: false } } });
  return render(
    <QueryClientProvider client={client}>
      <MemoryRouter initialEntries={[path]}>
        <Routes>
          <Route path="/projects/:id/workspace" element={<Workspace />} />
        </Routes>
      </MemoryRouter>
    </QueryClientProvider>,
  );
}

const entry = (path: string, dir = false, size = 0) => ({ path, name: path.split("/").pop(), dir, size, mod_time: "2027-01-01T00:00:00Z", mode: dir ? "drwxr-xr-x" : "-rw-r--r--", symlink: false, binary: false });
const project = { id: "p1", name: "site", display_name: "Site", description: "", owner: "u1", status: "active", default_branch: "main", version: 1 };
const mainGo = "package main\n\nfunc main() {}\n";
const fileRead = (content: string, sha256: string) => ({ entry: entry("src/main.go", false, content.length), offset: 0, length: content.length, eof: true, encoding: "utf-8", content, sha256 });
const notRepo = { status: 409, body: { error: { code: "conflict", message: "the workspace is not a git repository" } } };

const base: Record<string, Handler> = {
  "GET /projects/p1": { body: project },
  "GET /projects": { body: { items: [project] } },
  "GET /workspace/p1/tree?path=.&depth=1": { body: { items: [entry("src", true), entry("README.md", false, 7)], truncated: false } },
  "GET /workspace/p1/tree?path=src&depth=1": { body: { items: [entry("src/main.go", false, mainGo.length)], truncated: false } },
  "GET /workspace/p1/file?path=src/main.go": { body: fileRead(mainGo, "aaa") },
  "GET /workspace/p1/git/status": notRepo,
};

async function openMainGo() {
  fireEvent.click(await screen.findByText("src"));
  fireEvent.click(await screen.findByText("main.go"));
  await waitFor(() => expect(screen.getByLabelText("code")).toHaveProperty("value", mainGo));
}

const type = (text: string) => fireEvent.input(screen.getByLabelText("code"), { target: { value: text } });

beforeEach(() => {
  FakeSocket.all = [];
  xterm.writes = [];
  globalThis.WebSocket = FakeSocket as unknown as typeof WebSocket;
});

const realFetch = globalThis.fetch;
const realSocket = globalThis.WebSocket;
afterEach(() => {
  globalThis.fetch = realFetch;
  globalThis.WebSocket = realSocket;
  useSession.setState({ access: null, refresh: null, user: null });
});

describe("workspace api helpers", () => {
  it("writes the raw content with the sha256 last read as If-Match", async () => {
    const calls = stub({ "PUT /workspace/p1/file?path=notes/a.txt": { body: { entry: entry("notes/a.txt"), sha256: "new" } } });
    const res = await workspaceApi.write("p1", "notes/a.txt", "hello\n", "old");
    expect(res.sha256).toBe("new");
    expect(calls[0].body).toBe("hello\n");
    expect(calls[0].headers["If-Match"]).toBe('"old"');
    await workspaceApi.write("p1", "notes/a.txt", "x", null);
    expect(calls[1].headers).not.toHaveProperty("If-Match");
    expect(ifMatch("abc")).toEqual({ "If-Match": '"abc"' });
    expect(ifMatch(undefined)).toEqual({});
  });

  it("reports a stale write as an ApiError with its status", async () => {
    stub({ "PUT /workspace/p1/file?path=x": { status: 409, body: { error: { code: "version_conflict", message: "x has changed since it was read" } } } });
    await expect(workspaceApi.write("p1", "x", "y", "old")).rejects.toMatchObject({ status: 409, code: "version_conflict" });
  });

  it("decodes base64 content to its bytes", () => {
    expect(Array.from(decodeBase64("AAEC/w=="))).toEqual([0, 1, 2, 255]);
    expect(new TextDecoder().decode(decodeBase64(btoa("héllo".replace("é", "e"))))).toBe("hello");
  });

  it("parses a unified diff into files, hunks and numbered lines", () => {
    const diff = [
      "diff --git a/src/main.go b/src/main.go",
      "index 1111111..2222222 100644",
      "--- a/src/main.go",
      "+++ b/src/main.go",
      "@@ -1,3 +1,4 @@",
      " package main",
      " ",
      "+// Entry point.",
      "-func main() {}",
      "+func main() { run() }",
      "\\ No newline at end of file",
      "diff --git a/docs/new.md b/docs/new.md",
      "new file mode 100644",
      "--- /dev/null",
      "+++ b/docs/new.md",
      "@@ -0,0 +1 @@",
      "+TODO",
      "",
    ].join("\n");
    const files = parseUnifiedDiff(diff);
    expect(files.map((f) => f.newPath)).toEqual(["src/main.go", "docs/new.md"]);
    const lines = files[0].hunks[0].lines;
    expect(lines.map((l) => l.kind)).toEqual(["ctx", "ctx", "add", "del", "add", "meta"]);
    expect(lines[2]).toMatchObject({ newLine: 3, text: "// Entry point." });
    expect(lines[3]).toMatchObject({ oldLine: 3, text: "func main() {}" });
    expect(lines[4]).toMatchObject({ newLine: 4 });
    expect(files[1].headers).toEqual(["new file mode 100644"]);
    expect(files[1].hunks[0].lines[0]).toMatchObject({ kind: "add", newLine: 1 });
    expect(parseUnifiedDiff("")).toEqual([]);
  });

  it("picks the editor language and handles paths", () => {
    expect(languageOf("src/main.go")).toBe("go");
    expect(languageOf("web/App.TSX")).toBe("typescript");
    expect(languageOf("Dockerfile")).toBe("dockerfile");
    expect(languageOf("notes")).toBe("plaintext");
    expect(parent("a/b/c.txt")).toBe("a/b");
    expect(parent("c.txt")).toBe(".");
    expect(join(".", "x")).toBe("x");
    expect(join("a/", "x")).toBe("a/x");
    expect(isWithin("a/b", "a")).toBe(true);
    expect(isWithin("ab", "a")).toBe(false);
  });
});

describe("Workspace page", () => {
  it("opens a file from the tree, edits it and saves it with If-Match", async () => {
    const calls = stub({ ...base, "PUT /workspace/p1/file?path=src/main.go": { body: { entry: entry("src/main.go"), sha256: "bbb" } } });
    renderAt("/projects/p1/workspace");
    expect(await screen.findByText("Workspace · Site")).toBeTruthy();
    await openMainGo();
    const save = screen.getByTestId("ws-save");
    expect(save).toHaveProperty("disabled", true);

    type("package main\n\n// Entry point.\nfunc main() {}\n");
    expect(screen.getByRole("tab", { selected: true }).getAttribute("data-dirty")).toBe("true");
    fireEvent.click(save);
    await waitFor(() => expect(calls.some((c) => c.method === "PUT")).toBe(true));
    const put = calls.find((c) => c.method === "PUT")!;
    expect(put.headers["If-Match"]).toBe('"aaa"');
    expect(put.body).toBe("package main\n\n// Entry point.\nfunc main() {}\n");
    await waitFor(() => expect(screen.getByRole("tab", { selected: true }).getAttribute("data-dirty")).toBeNull());

    // The next save sends the sha256 the server answered, from the keyboard this time.
    type("changed again");
    fireEvent.keyDown(window, { key: "s", ctrlKey: true });
    await waitFor(() => expect(calls.filter((c) => c.method === "PUT")).toHaveLength(2));
    expect(calls.filter((c) => c.method === "PUT")[1].headers["If-Match"]).toBe('"bbb"');
  });

  it("shows a conflict when the file changed meanwhile, and overwrites only when asked", async () => {
    let reads = 0;
    const calls = stub({
      ...base,
      "GET /workspace/p1/file?path=src/main.go": () => ({ body: reads++ === 0 ? fileRead(mainGo, "aaa") : fileRead("theirs\n", "ccc") }),
      "PUT /workspace/p1/file?path=src/main.go": (c) =>
        c.headers["If-Match"] === '"aaa"'
          ? { status: 409, body: { error: { code: "version_conflict", message: "src/main.go has changed since it was read" } } }
          : { body: { entry: entry("src/main.go"), sha256: "ddd" } },
    });
    renderAt("/projects/p1/workspace");
    await openMainGo();
    type("mine\n");
    fireEvent.click(screen.getByTestId("ws-save"));
    const conflict = await screen.findByTestId("ws-conflict");
    expect(conflict.textContent).toContain("has changed since it was read");
    expect(screen.getByRole("tab", { selected: true }).getAttribute("data-dirty")).toBe("true");

    fireEvent.click(within(conflict).getByText("Overwrite"));
    await waitFor(() => expect(screen.queryByTestId("ws-conflict")).toBeNull());
    const puts = calls.filter((c) => c.method === "PUT");
    expect(puts).toHaveLength(2);
    // The overwrite is still conditional: on the version read just before it.
    expect(puts[1].headers["If-Match"]).toBe('"ccc"');
    expect(puts[1].body).toBe("mine\n");
  });

  it("reloads the file from the conflict, dropping the edit", async () => {
    let reads = 0;
    stub({
      ...base,
      "GET /workspace/p1/file?path=src/main.go": () => ({ body: reads++ === 0 ? fileRead(mainGo, "aaa") : fileRead("theirs\n", "ccc") }),
      "PUT /workspace/p1/file?path=src/main.go": { status: 409, body: { error: { code: "version_conflict", message: "src/main.go has changed since it was read" } } },
    });
    renderAt("/projects/p1/workspace");
    await openMainGo();
    type("mine\n");
    fireEvent.click(screen.getByTestId("ws-save"));
    fireEvent.click(within(await screen.findByTestId("ws-conflict")).getByText("Reload"));
    await waitFor(() => expect(screen.getByLabelText("code")).toHaveProperty("value", "theirs\n"));
    expect(screen.queryByTestId("ws-conflict")).toBeNull();
    expect(screen.getByRole("tab", { selected: true }).getAttribute("data-dirty")).toBeNull();
  });

  it("follows changes made by others: reloads a clean file, warns on a dirty one", async () => {
    useSession.setState({ access: "tok", user: { id: "u1", email: "me@example.com", role: "member" } });
    let reads = 0;
    stub({ ...base, "GET /workspace/p1/file?path=src/main.go": () => ({ body: reads++ === 0 ? fileRead(mainGo, "aaa") : fileRead("agent wrote\n", "eee") }) });
    renderAt("/projects/p1/workspace");
    await openMainGo();
    const feed = socket("/ws/workspace/p1");
    expect(feed.protocols).toEqual(["gathering.bearer", "tok"]);
    act(() => feed.receive({ type: "connected", data: {}, timestamp: "" }));
    act(() => feed.receive({ type: "workspace.file_written", position: 7, timestamp: "", data: { kind: "file_written", path: "src/main.go", sha256: "eee", by: "agent:a1" } }));
    await waitFor(() => expect(screen.getByLabelText("code")).toHaveProperty("value", "agent wrote\n"));

    type("my edit");
    act(() => feed.receive({ type: "workspace.file_written", position: 8, timestamp: "", data: { kind: "file_written", path: "src/main.go", sha256: "fff", by: "agent:a1" } }));
    const warning = await screen.findByTestId("ws-external");
    expect(warning.textContent).toContain("agent a1");
    expect(screen.getByLabelText("code")).toHaveProperty("value", "my edit");
  });

  it("follows a file moved and then deleted by someone else", async () => {
    useSession.setState({ access: "tok", user: { id: "u1", email: "me@example.com", role: "member" } });
    stub(base);
    renderAt("/projects/p1/workspace");
    await openMainGo();
    const feed = socket("/ws/workspace/p1");
    act(() => feed.receive({ type: "workspace.moved", position: 3, timestamp: "", data: { kind: "moved", path: "src", to: "lib", by: "agent:a1" } }));
    await waitFor(() => expect(screen.getByRole("tab", { selected: true }).getAttribute("data-path")).toBe("lib/main.go"));
    expect(screen.getByTestId("ws-editor").getAttribute("data-path")).toBe("lib/main.go");
    act(() => feed.receive({ type: "workspace.deleted", position: 4, timestamp: "", data: { kind: "deleted", path: "lib", recursive: true, by: "user:u1" } }));
    expect((await screen.findByTestId("ws-external")).textContent).toContain("deleted by you, in another window");
  });

  it("shows a binary file as its size with a download", async () => {
    stub({
      ...base,
      "GET /workspace/p1/tree?path=.&depth=1": { body: { items: [entry("blob.bin", false, 4)], truncated: false } },
      "GET /workspace/p1/file?path=blob.bin": { body: { entry: { ...entry("blob.bin", false, 4), binary: true }, offset: 0, length: 4, eof: true, encoding: "base64", content: "AAECAw==", sha256: "x" } },
    });
    renderAt("/projects/p1/workspace");
    fireEvent.click(await screen.findByText("blob.bin"));
    const bin = await screen.findByTestId("ws-binary");
    expect(bin.textContent).toContain("binary, 4 bytes");
    expect(within(bin).getByText("Download")).toBeTruthy();
    expect(screen.queryByTestId("ws-save")).toBeNull();
  });

  it("opens a search match at its line", async () => {
    stub({ ...base, "GET /workspace/p1/search?q=main": { body: { items: [{ path: "src/main.go", line: 3, text: "func main() {}" }], truncated: false } } });
    renderAt("/projects/p1/workspace");
    fireEvent.change(await screen.findByLabelText("Search in files"), { target: { value: "main" } });
    fireEvent.click(screen.getByText("Search"));
    fireEvent.click(await screen.findByTestId("ws-search-match"));
    await waitFor(() => expect(screen.getByLabelText("code")).toHaveProperty("value", mainGo));
    await waitFor(() => expect((screen.getByLabelText("code") as HTMLElement).dataset.line).toBe("3"));
  });

  it("creates a folder in the tree, showing the API's field error in place", async () => {
    const calls = stub({ ...base, "POST /workspace/p1/dir": { status: 400, body: { error: { code: "invalid", message: "path: escapes", fields: [{ field: "path", message: "leads out of the workspace" }] } } } });
    renderAt("/projects/p1/workspace");
    await screen.findByText("src");
    fireEvent.click(screen.getByText("New folder"));
    fireEvent.change(screen.getByLabelText("Path"), { target: { value: "../out" } });
    fireEvent.click(screen.getByText("Create"));
    expect((await screen.findByText("leads out of the workspace")).getAttribute("data-field-error")).toBe("path");
    expect(calls.find((c) => c.method === "POST")!.body).toEqual({ path: "../out" });
  });

  it("offers to initialize a workspace that is not a repository", async () => {
    let initialized = false;
    const calls = stub({
      ...base,
      "GET /workspace/p1/git/status": () => (initialized ? { body: { branch: "main", head: "", ahead: 0, behind: 0, files: [], truncated: false } } : notRepo),
      "POST /workspace/p1/git/init": () => ((initialized = true), { body: { ok: true } }),
      "GET /workspace/p1/git/branches": { body: { items: [{ name: "main", hash: "", current: true }] } },
      "GET /workspace/p1/git/log?limit=20": { body: { items: [] } },
    });
    renderAt("/projects/p1/workspace");
    fireEvent.click(await screen.findByText("Initialize repository"));
    expect(await screen.findByText("no commits yet")).toBeTruthy();
    expect(calls.some((c) => c.method === "POST" && c.url === "/workspace/p1/git/init")).toBe(true);
  });

  it("stages a changed file, shows its diff and commits", async () => {
    let stagedNow = false;
    const calls = stub({
      ...base,
      "GET /workspace/p1/git/status": () => ({
        body: { branch: "main", head: "abc123", ahead: 0, behind: 0, truncated: false, files: [{ path: "src/main.go", index: stagedNow ? "M" : "", work_tree: stagedNow ? "" : "M", untracked: false, conflicted: false }] },
      }),
      "GET /workspace/p1/git/diff?path=src/main.go": { body: { diff: "diff --git a/src/main.go b/src/main.go\n--- a/src/main.go\n+++ b/src/main.go\n@@ -1 +1 @@\n-old\n+new\n", truncated: false } },
      "POST /workspace/p1/git/stage": () => ((stagedNow = true), { body: { ok: true } }),
      "POST /workspace/p1/git/commit": { body: { hash: "def4567890", subject: "Ship" } },
      "GET /workspace/p1/git/branches": { body: { items: [{ name: "main", hash: "abc123", current: true }, { name: "feature/x", hash: "abc123", current: false }] } },
      "GET /workspace/p1/git/log?limit=20": { body: { items: [{ hash: "abc1234567", parents: [], author_name: "Builder", author_email: "b@example.com", author_time: "2027-01-01T00:00:00Z", commit_time: "2027-01-01T00:00:00Z", subject: "First version", body: "" }] } },
    });
    renderAt("/projects/p1/workspace");
    const row = await screen.findByTestId("ws-git-file");
    expect(row.getAttribute("data-path")).toBe("src/main.go");
    expect(await screen.findByText("First version")).toBeTruthy();
    fireEvent.click(within(row).getByText("src/main.go"));
    const diff = await screen.findByTestId("ws-diff");
    expect(diff.querySelector('[data-kind="add"]')!.textContent).toContain("+new");
    expect(screen.getByTestId("ws-commit")).toHaveProperty("disabled", true);

    fireEvent.click(within(row).getByText("Stage"));
    await waitFor(() => expect(screen.getByTestId("ws-git-file").getAttribute("data-staged")).toBe("true"));
    expect(calls.find((c) => c.url === "/workspace/p1/git/stage")!.body).toEqual({ paths: ["src/main.go"] });
    fireEvent.change(screen.getByPlaceholderText("What changed, and why"), { target: { value: "Ship" } });
    fireEvent.click(screen.getByTestId("ws-commit"));
    expect(await screen.findByText("Committed def45678.")).toBeTruthy();
    expect(calls.find((c) => c.url === "/workspace/p1/git/commit")!.body).toEqual({ message: "Ship" });
  });

  it("opens a terminal on demand and shows its output and exit", async () => {
    useSession.setState({ access: "tok", user: { id: "u1", email: "me@example.com", role: "member" } });
    stub(base);
    renderAt("/projects/p1/workspace");
    const panel = await screen.findByTestId("ws-terminal");
    expect(FakeSocket.all.some((s) => s.url.includes("/ws/terminal/"))).toBe(false);
    fireEvent.click(within(panel).getByText("Open terminal"));
    await waitFor(() => expect(FakeSocket.all.some((s) => s.url.includes("/ws/terminal/p1"))).toBe(true));
    const term = socket("/ws/terminal/p1");
    expect(term.protocols).toEqual(["gathering.bearer", "tok"]);
    act(() => term.accept());
    expect(JSON.parse(term.sent[0])).toEqual({ type: "resize", cols: 100, rows: 30 });
    act(() => xterm.onData!("ls\r"));
    expect(JSON.parse(term.sent[1])).toEqual({ type: "input", data: "ls\r" });
    act(() => term.receive({ type: "output", data: "main.go\r\n" }));
    expect(xterm.writes).toContain("main.go\r\n");
    act(() => term.receive({ type: "exit", code: 3 }));
    expect((await screen.findByTestId("ws-terminal-exit")).textContent).toContain("code 3");
    expect(within(panel).getByText("Open a new terminal")).toBeTruthy();
  });

  it("shows the terminal's errors", async () => {
    useSession.setState({ access: "tok", user: { id: "u1", email: "me@example.com", role: "member" } });
    stub(base);
    renderAt("/projects/p1/workspace");
    fireEvent.click(within(await screen.findByTestId("ws-terminal")).getByText("Open terminal"));
    await waitFor(() => expect(FakeSocket.all.some((s) => s.url.includes("/ws/terminal/p1"))).toBe(true));
    act(() => socket("/ws/terminal/p1").receive({ type: "error", message: "terminals are disabled" }));
    expect((await within(screen.getByTestId("ws-terminal")).findByRole("alert")).textContent).toContain("terminals are disabled");
  });

  it("offers the user's projects when the route's project is not theirs", async () => {
    stub({ ...base, "GET /projects/nope": { status: 404, body: { error: { code: "not_found", message: "project nope not found" } } } });
    renderAt("/projects/nope/workspace");
    const list = await screen.findByTestId("ws-projects");
    expect(within(list).getByText("Site").closest("a")!.getAttribute("href")).toBe("/projects/p1/workspace");
    expect(screen.getByText("project nope not found")).toBeTruthy();
  });
});
