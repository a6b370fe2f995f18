import { api, ApiError, request, type Page } from "./client";

// Shapes of httpapi/memory.go (memory.Item, memory.Hit, memory.Document, memory.Count,
// memory.CacheStats) and the calls the Memory page makes.
export type MemoryKind = "memory" | "knowledge";
export type SearchMode = "vector" | "text" | "hybrid";

export const SCOPES = ["global", "agent", "circle", "conversation", "project"] as const;
export type Scope = (typeof SCOPES)[number];

export interface MemoryItem {
  id: string;
  kind: MemoryKind;
  scope: Scope;
  scope_id?: string;
  owner: string;
  agent_id?: string;
  document_id?: string;
  // Go omits a zero chunk_index: the first chunk of a document has none.
  chunk_index?: number;
  source?: string;
  content: string;
  tags: string[];
  importance: number;
  expires_at?: string;
  embedding_model?: string;
  embedding_dim?: number;
  created_at: string;
}

export interface Hit extends MemoryItem {
  score: number;
  similarity?: number;
  text_rank?: number;
}

export interface SearchAnswer {
  items: Hit[];
  mode: SearchMode;
  path: string;
  model: string;
}

export interface SearchInput {
  query: string;
  mode: SearchMode;
  agent_id?: string;
  kinds?: MemoryKind[];
  scopes?: Scope[];
  limit?: number;
}

export interface RememberInput {
  content: string;
  scope: Scope;
  scope_id?: string;
  tags: string[];
  importance: number;
  expires_at?: string;
}

export type EmbeddingState = "pending" | "done";

export interface MemoryAnswer {
  memory: MemoryItem;
  embedding: EmbeddingState;
}

export interface KnowledgeDocument {
  id: string;
  title: string;
  format: string;
  scope: Scope;
  scope_id?: string;
  owner: string;
  chunks: number;
  bytes: number;
  created_at: string;
}

export interface Count {
  kind: MemoryKind;
  scope: Scope;
  embedding_model: string;
  embedding_dim: number;
  items: number;
  not_embedded: number;
}

export interface CacheStats {
  model: string;
  dimension: number;
  memory_hits: number;
  table_hits: number;
  computed: number;
  provider_calls: number;
  hit_rate: number;
}

export interface MemoryStats {
  counts: Count[];
  search_path: string;
  embeddings: CacheStats;
}

export interface AgentRef {
  id: string;
  name: string;
}

export interface CircleRef {
  id: string;
  name: string;
}

export const memoryKeys = {
  stats: ["memory", "stats"] as const,
  documents: ["knowledge", "documents"] as const,
  item: (id: string) => ["memory", "item", id] as const,
};

// Go encodes an empty slice it never allocated as null: lists are made lists here, once.
const list = <T,>(xs: T[] | null | undefined): T[] => xs ?? [];

export async function searchMemory(input: SearchInput): Promise<SearchAnswer> {
  const a = await api<SearchAnswer>("/memory/search", { method: "POST", body: input });
  return { ...a, items: list(a.items).map((h) => ({ ...h, tags: list(h.tags) })) };
}
export const remember = (input: RememberInput) => api<MemoryAnswer>("/memory", { method: "POST", body: input });
export const getMemory = (id: string) => api<MemoryAnswer>(`/memory/${encodeURIComponent(id)}`);
export const forgetMemory = (id: string) => api<null>(`/memory/${encodeURIComponent(id)}`, { method: "DELETE" });
export async function memoryStats(): Promise<MemoryStats> {
  const s = await api<MemoryStats>("/memory/stats");
  return { ...s, counts: list(s.counts) };
}
export const listDocuments = async () => list((await api<{ items: KnowledgeDocument[] | null }>("/knowledge?limit=500")).items);
export const removeDocument = (id: string) => api<null>(`/knowledge/${encodeURIComponent(id)}`, { method: "DELETE" });
export const listAgents = async () => list((await api<Page<AgentRef>>("/agents?limit=200")).items);
export const listCircles = async () => list((await api<{ items: CircleRef[] | null }>("/circles?limit=500")).items);

export async function uploadDocument(file: File, opts: { title?: string; scope?: Scope; scope_id?: string }): Promise<KnowledgeDocument> {
  const form = new FormData();
  form.append("file", file);
  if (opts.title?.trim()) form.append("title", opts.title.trim());
  if (opts.scope) form.append("scope", opts.scope);
  if (opts.scope_id) form.append("scope_id", opts.scope_id);
  return (await request<KnowledgeDocument>("/knowledge", { method: "POST", form })).data;
}

// The server's limits on an upload (domain.MaxKnowledgeBytes and the extensions addKnowledge
// maps to a format), checked before sending so a wrong file is refused at once and in place.
export const MAX_UPLOAD_BYTES = 2 << 20;
export const UPLOAD_EXTENSIONS = [".md", ".markdown", ".txt", ".text", ".csv"];

export function checkUpload(file: { name: string; size: number } | null | undefined): ApiError | null {
  const refuse = (message: string) => new ApiError(400, { error: { code: "invalid", message: `file: ${message}`, fields: [{ field: "file", message }] } });
  if (!file) return refuse("choose a file to upload");
  const dot = file.name.lastIndexOf(".");
  const ext = dot >= 0 ? file.name.slice(dot).toLowerCase() : "";
  if (!UPLOAD_EXTENSIONS.includes(ext)) return refuse(`wrong type: ${file.name} is not a .md, .markdown, .txt or .csv file`);
  if (file.size > MAX_UPLOAD_BYTES) return refuse(`too large: ${formatBytes(file.size)}, at most 2 MiB`);
  if (file.size === 0) return refuse("the file is empty");
  return null;
}

export function formatScore(n: number | null | undefined): string {
  return typeof n === "number" && Number.isFinite(n) ? n.toFixed(3) : "—";
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / (1024 * 1024)).toFixed(2)} MiB`;
}

// sourceOf names where a hit comes from: a knowledge chunk cites its document and chunk number
// (the projection stores "<title> #<n>"), a memory its scope.
export function sourceOf(h: MemoryItem): string {
  if (h.kind === "knowledge") return h.source || `chunk #${(h.chunk_index ?? 0) + 1}`;
  return h.source || (h.scope_id ? `${h.scope} ${h.scope_id}` : h.scope);
}

export function parseTags(raw: string): string[] {
  return raw
    .split(",")
    .map((t) => t.trim())
    .filter(Boolean);
}

export interface KindSummary {
  kind: string;
  items: number;
  notEmbedded: number;
  models: { model: string; dimension: number; items: number }[];
}

// summarize folds the counts (by kind, scope and model) into one line per kind.
export function summarize(counts: Count[]): KindSummary[] {
  const byKind = new Map<string, KindSummary>();
  for (const c of counts) {
    const k = byKind.get(c.kind) ?? { kind: c.kind, items: 0, notEmbedded: 0, models: [] };
    k.items += c.items;
    k.notEmbedded += c.not_embedded;
    if (c.embedding_model) {
      const m = k.models.find((x) => x.model === c.embedding_model && x.dimension === c.embedding_dim);
      if (m) m.items += c.items - c.not_embedded;
      else k.models.push({ model: c.embedding_model, dimension: c.embedding_dim, items: c.items - c.not_embedded });
    }
    byKind.set(c.kind, k);
  }
  return [...byKind.values()].sort((a, b) => a.kind.localeCompare(b.kind));
}

// knowledgeEmbedding says whether the knowledge base is fully embedded by the current model.
// GET /knowledge carries no per-document embedding state, so only the whole base can be judged.
export function knowledgeEmbedding(stats: MemoryStats | undefined): { pending: number; stale: number; total: number } {
  let pending = 0;
  let stale = 0;
  let total = 0;
  for (const c of stats?.counts ?? []) {
    if (c.kind !== "knowledge") continue;
    total += c.items;
    pending += c.not_embedded;
    if (c.embedding_model && stats?.embeddings.model && c.embedding_model !== stats.embeddings.model) stale += c.items - c.not_embedded;
  }
  return { pending, stale, total };
}
