import { api, request, type Page } from "./client";

// Shapes of the agent endpoints (httpapi/agents.go, chat.go, memory.go; projections/agents.go,
// chats.go; llm/catalog.go) and the few calls the Agents pages make.

export interface Personality {
  traits: string[];
  communication_style: string;
  temperature: number;
  max_tokens: number;
}

export interface AgentSpec {
  name: string;
  role: string;
  provider: string;
  model: string;
  personality: Personality;
  system_prompt: string;
  tools: string[];
}

export interface Agent extends AgentSpec {
  id: string;
  version: number;
  created_at: string;
  updated_at: string;
  position: number;
  created_by: string;
}

// AgentInput is the body of POST and PATCH /agents: every field optional, absent means "default"
// on create and "leave as is" on update.
export interface AgentInput {
  persona?: string;
  name?: string;
  role?: string;
  provider?: string;
  model?: string;
  personality?: Partial<Personality>;
  system_prompt?: string;
  tools?: string[];
}

export interface ModelInfo {
  id: string;
  display_name: string;
  context_window: number;
  max_output: number;
  input_per_mtok: number;
  output_per_mtok: number;
  supports_tools: boolean;
  supports_streaming: boolean;
  deprecated?: string;
}

export interface ProviderInfo {
  name: string;
  display_name: string;
  base_url?: string;
  key_env?: string;
  openai_compatible?: boolean;
  local?: boolean;
  models: ModelInfo[];
}

export interface ToolInfo {
  name: string;
  description: string;
}

// The catalog lists providers today; tools are read only if the server ever lists them there.
export interface Catalog {
  providers: ProviderInfo[];
  tools?: ToolInfo[];
}

export interface Persona {
  id: string;
  display_name: string;
  description: string;
  spec: AgentSpec;
}

export interface Usage {
  agent_id: string;
  model_calls: number;
  tool_calls: number;
  input_tokens: number;
  output_tokens: number;
  cost_usd: number;
}

export interface ChatTotals {
  steps: number;
  tool_calls: number;
  input_tokens: number;
  output_tokens: number;
  cost_usd: number;
  latency_ms: number;
}

export interface ToolCallRecord {
  step?: number;
  tool_call_id: string;
  name: string;
  arguments: unknown;
  output?: unknown;
  is_error: boolean;
  error?: string;
  duration_ms?: number;
}

// ChatAccepted is the answer to POST /agents/{id}/chat with wait=false (202).
export interface ChatAccepted {
  session_id: string;
  message_id: string;
  status: "pending" | "answered" | "failed";
  content: string;
}

export interface ChatMessageView {
  id: string;
  role: "user" | "assistant";
  content: string;
  status: "posted" | "answered" | "failed" | "reply";
  error?: string;
  totals?: ChatTotals;
  created_at: string;
}

export interface ChatView {
  id: string;
  agent_id: string;
  owner: string;
  messages: ChatMessageView[];
  created_at: string;
  updated_at: string;
}

export interface MemoryItem {
  id: string;
  kind: string;
  scope: string;
  scope_id?: string;
  owner: string;
  agent_id?: string;
  document_id?: string;
  source?: string;
  content: string;
  tags: string[] | null;
  importance: number;
  expires_at?: string;
  embedding_model?: string;
  created_at: string;
}

export interface MemoryHit extends MemoryItem {
  score: number;
  similarity?: number;
  text_rank?: number;
}

export interface Recall {
  items: MemoryHit[];
  mode: string;
  path: string;
  model: string;
}

export interface Remembered {
  memory: MemoryItem;
  embedding: "pending" | "done";
}

export interface WithEtag<T> {
  data: T;
  etag: string;
}

export const agentKeys = {
  list: ["agents", "list"] as const,
  one: (id: string) => ["agent", id] as const,
  usage: (id: string) => ["agent", id, "usage"] as const,
  memories: (id: string) => ["agent", id, "memories"] as const,
  chat: (session: string) => ["chat", session] as const,
  catalog: ["catalog"] as const,
  personas: ["personas"] as const,
};

// The ETag is the agent's version in quotes; fall back to it when a proxy strips the header.
export const etagOf = (a: Agent, header?: string | null) => header || `"${a.version}"`;

export function listAgents(cursor?: string): Promise<Page<Agent>> {
  const q = new URLSearchParams({ limit: "50" });
  if (cursor) q.set("cursor", cursor);
  return api<Page<Agent>>(`/agents?${q}`);
}

export async function getAgent(id: string): Promise<WithEtag<Agent>> {
  const r = await request<Agent>(`/agents/${encodeURIComponent(id)}`);
  return { data: r.data, etag: etagOf(r.data, r.etag) };
}

export async function createAgent(input: AgentInput): Promise<WithEtag<Agent>> {
  const r = await request<Agent>("/agents", { method: "POST", body: input });
  return { data: r.data, etag: etagOf(r.data, r.etag) };
}

export async function updateAgent(id: string, patch: AgentInput, ifMatch: string): Promise<WithEtag<Agent>> {
  const r = await request<Agent>(`/agents/${encodeURIComponent(id)}`, { method: "PATCH", body: patch, headers: { "If-Match": ifMatch } });
  return { data: r.data, etag: etagOf(r.data, r.etag) };
}

export async function deleteAgent(id: string, ifMatch: string): Promise<void> {
  await request(`/agents/${encodeURIComponent(id)}`, { method: "DELETE", headers: { "If-Match": ifMatch } });
}

export const getCatalog = () => api<Catalog>("/catalog");
export const getPersonas = async () => (await api<{ personas: Persona[] }>("/personas")).personas;
export const getUsage = (id: string) => api<Usage>(`/agents/${encodeURIComponent(id)}/usage`);

// sendChat posts without waiting: the reply arrives on /ws/agents/{id} (tokens, then
// chat.replied or chat.failed), so the page shows it growing instead of a spinner.
export function sendChat(agentId: string, message: string, sessionId: string | null): Promise<ChatAccepted> {
  const body: Record<string, unknown> = { message, wait: false };
  if (sessionId) body.session_id = sessionId;
  return api<ChatAccepted>(`/agents/${encodeURIComponent(agentId)}/chat`, { method: "POST", body });
}

export const getChat = (session: string) => api<ChatView>(`/chats/${encodeURIComponent(session)}`);

// recallAgentMemories searches as the agent: what it may recall, or only its own ("agent" scope).
export function recallAgentMemories(agentId: string, query: string, ownOnly: boolean): Promise<Recall> {
  const body: Record<string, unknown> = { query, agent_id: agentId, kinds: ["memory"], limit: 50 };
  if (ownOnly) body.scopes = ["agent"];
  return api<Recall>("/memory/search", { method: "POST", body });
}

export function rememberForAgent(agentId: string, m: { content: string; tags: string[]; importance?: number }): Promise<Remembered> {
  const body: Record<string, unknown> = { content: m.content, agent_id: agentId, scope: "agent", tags: m.tags };
  if (m.importance !== undefined) body.importance = m.importance;
  return api<Remembered>("/memory", { method: "POST", body });
}

export async function forgetMemory(id: string): Promise<void> {
  await request(`/memory/${encodeURIComponent(id)}`, { method: "DELETE" });
}
