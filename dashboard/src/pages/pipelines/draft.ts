import type { PipelineEdge, PipelineNode, PipelineSpec } from "../../api/pipelines";
import { firstIndexById, layoutSpec, placeNew, renameInEdges, type XY } from "./graph";

// The editor's draft: the spec being edited, plus what the spec has no room for. Nodes and edges
// get keys of their own so that the canvas keeps track of them while their ids are edited (or,
// for a moment, duplicated); positions are by key, as a spec carries none.
export interface Draft {
  spec: PipelineSpec;
  keys: string[];
  edgeKeys: string[];
  pos: Record<string, XY>;
}

export type DraftAction =
  | { type: "load"; spec: PipelineSpec }
  | { type: "replace"; spec: PipelineSpec }
  | { type: "relayout" }
  | { type: "meta"; patch: Partial<Pick<PipelineSpec, "name" | "description" | "timeout_sec" | "cancel_grace_sec">> }
  | { type: "addNode"; node: PipelineNode }
  | { type: "updateNode"; index: number; patch: Partial<PipelineNode> }
  | { type: "removeNodes"; keys: string[] }
  | { type: "move"; key: string; pos: XY }
  | { type: "addEdge"; edge: PipelineEdge }
  | { type: "updateEdge"; index: number; patch: Partial<PipelineEdge> }
  | { type: "removeEdges"; keys: string[] };

let counter = 0;
const newKey = (p: string) => `${p}${++counter}`;

function normalize(spec: PipelineSpec): PipelineSpec {
  return { ...spec, nodes: spec.nodes ?? [], edges: spec.edges ?? [] };
}

export function loadDraft(raw: PipelineSpec): Draft {
  const spec = normalize(raw);
  const keys = spec.nodes.map(() => newKey("n"));
  const layout = layoutSpec(spec);
  return { spec, keys, edgeKeys: spec.edges.map(() => newKey("e")), pos: Object.fromEntries(keys.map((k, i) => [k, layout[i]])) };
}

export function draftReducer(d: Draft, a: DraftAction): Draft {
  switch (a.type) {
    case "load":
      return loadDraft(a.spec);
    case "replace": {
      // Nodes that keep their id keep their place; the others go where a fresh layout puts them.
      const spec = normalize(a.spec);
      const old = firstIndexById(d.spec);
      const used = new Set<string>();
      const layout = layoutSpec(spec);
      const keys = spec.nodes.map((n) => {
        const i = old.get(n.id);
        const k = i === undefined ? undefined : d.keys[i];
        if (k && !used.has(k)) {
          used.add(k);
          return k;
        }
        return newKey("n");
      });
      const pos = Object.fromEntries(keys.map((k, i) => [k, d.pos[k] && used.has(k) ? d.pos[k] : layout[i]]));
      return { spec, keys, edgeKeys: spec.edges.map(() => newKey("e")), pos };
    }
    case "relayout": {
      const layout = layoutSpec(d.spec);
      return { ...d, pos: Object.fromEntries(d.keys.map((k, i) => [k, layout[i]])) };
    }
    case "meta":
      return { ...d, spec: { ...d.spec, ...a.patch } };
    case "addNode": {
      const key = newKey("n");
      return {
        ...d,
        spec: { ...d.spec, nodes: [...d.spec.nodes, a.node] },
        keys: [...d.keys, key],
        pos: { ...d.pos, [key]: placeNew(d.keys.map((k) => d.pos[k]).filter(Boolean)) },
      };
    }
    case "updateNode": {
      const before = d.spec.nodes[a.index];
      if (!before) return d;
      const nodes = d.spec.nodes.map((n, i) => (i === a.index ? { ...n, ...a.patch } : n));
      let edges = d.spec.edges;
      // Edges follow a renamed node, unless another node still answers to the old id.
      if (a.patch.id !== undefined && a.patch.id !== before.id && !nodes.some((n) => n.id === before.id)) {
        edges = renameInEdges(edges, before.id, a.patch.id);
      }
      return { ...d, spec: { ...d.spec, nodes, edges } };
    }
    case "removeNodes": {
      const drop = new Set(a.keys);
      const keep = d.keys.map((k) => !drop.has(k));
      const nodes = d.spec.nodes.filter((_, i) => keep[i]);
      const gone = new Set(d.spec.nodes.filter((_, i) => !keep[i]).map((n) => n.id));
      for (const n of nodes) gone.delete(n.id);
      const edgeKeep = d.spec.edges.map((e) => !gone.has(e.from) && !gone.has(e.to));
      const pos = { ...d.pos };
      for (const k of drop) delete pos[k];
      return {
        spec: { ...d.spec, nodes, edges: d.spec.edges.filter((_, j) => edgeKeep[j]) },
        keys: d.keys.filter((_, i) => keep[i]),
        edgeKeys: d.edgeKeys.filter((_, j) => edgeKeep[j]),
        pos,
      };
    }
    case "move":
      return { ...d, pos: { ...d.pos, [a.key]: a.pos } };
    case "addEdge":
      if (d.spec.edges.some((e) => e.from === a.edge.from && e.to === a.edge.to)) return d;
      return { ...d, spec: { ...d.spec, edges: [...d.spec.edges, a.edge] }, edgeKeys: [...d.edgeKeys, newKey("e")] };
    case "updateEdge":
      return { ...d, spec: { ...d.spec, edges: d.spec.edges.map((e, j) => (j === a.index ? { ...e, ...a.patch } : e)) } };
    case "removeEdges": {
      const drop = new Set(a.keys);
      const keep = d.edgeKeys.map((k) => !drop.has(k));
      return { ...d, spec: { ...d.spec, edges: d.spec.edges.filter((_, j) => keep[j]) }, edgeKeys: d.edgeKeys.filter((_, j) => keep[j]) };
    }
  }
}

// shifts says whether an action moves nodes or edges to other positions in the spec, which
// would make field errors located by index (nodes[2]) point at the wrong thing.
export const shifts = (a: DraftAction) => ["load", "replace", "removeNodes", "removeEdges"].includes(a.type);
