import { Handle, Position, type Node, type NodeChange, type NodeProps } from "@xyflow/react";
import { useCallback, useState } from "react";
import { describe, type LocatedError } from "./graph";

// The node boxes of the pipeline graphs: the editor's (with validation errors) and the run
// page's (coloured by status, with an agent's tokens as they stream).

export interface GraphNodeData extends Record<string, unknown> {
  id: string;
  type: string;
  name?: string;
  errors?: LocatedError[];
  status?: string;
  tokens?: string;
  attempts?: number;
  readOnly?: boolean;
}

export type GraphNode = Node<GraphNodeData, "pipeline">;

export const statusColours: Record<string, string> = {
  pending: "border-slate-300 bg-white",
  running: "border-sky-500 bg-sky-50",
  retrying: "border-amber-500 bg-amber-50",
  completed: "border-emerald-500 bg-emerald-50",
  failed: "border-rose-500 bg-rose-50",
  skipped: "border-dashed border-slate-300 bg-slate-50 text-slate-500",
  interrupted: "border-orange-500 bg-orange-50",
};

// A read-only graph keeps its handles, which edges attach to, out of sight.
const hidden = { opacity: 0 };

function PipelineNodeBox({ data, selected }: NodeProps<GraphNode>) {
  const errors = data.errors ?? [];
  const bad = errors.length > 0;
  const colour = data.status ? (statusColours[data.status] ?? statusColours.pending) : "border-slate-300 bg-white";
  return (
    <div
      data-testid={"node-" + data.id}
      data-status={data.status}
      data-invalid={bad ? "true" : undefined}
      className={`w-52 rounded-md border-2 px-3 py-2 text-xs shadow-sm ${bad ? "border-rose-600 bg-rose-50" : colour} ${selected ? "ring-2 ring-indigo-400" : ""}`}
    >
      {data.type !== "trigger" && <Handle type="target" position={Position.Left} isConnectable={!data.readOnly} style={data.readOnly ? hidden : undefined} />}
      <div className="flex items-center justify-between gap-2">
        <span className="truncate font-mono font-semibold text-slate-900">{data.id}</span>
        <span className="rounded bg-slate-200 px-1.5 py-0.5 text-[10px] uppercase text-slate-700">{data.type}</span>
      </div>
      {data.name && <div className="mt-0.5 truncate text-slate-600">{data.name}</div>}
      {data.status && (
        <div className="mt-1 text-[11px] text-slate-600">
          {data.status}
          {data.attempts ? ` · attempt ${data.attempts}` : ""}
        </div>
      )}
      {data.tokens && (
        <div data-testid="node-tokens" className="mt-1 max-h-16 overflow-hidden whitespace-pre-wrap break-words rounded bg-white/70 p-1 text-[11px] text-slate-700">
          {data.tokens.length > 240 ? "…" + data.tokens.slice(-240) : data.tokens}
        </div>
      )}
      {bad && (
        <ul data-testid="node-error" className="mt-1 space-y-0.5 rounded bg-rose-100 p-1 text-[11px] text-rose-800">
          {errors.map((e) => (
            <li key={e.field + e.message}>{describe(e)}</li>
          ))}
        </ul>
      )}
      <Handle type="source" position={Position.Right} isConnectable={!data.readOnly} style={data.readOnly ? hidden : undefined} />
    </div>
  );
}

export const nodeTypes = { pipeline: PipelineNodeBox };

export type Measured = Record<string, { width: number; height: number }>;

// useMeasured keeps the size React Flow measured for each node. React Flow hides a node until
// its user object carries that size, so nodes derived afresh on every render must be given it
// back.
export function useMeasured() {
  const [measured, setMeasured] = useState<Measured>({});
  const track = useCallback((changes: NodeChange<GraphNode>[]) => {
    const dims = changes.flatMap((c) => (c.type === "dimensions" && c.dimensions ? [[c.id, c.dimensions] as const] : []));
    if (dims.length > 0) setMeasured((m) => ({ ...m, ...Object.fromEntries(dims) }));
  }, []);
  return { measured, track };
}
