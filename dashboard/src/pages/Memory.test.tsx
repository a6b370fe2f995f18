import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { fireEvent, render, screen, waitFor, within } from "@testing-library/react";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { MemoryRouter } from "react-router-dom";
import { checkUpload, formatBytes, formatScore, knowledgeEmbedding, parseTags, sourceOf, summarize, type Hit, type MemoryStats } from "../api/memory";
import { useSession } from "../auth/session";
import Memory from "./Memory";

const json = (body: unknown, status = 200) =>
  new Response(body === null ? null : JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });

const hit = (over: Partial<Hit> = {}): Hit => ({
  id: "m1",
  kind: "memory",
  scope: "global",
  owner: "u1",
  content: "The customer prefers email.",
  tags: ["customer"],
  importance: 0.5,
  embedding_model: "offline-embed",
  embedding_dim: 64,
  created_at: "2025-01-01T00:00:00Z",
  score: 0.87654,
  ...over,
});

const stats: MemoryStats = {
  counts: [
    { kind: "memory", scope: "global", embedding_model: "offline-embed", embedding_dim: 64, items: 3, not_embedded: 0 },
    { kind: "knowledge", scope: "global", embedding_model: "offline-embed", embedding_dim: 64, items: 5, not_embedded: 0 },
  ],
  search_path: "exact",
  embeddings: { model: "offline-embed", dimension: 64, memory_hits: 1, table_hits: 1, computed: 2, provider_calls: 1, hit_rate: 0.5 },
};

const doc = { id: "d1", title: "Handbook", format: "markdown", scope: "global", owner: "u1", chunks: 5, bytes: 4096, created_at: "2025-01-01T00:00:00Z" };

type Handler = (init: RequestInit | undefined, url: URL) => Response | Promise<Response>;

// stubFetch answers "METHOD /path" from handlers and records the calls.
function stubFetch(handlers: Record<string, Handler>) {
  const fn = vi.fn(async (input: RequestInfo | URL, init?: RequestInit) => {
    const url = new URL(String(input), "http://localhost");
    const h = handlers[`${init?.method ?? "GET"} ${url.pathname}`];
    if (!h) return json({ error: { code: "not_found", message: `no stub for ${url.pathname}` } }, 404);
    return h(init, url);
  });
  globalThis.fetch = fn as unknown as typeof fetch;
  return fn;
}

const base: Record<string, Handler> = {
  "GET /memory/stats": () => json(stats),
  "GET /knowledge": () => json({ items: [doc] }),
  "GET /agents": () => json({ items: [{ id: "a1", name: "Ada" }] }),
};

const calls = (fn: ReturnType<typeof stubFetch>, key: string) =>
  fn.mock.calls.filter((c) => `${(c[1] as RequestInit | undefined)?.method ?? "GET"} ${new URL(String(c[0]), "http://localhost").pathname}` === key);

function renderMemory() {
  const qc = new QueryClient({ defaultOptions: { queries: { retry: false }, mutations: { retry: false } } });
  return render(
    <QueryClientProvider client={qc}>
      <MemoryRouter initialEntries={["/memory"]}>
        <Memory />
      </MemoryRouter>
    </QueryClientProvider>,
  );
}

const realFetch = globalThis.fetch;
beforeEach(() => useSession.setState({ access: "t", user: { id: "u1", email: "u@example.com", role: "member" } }));
afterEach(() => {
  globalThis.fetch = realFetch;
  useSession.getState().clear();
});

describe("memory helpers", () => {
  it("formats scores to three decimals", () => {
    expect(formatScore(0.87654)).toBe("0.877");
    expect(formatScore(0.0163934)).toBe("0.016");
    expect(formatScore(1)).toBe("1.000");
    expect(formatScore(undefined)).toBe("—");
    expect(formatScore(NaN)).toBe("—");
  });

  it("refuses uploads the server would refuse, saying why", () => {
    expect(checkUpload({ name: "notes.md", size: 10 })).toBeNull();
    expect(checkUpload({ name: "DATA.CSV", size: 2 << 20 })).toBeNull();
    expect(checkUpload({ name: "big.txt", size: (2 << 20) + 1 })?.fieldMessage("file")).toMatch(/^too large: 2\.00 MiB, at most 2 MiB/);
    expect(checkUpload({ name: "photo.png", size: 10 })?.fieldMessage("file")).toMatch(/^wrong type/);
    expect(checkUpload({ name: "README", size: 10 })?.fieldMessage("file")).toMatch(/^wrong type/);
    expect(checkUpload(null)?.fieldMessage("file")).toBe("choose a file to upload");
  });

  it("names the source of a hit", () => {
    expect(sourceOf(hit({ kind: "knowledge", source: "Handbook #3", chunk_index: 2 }))).toBe("Handbook #3");
    expect(sourceOf(hit({ kind: "knowledge", source: undefined, chunk_index: undefined }))).toBe("chunk #1");
    expect(sourceOf(hit({ scope: "agent", scope_id: "a1" }))).toBe("agent a1");
  });

  it("reads tags, sizes and counts", () => {
    expect(parseTags(" a, b ,,c ")).toEqual(["a", "b", "c"]);
    expect(formatBytes(512)).toBe("512 B");
    expect(formatBytes(4096)).toBe("4.0 KiB");
    const counts = [
      { kind: "memory" as const, scope: "global" as const, embedding_model: "m1", embedding_dim: 8, items: 2, not_embedded: 0 },
      { kind: "memory" as const, scope: "agent" as const, embedding_model: "m1", embedding_dim: 8, items: 1, not_embedded: 0 },
      { kind: "memory" as const, scope: "agent" as const, embedding_model: "", embedding_dim: 0, items: 4, not_embedded: 4 },
      { kind: "knowledge" as const, scope: "global" as const, embedding_model: "m0", embedding_dim: 8, items: 6, not_embedded: 0 },
    ];
    expect(summarize(counts)).toEqual([
      { kind: "knowledge", items: 6, notEmbedded: 0, models: [{ model: "m0", dimension: 8, items: 6 }] },
      { kind: "memory", items: 7, notEmbedded: 4, models: [{ model: "m1", dimension: 8, items: 3 }] },
    ]);
    expect(knowledgeEmbedding({ ...stats, counts, embeddings: { ...stats.embeddings, model: "m1" } })).toEqual({ pending: 0, stale: 6, total: 6 });
  });
});

describe("Memory page", () => {
  it("shows stats and documents, and searches with scores", async () => {
    const fetchFn = stubFetch({
      ...base,
      "POST /memory/search": () =>
        json({
          items: [hit(), hit({ id: "k1", kind: "knowledge", source: "Handbook #2", chunk_index: 1, content: "Refunds take 5 days.", tags: [], score: 0.5 })],
          mode: "text",
          path: "exact",
          model: "offline-embed",
        }),
    });
    renderMemory();
    const statsBox = await screen.findByTestId("memory-stats");
    expect(statsBox.querySelector('[data-count="memory"]')?.textContent).toBe("3");
    expect(statsBox.querySelector('[data-count="knowledge"]')?.textContent).toBe("5");
    const row = await screen.findByTestId("knowledge-document");
    expect(row.textContent).toContain("Handbook");
    expect(row.textContent).toContain("4.0 KiB");
    expect(within(row).getByText("embedded")).toBeTruthy();
    await screen.findByRole("option", { name: "Ada" });

    fireEvent.change(document.querySelector('input[name="query"]')!, { target: { value: "refunds" } });
    fireEvent.change(document.querySelector('select[name="mode"]')!, { target: { value: "text" } });
    fireEvent.change(document.querySelector('select[name="agent_id"]')!, { target: { value: "a1" } });
    fireEvent.click(screen.getByRole("button", { name: "Search" }));

    const results = await screen.findAllByTestId("memory-result");
    expect(results).toHaveLength(2);
    expect(results.map((r) => within(r).getByTestId("memory-score").textContent)).toEqual(["0.877", "0.500"]);
    expect(results[0].getAttribute("data-kind")).toBe("memory");
    expect(results[0].textContent).toContain("#customer");
    expect(results[1].textContent).toContain("Handbook #2");
    expect(results[1].textContent).toContain("knowledge");
    const body = JSON.parse(String((calls(fetchFn, "POST /memory/search")[0][1] as RequestInit).body));
    expect(body).toEqual({ query: "refunds", mode: "text", agent_id: "a1", limit: 10 });
  });

  it("shows the API's errors at the fields of the remember form", async () => {
    stubFetch({
      ...base,
      "POST /memory": () =>
        json(
          {
            error: {
              code: "invalid",
              message: "content: must be 1 to 10000 characters (got 0) (and 1 more)",
              fields: [
                { field: "content", message: "must be 1 to 10000 characters (got 0)" },
                { field: "importance", message: "must be between 0 and 1" },
              ],
            },
          },
          400,
        ),
    });
    renderMemory();
    fireEvent.change(document.querySelector('input[name="importance"]')!, { target: { value: "3" } });
    fireEvent.click(screen.getByRole("button", { name: "Remember" }));
    expect((await screen.findByText("must be 1 to 10000 characters (got 0)")).getAttribute("data-field-error")).toBe("content");
    expect(document.querySelector('[data-field-error="importance"]')?.textContent).toBe("must be between 0 and 1");
  });

  it("remembers and follows the embedding", async () => {
    const item = hit({ embedding_model: undefined, embedding_dim: undefined });
    const fetchFn = stubFetch({
      ...base,
      "POST /memory": () => json({ memory: item, embedding: "pending" }, 201),
      "GET /memory/m1": () => json({ memory: { ...item, embedding_model: "offline-embed" }, embedding: "done" }),
    });
    renderMemory();
    fireEvent.change(document.querySelector('textarea[name="content"]')!, { target: { value: "The customer prefers email." } });
    fireEvent.change(document.querySelector('select[name="scope"]')!, { target: { value: "agent" } });
    fireEvent.change(await screen.findByDisplayValue("Choose an agent"), { target: { value: "a1" } });
    fireEvent.change(document.querySelector('input[name="tags"]')!, { target: { value: "customer, email" } });
    fireEvent.click(screen.getByRole("button", { name: "Remember" }));
    const done = await screen.findByTestId("remembered");
    const body = JSON.parse(String((calls(fetchFn, "POST /memory")[0][1] as RequestInit).body));
    expect(body).toEqual({ content: "The customer prefers email.", scope: "agent", scope_id: "a1", tags: ["customer", "email"], importance: 0.5 });
    await waitFor(() => expect(done.getAttribute("data-embedding")).toBe("done"), { timeout: 3000 });
  });

  it("refuses a too large or wrong file before uploading, and uploads a good one", async () => {
    const fetchFn = stubFetch({
      ...base,
      "POST /knowledge": () => json({ ...doc, id: "d2", title: "notes.md", chunks: 1, bytes: 5 }, 201),
    });
    renderMemory();
    const input = document.querySelector('input[name="file"]') as HTMLInputElement;
    const choose = (f: File) => fireEvent.change(input, { target: { files: [f] } });

    const big = new File(["x"], "big.md");
    Object.defineProperty(big, "size", { value: 3 << 20 });
    choose(big);
    fireEvent.click(screen.getByRole("button", { name: "Upload" }));
    expect(document.querySelector('[data-field-error="file"]')?.textContent).toMatch(/too large/);

    choose(new File(["x"], "photo.png"));
    expect(document.querySelector('[data-field-error="file"]')?.textContent).toMatch(/wrong type/);
    expect(calls(fetchFn, "POST /knowledge")).toHaveLength(0);

    choose(new File(["# hello"], "notes.md"));
    expect(document.querySelector('[data-field-error="file"]')).toBeNull();
    fireEvent.click(screen.getByRole("button", { name: "Upload" }));
    expect((await screen.findByTestId("uploaded")).textContent).toContain("notes.md");
    const sent = (calls(fetchFn, "POST /knowledge")[0][1] as RequestInit).body as FormData;
    expect((sent.get("file") as File).name).toBe("notes.md");
  });

  it("removes a document and shows an empty knowledge base", async () => {
    let docs = [doc];
    const fetchFn = stubFetch({
      ...base,
      "GET /knowledge": () => json({ items: docs }),
      "DELETE /knowledge/d1": () => {
        docs = [];
        return json(null, 204);
      },
    });
    renderMemory();
    fireEvent.click(await screen.findByRole("button", { name: "Remove Handbook" }));
    expect(await screen.findByText(/No documents yet/)).toBeTruthy();
    expect(calls(fetchFn, "DELETE /knowledge/d1")).toHaveLength(1);
  });

  it("shows an error when the stats cannot be read", async () => {
    stubFetch({ ...base, "GET /memory/stats": () => json({ error: { code: "internal", message: "stats are down" } }, 500) });
    renderMemory();
    expect(await screen.findByText("stats are down")).toBeTruthy();
  });
});
