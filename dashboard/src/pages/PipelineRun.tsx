import "@xyflow/react/dist/style.css";
import { Background, Controls, MarkerType, ReactFlow, type Edge } from "@xyflow/react";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useMemo, useState } from "react";
import { Link, useParams } from "react-router-dom";
import { pipelinesApi, runFinished, type NodeRun, type PipelineRun as Run, type PipelineSpec } from "../api/pipelines";
import { useFeed } from "../live/feed";
import { Empty, ErrorBox, LiveBadge, Loading, PageHeader, StatusPill, when } from "../components/ui";
import { fmtDuration, pretty } from "./pipelines/format";
import { nodeTypes, statusColours, useMeasured, type GraphNode } from "./pipelines/flow";
import { firstIndexById, layoutSpec } from "./pipelines/graph";

// One run of a pipeline, live: its status, input and outputs, the graph coloured by node
// status with agents' tokens as they stream, and each node's attempts.
export default function PipelineRun() {
  const { id = "", run: runId = "" } = useParams();
  const queryClient = useQueryClient();
  const [tokens, setTokens] = useState<Record<string, string>>({});
  const run = useQuery({
    queryKey: ["pipeline-run", id, runId],
    queryFn: () => pipelinesApi.run(id, runId),
    // The feed says when something happened; polling covers a read model that lags behind it.
    refetchInterval: (q) => (q.state.data && runFinished(q.state.data.status) ? false : 2000),
  });
  const pipeline = useQuery({ queryKey: ["pipeline", id], queryFn: () => pipelinesApi.get(id), retry: false });

  const stream = `pipeline_run-${runId}`;
  const feed = useFeed(`/ws/pipelines/${id}`, (m) => {
    if (m.stream?.id !== stream) return;
    if (m.type === "pipeline_node.token") {
      const { node, delta } = m.data ?? {};
      if (typeof node === "string" && typeof delta === "string") setTokens((t) => ({ ...t, [node]: (t[node] ?? "") + delta }));
      return;
    }
    if (m.type === "pipeline_node.started" && typeof m.data?.node === "string") {
      setTokens((t) => ({ ...t, [m.data.node]: "" })); // a new attempt streams anew
    }
    queryClient.invalidateQueries({ queryKey: ["pipeline-run", id, runId] });
  });

  const cancel = useMutation({
    mutationFn: () => pipelinesApi.cancelRun(id, runId),
    onSuccess: (r) => {
      queryClient.setQueryData(["pipeline-run", id, runId], (old: Run | undefined) => ({ ...r, nodes: r.nodes ?? old?.nodes }));
    },
  });

  if (run.isPending) return <Loading what="Loading run" />;
  if (run.isError) return <ErrorBox error={run.error} retry={() => run.refetch()} />;
  const r = run.data;
  const nodes = r.nodes ?? [];
  const spec = pipeline.data?.data.spec;

  return (
    <div className="space-y-4">
      <PageHeader title="Pipeline run">
        <LiveBadge state={feed} />
        <Link className="btn-secondary" to={`/pipelines/${id}`}>
          Back to {pipeline.data?.data.name ?? "pipeline"}
        </Link>
        {(r.status === "running" || r.status === "cancelling") && (
          <button className="btn-danger" onClick={() => cancel.mutate()} disabled={cancel.isPending || r.status === "cancelling"}>
            {r.status === "cancelling" ? "Cancelling…" : "Cancel"}
          </button>
        )}
      </PageHeader>
      {cancel.isError && <ErrorBox error={cancel.error} />}

      <div className="card grid gap-3 text-sm sm:grid-cols-2 lg:grid-cols-4">
        <div>
          <span className="label">Status</span>
          <span data-testid="run-status" data-status={r.status} className={`pill ${pillColour(r.status)}`}>
            {r.status}
          </span>
        </div>
        <div>
          <span className="label">Started</span>
          {when(r.started_at)}
        </div>
        <div>
          <span className="label">Duration</span>
          {r.duration_ms !== undefined ? fmtDuration(r.duration_ms) : "running…"}
        </div>
        <div>
          <span className="label">Pipeline version</span>v{r.pipeline_version}
        </div>
        {r.error && (
          <div className="sm:col-span-2 lg:col-span-4" data-testid="run-error">
            <span className="label">Error</span>
            <span className="text-rose-700">
              {r.error}
              {r.failed_node && (
                <>
                  {" "}
                  (node <span className="font-mono">{r.failed_node}</span>)
                </>
              )}
            </span>
          </div>
        )}
        {r.cancel_reason !== undefined && r.cancel_reason !== "" && (
          <div className="sm:col-span-2 lg:col-span-4">
            <span className="label">Cancel reason</span>
            {r.cancel_reason}
            {r.cancel_forced && " (forced)"}
          </div>
        )}
      </div>

      <div className="grid gap-4 md:grid-cols-2">
        <div className="card">
          <span className="label">Input</span>
          <pre data-testid="run-input" className="max-h-64 overflow-auto rounded bg-slate-50 p-2 text-xs">
            {pretty(r.input)}
          </pre>
        </div>
        <div className="card">
          <span className="label">Outputs</span>
          {r.outputs ? (
            <pre data-testid="run-outputs" className="max-h-64 overflow-auto rounded bg-slate-50 p-2 text-xs">
              {pretty(r.outputs)}
            </pre>
          ) : (
            <p className="text-sm text-slate-500">{runFinished(r.status) ? "None: the run did not complete." : "Once the run completes."}</p>
          )}
        </div>
      </div>

      <RunGraph nodes={nodes} spec={spec} specVersion={pipeline.data?.data.spec_version} runVersion={r.pipeline_version} tokens={tokens} />
      <NodeTable nodes={nodes} tokens={tokens} />
    </div>
  );
}

function pillColour(status: string): string {
  if (status === "completed") return "bg-emerald-100 text-emerald-800";
  if (status === "failed" || status === "timed_out" || status === "cancelled") return "bg-rose-100 text-rose-800";
  if (status === "running") return "bg-sky-100 text-sky-800";
  return "bg-amber-100 text-amber-800";
}

const live = (s: string) => s === "running" || s === "retrying";

// RunGraph draws the run's nodes with the edges of the pipeline; a run keeps no copy of its
// graph in the view, so the edges are those of the pipeline's current version (said so when
// that is not the version the run executed).
function RunGraph({
  nodes,
  spec,
  specVersion,
  runVersion,
  tokens,
}: {
  nodes: NodeRun[];
  spec?: PipelineSpec;
  specVersion?: number;
  runVersion: number;
  tokens: Record<string, string>;
}) {
  const { measured, track } = useMeasured();
  const graph = useMemo(() => {
    const ids = new Set(nodes.map((n) => n.node));
    const edges = (spec?.edges ?? []).filter((e) => ids.has(e.from) && ids.has(e.to));
    const s: PipelineSpec = { name: "", nodes: nodes.map((n) => ({ id: n.node, type: n.type, config: {} })), edges };
    return { spec: s, layout: layoutSpec(s) };
  }, [nodes, spec]);

  const flowNodes: GraphNode[] = nodes.map((n, i) => ({
    id: n.node,
    type: "pipeline",
    position: graph.layout[i],
    measured: measured[n.node],
    draggable: false,
    connectable: false,
    data: { id: n.node, type: n.type, status: n.status, attempts: n.attempts, tokens: live(n.status) ? tokens[n.node] : undefined, readOnly: true },
  }));
  const index = firstIndexById(graph.spec);
  const flowEdges: Edge[] = graph.spec.edges.flatMap((e, j) =>
    index.has(e.from) && index.has(e.to)
      ? [{ id: `e${j}`, source: e.from, target: e.to, label: e.condition || undefined, markerEnd: { type: MarkerType.ArrowClosed } }]
      : [],
  );

  if (nodes.length === 0) return <Empty>This run has no nodes.</Empty>;
  return (
    <div className="space-y-1">
      {spec && specVersion !== undefined && specVersion !== runVersion && (
        <p className="text-xs text-amber-700">
          Edges are drawn from version {specVersion} of the pipeline; this run executed version {runVersion}.
        </p>
      )}
      <div className="h-[320px] overflow-hidden rounded-lg border border-slate-200 bg-slate-50 md:h-[420px]" data-testid="run-graph">
        <ReactFlow
          nodes={flowNodes}
          edges={flowEdges}
          nodeTypes={nodeTypes}
          onNodesChange={track}
          nodesDraggable={false}
          nodesConnectable={false}
          elementsSelectable={false}
          fitView
          fitViewOptions={{ maxZoom: 1.2 }}
        >
          <Background />
          <Controls showInteractive={false} />
        </ReactFlow>
      </div>
      <div className="flex flex-wrap gap-2 text-xs">
        {Object.keys(statusColours).map((s) => (
          <span key={s} className={`rounded border-2 px-1.5 ${statusColours[s]}`}>
            {s}
          </span>
        ))}
      </div>
    </div>
  );
}

function NodeTable({ nodes, tokens }: { nodes: NodeRun[]; tokens: Record<string, string> }) {
  if (nodes.length === 0) return null;
  return (
    <div className="card overflow-x-auto p-0">
      <table className="table">
        <thead>
          <tr>
            <th>Node</th>
            <th>Status</th>
            <th>Attempts</th>
            <th>Duration</th>
            <th>Error</th>
            <th>Output</th>
            <th>History</th>
          </tr>
        </thead>
        <tbody>
          {nodes.map((n) => (
            <tr key={n.node} data-testid="run-node" data-node={n.node} data-status={n.status}>
              <td>
                <div className="font-mono font-medium">{n.node}</div>
                <div className="text-xs text-slate-500">{n.type}</div>
              </td>
              <td>
                <StatusPill status={n.status} />
                {n.skip_reason && <div className="mt-1 text-xs text-slate-500">{n.skip_reason}</div>}
              </td>
              <td>{n.attempts}</td>
              <td>{fmtDuration(n.duration_ms)}</td>
              <td className="max-w-xs break-words text-rose-700">{n.error}</td>
              <td className="max-w-md">
                {live(n.status) && tokens[n.node] && (
                  <div data-testid="run-node-tokens" className="mb-1 whitespace-pre-wrap break-words rounded bg-sky-50 p-1 text-xs">
                    {tokens[n.node]}
                  </div>
                )}
                {n.output !== undefined && n.output !== null ? (
                  <details>
                    <summary className="cursor-pointer text-xs text-indigo-700">output</summary>
                    <pre className="mt-1 max-h-64 overflow-auto rounded bg-slate-50 p-2 text-xs">{pretty(n.output)}</pre>
                  </details>
                ) : (
                  <span className="text-slate-400">—</span>
                )}
                {n.input !== undefined && n.input !== null && (
                  <details>
                    <summary className="cursor-pointer text-xs text-slate-600">input</summary>
                    <pre className="mt-1 max-h-64 overflow-auto rounded bg-slate-50 p-2 text-xs">{pretty(n.input)}</pre>
                  </details>
                )}
              </td>
              <td>
                {n.history && n.history.length > 0 ? (
                  <details>
                    <summary className="cursor-pointer text-xs text-indigo-700">
                      {n.history.length} attempt{n.history.length === 1 ? "" : "s"}
                    </summary>
                    <ol className="mt-1 space-y-1 text-xs">
                      {n.history.map((a) => (
                        <li key={a.attempt} data-testid="node-attempt">
                          #{a.attempt} {a.outcome} · {when(a.started_at)} · {fmtDuration(a.duration_ms)}
                          {a.error && <div className="text-rose-700">{a.error}</div>}
                          {a.will_retry && <div className="text-amber-700">retry after {fmtDuration(a.backoff_ms)}</div>}
                        </li>
                      ))}
                    </ol>
                  </details>
                ) : (
                  <span className="text-slate-400">—</span>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
