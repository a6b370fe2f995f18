import type { FieldError } from "../../api/client";
import type { PipelineEdge, PipelineSpec } from "../../api/pipelines";

// Pure helpers of the pipeline editor: where the API's field errors belong on the graph, how a
// graph is laid out, and what a new node starts with.

export interface XY {
  x: number;
  y: number;
}

// A located error: Path is what remains of the field once the node or edge is taken off
// ("config.url", "retry.max_attempts", "" for the node or edge itself).
export interface LocatedError {
  path: string;
  field: string;
  message: string;
}

export interface ErrorMap {
  nodes: Map<number, LocatedError[]>;
  edges: Map<number, LocatedError[]>;
  // Errors of the pipeline as a whole: its name, its timeouts, cycles ("edges"), "nodes".
  graph: FieldError[];
}

const located = /^(nodes|edges)\[(\d+)\](.*)$/;

// mapFieldErrors sends each field error to what it is about: nodes[i]... to node i, edges[j]...
// to edge j, anything else to the graph.
export function mapFieldErrors(errors: FieldError[]): ErrorMap {
  const out: ErrorMap = { nodes: new Map(), edges: new Map(), graph: [] };
  for (const e of errors) {
    const m = located.exec(e.field);
    if (!m) {
      out.graph.push(e);
      continue;
    }
    const target = m[1] === "nodes" ? out.nodes : out.edges;
    const i = Number(m[2]);
    const path = m[3].replace(/^\./, "");
    const list = target.get(i) ?? [];
    list.push({ path, field: e.field, message: e.message });
    target.set(i, list);
  }
  return out;
}

// describe words a located error for a badge: "config.url: must be …", or the message alone.
export const describe = (e: LocatedError) => (e.path ? `${e.path}: ${e.message}` : e.message);

// firstIndexById maps each node id to its first position, as the server resolves edges.
export function firstIndexById(spec: PipelineSpec): Map<string, number> {
  const index = new Map<string, number>();
  spec.nodes.forEach((n, i) => {
    if (!index.has(n.id)) index.set(n.id, i);
  });
  return index;
}

// nodeDepths gives each node its depth: 0 for nodes without incoming edges, else one more than
// the deepest of its predecessors (the longest path from an entry). Edges that close a cycle
// are ignored, so a cyclic draft still lays out (the validation names the cycle).
export function nodeDepths(spec: PipelineSpec): number[] {
  const index = firstIndexById(spec);
  const n = spec.nodes.length;
  const out: number[][] = Array.from({ length: n }, () => []);
  const indeg = new Array<number>(n).fill(0);
  for (const e of spec.edges) {
    const a = index.get(e.from);
    const b = index.get(e.to);
    if (a === undefined || b === undefined || a === b) continue;
    out[a].push(b);
    indeg[b]++;
  }
  const depth = new Array<number>(n).fill(0);
  const done = new Array<boolean>(n).fill(false);
  const left = [...indeg];
  let queue = [...Array(n).keys()].filter((i) => left[i] === 0);
  let settled = 0;
  for (;;) {
    while (queue.length > 0) {
      const next: number[] = [];
      for (const i of queue) {
        done[i] = true;
        settled++;
        for (const j of out[i]) {
          depth[j] = Math.max(depth[j], depth[i] + 1);
          if (--left[j] === 0) next.push(j);
        }
      }
      queue = next;
    }
    if (settled === n) break;
    // What is left sits on or behind a cycle: break it at its earliest node in spec order.
    const i = done.findIndex((d) => !d);
    left[i] = 0;
    queue = [i];
  }
  return depth;
}

export const COLUMN_GAP = 260;
export const ROW_GAP = 120;

// layoutSpec places nodes left to right by depth, and top to bottom in spec order within a
// column.
export function layoutSpec(spec: PipelineSpec): XY[] {
  const depth = nodeDepths(spec);
  const rows = new Map<number, number>();
  return depth.map((d) => {
    const row = rows.get(d) ?? 0;
    rows.set(d, row + 1);
    return { x: d * COLUMN_GAP, y: row * ROW_GAP };
  });
}

// placeNew finds a free spot for a node added to a laid-out graph: a new column to the right.
export function placeNew(positions: XY[]): XY {
  if (positions.length === 0) return { x: 0, y: 0 };
  const maxX = Math.max(...positions.map((p) => p.x));
  return { x: maxX + COLUMN_GAP, y: Math.min(...positions.map((p) => p.y)) };
}

// uniqueNodeId proposes an id for a new node of a type: the type and the first free number.
export function uniqueNodeId(spec: PipelineSpec, type: string): string {
  const taken = new Set(spec.nodes.map((n) => n.id));
  const base = /^[A-Za-z]/.test(type) ? type.replace(/[^A-Za-z0-9_-]/g, "_") : `n_${type}`;
  for (let i = 1; ; i++) {
    const id = `${base}${i}`;
    if (!taken.has(id)) return id;
  }
}

type Schema = {
  required?: string[];
  properties?: Record<string, { type?: string; enum?: unknown[]; const?: unknown; minimum?: number; default?: unknown }>;
};

// configTemplate is a config with the schema's required properties, each given its default,
// first allowed value or an empty value of its type, for the person to fill in.
export function configTemplate(schema: unknown): Record<string, unknown> {
  const s = (schema ?? {}) as Schema;
  const out: Record<string, unknown> = {};
  for (const key of s.required ?? []) {
    const p = s.properties?.[key] ?? {};
    if (p.default !== undefined) out[key] = p.default;
    else if (p.const !== undefined) out[key] = p.const;
    else if (p.enum && p.enum.length > 0) out[key] = p.enum[0];
    else if (p.type === "integer" || p.type === "number") out[key] = p.minimum ?? 0;
    else if (p.type === "boolean") out[key] = false;
    else if (p.type === "object") out[key] = {};
    else if (p.type === "array") out[key] = [];
    else out[key] = "";
  }
  return out;
}

// renameInEdges follows a node's id change in the edges that name it.
export function renameInEdges(edges: PipelineEdge[], from: string, to: string): PipelineEdge[] {
  return edges.map((e) => ({ ...e, from: e.from === from ? to : e.from, to: e.to === from ? to : e.to }));
}

// minimalSpec is the smallest valid pipeline: a single trigger, where a run enters.
export function minimalSpec(name: string): PipelineSpec {
  return { name, nodes: [{ id: "start", type: "trigger", config: {} }], edges: [] };
}
