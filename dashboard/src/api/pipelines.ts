import { api, request, type FieldError, type Page } from "./client";

// The pipelines API (httpapi/pipelines.go) and the JSON of its views (projections/pipelines.go).
export interface RetryPolicy {
  max_attempts: number;
  initial_backoff_ms: number;
  max_backoff_ms: number;
  multiplier: number;
}

export interface BreakerPolicy {
  failure_threshold: number;
  recovery_sec: number;
}

export interface PipelineNode {
  id: string;
  type: string;
  name?: string;
  config: unknown;
  // Zero fields take the server's defaults, so a new node may leave them out.
  retry?: Partial<RetryPolicy>;
  breaker?: Partial<BreakerPolicy>;
}

export interface PipelineEdge {
  from: string;
  to: string;
  condition?: string;
}

export interface PipelineSpec {
  name: string;
  description?: string;
  nodes: PipelineNode[];
  edges: PipelineEdge[];
  timeout_sec?: number;
  cancel_grace_sec?: number;
}

export interface Pipeline {
  id: string;
  owner: string;
  name: string;
  description: string;
  spec: PipelineSpec;
  spec_version: number;
  node_count: number;
  edge_count: number;
  version: number;
  created_at: string;
  updated_at: string;
}

export interface NodeAttempt {
  attempt: number;
  started_at: string;
  ended_at?: string;
  outcome: string; // running | completed | failed | interrupted
  error?: string;
  retryable?: boolean;
  will_retry?: boolean;
  backoff_ms?: number;
  duration_ms?: number;
}

export interface NodeRun {
  node: string;
  type: string;
  status: string; // pending | running | retrying | completed | failed | skipped | interrupted
  attempts: number;
  retries: number;
  input?: unknown;
  output?: unknown;
  error?: string;
  skip_reason?: string;
  started_at?: string;
  ended_at?: string;
  duration_ms?: number;
  history: NodeAttempt[] | null;
}

export interface PipelineRun {
  id: string;
  pipeline_id: string;
  pipeline_version: number;
  owner: string;
  started_by: string;
  status: string; // running | cancelling | completed | failed | cancelled | timed_out
  input: unknown;
  outputs?: Record<string, unknown>;
  error?: string;
  failed_node?: string;
  cancel_reason?: string;
  cancel_forced: boolean;
  timeout_sec: number;
  started_at: string;
  ended_at?: string;
  duration_ms?: number;
  version: number;
  nodes?: NodeRun[];
}

export interface NodeType {
  type: string;
  config_schema: Record<string, unknown>;
}

export interface Validation {
  valid: boolean;
  errors: FieldError[];
}

export const runFinished = (status: string) => status !== "running" && status !== "cancelling";

const enc = encodeURIComponent;

// The body of a create or update: the spec's own fields, nothing of the view around it.
export function specBody(s: PipelineSpec): PipelineSpec {
  return {
    name: s.name,
    description: s.description ?? "",
    nodes: s.nodes,
    edges: s.edges,
    timeout_sec: s.timeout_sec ?? 0,
    cancel_grace_sec: s.cancel_grace_sec ?? 0,
  };
}

export const pipelinesApi = {
  list: (cursor?: string) => api<Page<Pipeline>>(`/pipelines?limit=50${cursor ? `&cursor=${enc(cursor)}` : ""}`),
  get: (id: string) => request<Pipeline>(`/pipelines/${enc(id)}`),
  create: (spec: PipelineSpec) => api<Pipeline>("/pipelines", { method: "POST", body: specBody(spec) }),
  update: (id: string, spec: PipelineSpec, etag: string | null) =>
    request<Pipeline>(`/pipelines/${enc(id)}`, { method: "PUT", body: specBody(spec), headers: etag ? { "If-Match": etag } : {} }),
  remove: (id: string, etag: string | null) =>
    api<null>(`/pipelines/${enc(id)}`, { method: "DELETE", headers: etag ? { "If-Match": etag } : {} }),
  validate: (spec: PipelineSpec) => api<Validation>("/pipelines/validate", { method: "POST", body: specBody(spec) }),
  nodeTypes: () => api<{ items: NodeType[] }>("/pipelines/node-types"),
  startRun: (id: string, input: unknown) => api<PipelineRun>(`/pipelines/${enc(id)}/runs`, { method: "POST", body: { input } }),
  runs: (id: string, cursor?: string) =>
    api<Page<PipelineRun>>(`/pipelines/${enc(id)}/runs?limit=50${cursor ? `&cursor=${enc(cursor)}` : ""}`),
  run: (id: string, run: string) => api<PipelineRun>(`/pipelines/${enc(id)}/runs/${enc(run)}`),
  cancelRun: (id: string, run: string) => api<PipelineRun>(`/pipelines/${enc(id)}/runs/${enc(run)}/cancel`, { method: "POST", body: {} }),
};
