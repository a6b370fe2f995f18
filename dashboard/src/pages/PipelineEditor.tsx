import "@xyflow/react/dist/style.css";
import {
  Background,
  Controls,
  MarkerType,
  ReactFlow,
  type Connection,
  type Edge,
  type ReactFlowInstance,
  type EdgeChange,
  type NodeChange,
} from "@xyflow/react";
import { useInfiniteQuery, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useCallback, useMemo, useReducer, useRef, useState } from "react";
import { useNavigate, useParams } from "react-router-dom";
import { ApiError, type FieldError } from "../api/client";
import { pipelinesApi, specBody, type NodeType, type Pipeline, type PipelineSpec } from "../api/pipelines";
import { useFeed } from "../live/feed";
import { ErrorBox, LiveBadge, Loading, PageHeader } from "../components/ui";
import { draftReducer, loadDraft, shifts, type Draft, type DraftAction } from "./pipelines/draft";
import { parseJSON, pretty } from "./pipelines/format";
import { configTemplate, firstIndexById, mapFieldErrors, placeNew, uniqueNodeId, type XY } from "./pipelines/graph";
import { nodeTypes, useMeasured, type GraphNode } from "./pipelines/flow";
import { EdgeList, NodePanel, RunsTable, SettingsPanel } from "./pipelines/panels";

// The pipeline editor: the graph on a canvas (add, drag, connect, delete, edit), the whole spec
// as JSON, validation shown on the nodes at fault, save with If-Match, run, and the runs.

// The size of a node box (w-52, and about the height of one with a name), for visibility checks.
const NODE_WIDTH = 208;
const NODE_HEIGHT = 72;

type Selection = { kind: "node"; key: string } | { kind: "edge"; key: string } | null;

const sameSpec = (a: PipelineSpec, b: PipelineSpec) => JSON.stringify(specBody(a)) === JSON.stringify(specBody(b));

export default function PipelineEditor() {
  const { id = "" } = useParams();
  const q = useQuery({ queryKey: ["pipeline", id], queryFn: () => pipelinesApi.get(id) });
  const types = useQuery({ queryKey: ["pipeline-node-types"], queryFn: pipelinesApi.nodeTypes, staleTime: Infinity });

  if (q.isPending) return <Loading what="Loading pipeline" />;
  if (q.isError) return <ErrorBox error={q.error} retry={() => q.refetch()} />;
  return <Editor key={id} pipeline={q.data.data} etag={q.data.etag} nodeTypes={types.data?.items ?? []} typesError={types.error} />;
}

function Editor({ pipeline, etag: firstEtag, nodeTypes: types, typesError }: { pipeline: Pipeline; etag: string | null; nodeTypes: NodeType[]; typesError: unknown }) {
  const navigate = useNavigate();
  const queryClient = useQueryClient();
  const id = pipeline.id;
  const [draft, rawDispatch] = useReducer(draftReducer, pipeline.spec, loadDraft);
  const [saved, setSaved] = useState<PipelineSpec>(pipeline.spec);
  const [etag, setEtag] = useState(firstEtag);
  const [errors, setErrors] = useState<FieldError[]>([]);
  const [verdict, setVerdict] = useState<"valid" | "invalid" | null>(null);
  const [selection, setSelection] = useState<Selection>(null);
  const [tab, setTab] = useState<"graph" | "json">("graph");
  const [conflict, setConflict] = useState(false);
  const [notice, setNotice] = useState<string | null>(null);

  // Edits change nothing above the tabs, so that what is being clicked never moves away from
  // under the pointer when a text box loses focus (the JSON box applies itself then).
  const dispatch = useCallback((a: DraftAction) => {
    rawDispatch(a);
    if (a.type !== "move") setVerdict(null);
    if (shifts(a)) setErrors([]);
  }, []);

  const located = useMemo(() => mapFieldErrors(errors), [errors]);
  const dirty = !sameSpec(draft.spec, saved);

  const validate = useMutation({
    mutationFn: () => pipelinesApi.validate(draft.spec),
    onMutate: () => setNotice(null),
    onSuccess: (v) => {
      setErrors(v.errors);
      setVerdict(v.valid ? "valid" : "invalid");
    },
  });

  const save = useMutation({
    mutationFn: () => pipelinesApi.update(id, draft.spec, etag),
    onMutate: () => setNotice(null),
    onSuccess: (res) => {
      setEtag(res.etag);
      setSaved(res.data.spec);
      // The server stores the spec normalized (defaults filled in); show what it keeps.
      rawDispatch({ type: "replace", spec: res.data.spec });
      setErrors([]);
      setConflict(false);
      setNotice(`Saved as version ${res.data.spec_version}.`);
      queryClient.setQueryData(["pipeline", id], res);
      queryClient.invalidateQueries({ queryKey: ["pipelines"] });
    },
    onError: (e) => {
      if (e instanceof ApiError && e.status === 409) setConflict(true);
      if (e instanceof ApiError && e.fields.length > 0) {
        setErrors(e.fields);
        setVerdict("invalid");
      }
    },
  });

  const reload = async () => {
    const res = await queryClient.fetchQuery({ queryKey: ["pipeline", id], queryFn: () => pipelinesApi.get(id), staleTime: 0 });
    setEtag(res.etag);
    setSaved(res.data.spec);
    dispatch({ type: "load", spec: res.data.spec });
    setConflict(false);
    save.reset();
  };

  const [confirmDelete, setConfirmDelete] = useState(false);
  const remove = useMutation({
    mutationFn: () => pipelinesApi.remove(id, etag),
    onSuccess: () => {
      queryClient.invalidateQueries({ queryKey: ["pipelines"] });
      navigate("/pipelines");
    },
  });

  return (
    <div className="space-y-4">
      <PageHeader title={draft.spec.name || pipeline.name || "Pipeline"}>
        <span className="text-xs text-slate-500">
          version {pipeline.spec_version}
          {dirty && <span className="ml-1 text-amber-700">· unsaved changes</span>}
        </span>
        <button className="btn-secondary" onClick={() => validate.mutate()} disabled={validate.isPending}>
          {validate.isPending ? "Validating…" : "Validate"}
        </button>
        <button className="btn" onClick={() => save.mutate()} disabled={save.isPending}>
          {save.isPending ? "Saving…" : "Save"}
        </button>
        {confirmDelete ? (
          <>
            <button className="btn-danger" onClick={() => remove.mutate()} disabled={remove.isPending}>
              Confirm delete
            </button>
            <button className="btn-secondary" onClick={() => setConfirmDelete(false)}>
              Keep
            </button>
          </>
        ) : (
          <button className="btn-secondary" onClick={() => setConfirmDelete(true)}>
            Delete
          </button>
        )}
      </PageHeader>

      {conflict && (
        <div role="alert" data-testid="save-conflict" className="rounded-md border border-amber-300 bg-amber-50 p-3 text-sm text-amber-900">
          <div className="font-medium">Conflict (409): this pipeline was changed elsewhere since you opened it.</div>
          <div className="mt-1">Saving again needs the latest version. Reloading replaces your draft with it.</div>
          <button className="btn-secondary mt-2" onClick={reload}>
            Reload latest
          </button>
        </div>
      )}
      {save.isError && !conflict && !(save.error instanceof ApiError && save.error.fields.length > 0) && <ErrorBox error={save.error} />}
      {validate.isError && <ErrorBox error={validate.error} />}
      {remove.isError && <ErrorBox error={remove.error} />}
      {notice && (
        <div role="status" className="rounded-md border border-emerald-200 bg-emerald-50 p-2 text-sm text-emerald-800">
          {notice}
        </div>
      )}

      <div role="tablist" className="flex gap-1 border-b border-slate-200">
        {(["graph", "json"] as const).map((t) => (
          <button
            key={t}
            role="tab"
            aria-selected={tab === t}
            className={`-mb-px border-b-2 px-3 py-1.5 text-sm ${tab === t ? "border-indigo-600 font-medium text-indigo-700" : "border-transparent text-slate-600"}`}
            onClick={() => setTab(t)}
          >
            {t === "graph" ? "Graph" : "JSON"}
          </button>
        ))}
      </div>

      {tab === "graph" && <Verdict verdict={verdict} errors={errors} graph={located.graph} />}

      {tab === "graph" ? (
        <GraphTab
          draft={draft}
          dispatch={dispatch}
          types={types}
          typesError={typesError}
          located={located}
          errors={errors}
          selection={selection}
          setSelection={setSelection}
        />
      ) : (
        <JsonTab
          spec={draft.spec}
          errors={errors}
          verdict={verdict}
          onApply={(spec, done) => {
            dispatch({ type: "replace", spec });
            if (done) setTab("graph");
          }}
        />
      )}

      <RunBox pipelineId={id} dirty={dirty} />
      <Runs pipelineId={id} />
    </div>
  );
}

// Verdict is the outcome of the last validation or save: a line of fixed height (so the canvas
// below does not jump as it changes) and the errors of the pipeline as a whole.
function Verdict({ verdict, errors, graph }: { verdict: "valid" | "invalid" | null; errors: FieldError[]; graph: FieldError[] }) {
  return (
    <>
      <div className="min-h-6 text-sm">
        {verdict === "valid" && (
          <span role="status" data-testid="validation-ok" className="text-emerald-700">
            ✓ The pipeline is valid.
          </span>
        )}
        {verdict === "invalid" && (
          <span data-testid="validation-summary" className="text-rose-700">
            {errors.length === 1 ? "1 problem" : `${errors.length} problems`}: see the nodes and edges marked in red
            {graph.length > 0 ? " and the list below" : ""}.
          </span>
        )}
      </div>
      {graph.length > 0 && (
        <ul data-testid="graph-errors" role="alert" className="list-disc rounded-md border border-rose-200 bg-rose-50 p-3 pl-8 text-sm text-rose-800">
          {graph.map((e) => (
            <li key={e.field + e.message} data-field-error={e.field}>
              <code>{e.field}</code>: {e.message}
            </li>
          ))}
        </ul>
      )}
    </>
  );
}

function GraphTab({
  draft,
  dispatch,
  types,
  typesError,
  located,
  errors,
  selection,
  setSelection,
}: {
  draft: Draft;
  dispatch: (a: DraftAction) => void;
  types: NodeType[];
  typesError: unknown;
  located: ReturnType<typeof mapFieldErrors>;
  errors: FieldError[];
  selection: Selection;
  setSelection: (s: Selection) => void;
}) {
  const { spec, keys, edgeKeys, pos } = draft;
  const { measured, track } = useMeasured();
  const flow = useRef<ReactFlowInstance<GraphNode, Edge> | null>(null);
  const canvas = useRef<HTMLDivElement>(null);
  // Refit the view, at once and without animation so nothing moves under a pointer for long.
  const refit = () => setTimeout(() => flow.current?.fitView({ maxZoom: 1.2 }), 0);
  // A new node is shown where it lands when that is in view, else the view is refitted.
  const revealAt = (p: XY) => {
    const f = flow.current;
    const box = canvas.current?.getBoundingClientRect();
    if (!f || !box) return;
    const { x, y, zoom } = f.getViewport();
    const left = p.x * zoom + x;
    const top = p.y * zoom + y;
    if (left < 0 || top < 0 || left + NODE_WIDTH * zoom > box.width || top + NODE_HEIGHT * zoom > box.height) refit();
  };
  const [newType, setNewType] = useState("");
  const chosenType = newType || types.find((t) => t.type === "agent")?.type || types[0]?.type || "";
  const schemaOf = (t: string) => types.find((x) => x.type === t)?.config_schema;

  const nodes: GraphNode[] = useMemo(
    () =>
      spec.nodes.map((n, i) => ({
        id: keys[i],
        type: "pipeline" as const,
        position: pos[keys[i]] ?? { x: 0, y: 0 },
        measured: measured[keys[i]],
        selected: selection?.kind === "node" && selection.key === keys[i],
        data: { id: n.id, type: n.type, name: n.name, errors: located.nodes.get(i) },
      })),
    [spec.nodes, keys, pos, measured, selection, located],
  );

  const edges: Edge[] = useMemo(() => {
    const index = firstIndexById(spec);
    return spec.edges.flatMap((e, j) => {
      const a = index.get(e.from);
      const b = index.get(e.to);
      if (a === undefined || b === undefined) return [];
      const bad = located.edges.has(j);
      return [
        {
          id: edgeKeys[j],
          source: keys[a],
          target: keys[b],
          label: bad ? `⚠ ${e.condition || "invalid"}` : e.condition || undefined,
          selected: selection?.kind === "edge" && selection.key === edgeKeys[j],
          markerEnd: { type: MarkerType.ArrowClosed, color: bad ? "#e11d48" : "#64748b" },
          style: bad ? { stroke: "#e11d48", strokeWidth: 2 } : { strokeWidth: 1.5 },
          labelStyle: bad ? { fill: "#be123c" } : undefined,
        },
      ];
    });
  }, [spec, keys, edgeKeys, located, selection]);

  const onNodesChange = useCallback(
    (changes: NodeChange<GraphNode>[]) => {
      track(changes);
      const removed: string[] = [];
      for (const c of changes) {
        if (c.type === "position" && c.position) dispatch({ type: "move", key: c.id, pos: c.position });
        if (c.type === "remove") removed.push(c.id);
      }
      if (removed.length) {
        dispatch({ type: "removeNodes", keys: removed });
        setSelection(null);
      }
    },
    [dispatch, track, setSelection],
  );

  const onEdgesChange = useCallback(
    (changes: EdgeChange[]) => {
      const removed = changes.flatMap((c) => (c.type === "remove" ? [c.id] : []));
      if (removed.length) dispatch({ type: "removeEdges", keys: removed });
    },
    [dispatch],
  );

  const onConnect = useCallback(
    (c: Connection) => {
      const from = spec.nodes[keys.indexOf(c.source)]?.id;
      const to = spec.nodes[keys.indexOf(c.target)]?.id;
      if (from !== undefined && to !== undefined) dispatch({ type: "addEdge", edge: { from, to } });
    },
    [spec.nodes, keys, dispatch],
  );

  const addNode = () => {
    if (!chosenType) return;
    const nid = uniqueNodeId(spec, chosenType);
    dispatch({ type: "addNode", node: { id: nid, type: chosenType, config: configTemplate(schemaOf(chosenType)) } });
    revealAt(placeNew(keys.map((k) => pos[k]).filter(Boolean)));
  };

  const selectedIndex = selection?.kind === "node" ? keys.indexOf(selection.key) : -1;
  const selectedEdge = selection?.kind === "edge" ? edgeKeys.indexOf(selection.key) : -1;

  return (
    <div className="space-y-4">
      <div className="flex flex-wrap items-end gap-2">
        <label className="block">
          <span className="label">Node type</span>
          <select className="input" name="node_type" value={chosenType} onChange={(e) => setNewType(e.target.value)} disabled={types.length === 0}>
            {types.map((t) => (
              <option key={t.type} value={t.type}>
                {t.type}
              </option>
            ))}
          </select>
        </label>
        <button className="btn-secondary" onClick={addNode} disabled={!chosenType}>
          Add node
        </button>
        <button
          className="btn-secondary"
          title="Arrange left to right by depth"
          onClick={() => {
            dispatch({ type: "relayout" });
            refit();
          }}
        >
          Auto-layout
        </button>
        {typesError != null && <span className="text-xs text-rose-600">Node types could not be loaded: {(typesError as Error).message}</span>}
      </div>
      <div className="grid gap-4 lg:grid-cols-[minmax(0,1fr)_22rem]">
        <div ref={canvas} className="h-[360px] overflow-hidden rounded-lg border border-slate-200 bg-slate-50 md:h-[520px]" data-testid="pipeline-canvas">
          <ReactFlow
            nodes={nodes}
            edges={edges}
            nodeTypes={nodeTypes}
            onNodesChange={onNodesChange}
            onEdgesChange={onEdgesChange}
            onConnect={onConnect}
            onNodeClick={(_, n) => setSelection({ kind: "node", key: n.id })}
            onEdgeClick={(_, e) => setSelection({ kind: "edge", key: e.id })}
            onPaneClick={() => setSelection(null)}
            onInit={(i) => (flow.current = i)}
            deleteKeyCode={["Backspace", "Delete"]}
            fitView
            fitViewOptions={{ maxZoom: 1.2 }}
          >
            <Background />
            <Controls showInteractive={false} />
          </ReactFlow>
        </div>
        <aside className="card">
          {selectedIndex >= 0 ? (
            <NodePanel
              key={selection!.key}
              index={selectedIndex}
              node={spec.nodes[selectedIndex]}
              schema={schemaOf(spec.nodes[selectedIndex].type)}
              errors={located.nodes.get(selectedIndex) ?? []}
              dispatch={dispatch}
              onDelete={() => {
                dispatch({ type: "removeNodes", keys: [keys[selectedIndex]] });
                setSelection(null);
              }}
            />
          ) : (
            <SettingsPanel spec={spec} errors={errors} dispatch={dispatch} />
          )}
        </aside>
      </div>
      <EdgeList
        edges={spec.edges}
        nodeIds={spec.nodes.map((n) => n.id)}
        errors={located.edges}
        selected={selectedEdge >= 0 ? selectedEdge : null}
        onSelect={(j) => setSelection({ kind: "edge", key: edgeKeys[j] })}
        dispatch={dispatch}
        onDelete={(j) => dispatch({ type: "removeEdges", keys: [edgeKeys[j]] })}
      />
    </div>
  );
}

function JsonTab({
  spec,
  errors,
  verdict,
  onApply,
}: {
  spec: PipelineSpec;
  errors: FieldError[];
  verdict: "valid" | "invalid" | null;
  onApply: (s: PipelineSpec, done: boolean) => void;
}) {
  const [text, setText] = useState(() => pretty(specBody(spec)));
  const [error, setError] = useState<string | null>(null);
  const applied = useRef(text);

  const apply = (done: boolean) => {
    if (text === applied.current && !done) return;
    const r = parseJSON(text);
    if (r.error) return setError(r.error);
    const v = r.value as PipelineSpec | null;
    if (!v || typeof v !== "object" || Array.isArray(v) || !Array.isArray(v.nodes ?? []) || !Array.isArray(v.edges ?? [])) {
      return setError("the spec must be an object with nodes and edges arrays");
    }
    setError(null);
    applied.current = text;
    onApply({ ...v, name: v.name ?? "", nodes: v.nodes ?? [], edges: v.edges ?? [] }, done);
  };

  // The button and the message sit above the box, and the errors below it: applying on blur
  // then moves nothing the pointer may be about to release on.
  return (
    <div className="space-y-2">
      <div className="flex flex-wrap items-center gap-2">
        <button className="btn-secondary" onClick={() => apply(true)}>
          Apply JSON
        </button>
        <span className="text-xs text-slate-500">The whole spec; edits apply to the graph when you leave the box or press Apply JSON.</span>
        {error && (
          <span className="text-xs text-rose-600" data-testid="json-error">
            {error}
          </span>
        )}
      </div>
      <textarea
        className={`input font-mono text-xs ${error ? "input-error" : ""}`}
        name="spec-json"
        aria-label="Pipeline spec as JSON"
        rows={24}
        spellCheck={false}
        value={text}
        onChange={(e) => setText(e.target.value)}
        onBlur={() => apply(false)}
      />
      {verdict === "valid" && <div className="text-sm text-emerald-700">✓ The pipeline is valid.</div>}
      {errors.length > 0 && (
        <ul className="list-disc pl-5 text-xs text-rose-700" data-testid="json-field-errors">
          {errors.map((e) => (
            <li key={e.field + e.message}>
              <code>{e.field}</code>: {e.message}
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}

function RunBox({ pipelineId, dirty }: { pipelineId: string; dirty: boolean }) {
  const navigate = useNavigate();
  const queryClient = useQueryClient();
  const [input, setInput] = useState("{}");
  const [parseError, setParseError] = useState<string | null>(null);
  const run = useMutation({
    mutationFn: (value: unknown) => pipelinesApi.startRun(pipelineId, value),
    onSuccess: (r) => {
      queryClient.invalidateQueries({ queryKey: ["pipeline-runs", pipelineId] });
      navigate(`/pipelines/${pipelineId}/runs/${r.id}`);
    },
  });
  const apiErr = run.error instanceof ApiError ? run.error : null;
  const start = () => {
    const r = parseJSON(input, {});
    setParseError(r.error ?? null);
    if (!r.error) run.mutate(r.value);
  };
  return (
    <div className="card space-y-2">
      <h2 className="font-semibold">Run</h2>
      <label className="block">
        <span className="label">Input (JSON)</span>
        <textarea className="input font-mono text-xs" name="input" rows={3} spellCheck={false} value={input} onChange={(e) => setInput(e.target.value)} />
        {(parseError || apiErr?.fieldMessage("input")) && (
          <span className="mt-1 block text-xs text-rose-600" data-field-error="input">
            {parseError ?? apiErr?.fieldMessage("input")}
          </span>
        )}
      </label>
      {dirty && <p className="text-xs text-amber-700">A run uses the saved version; your unsaved changes are not part of it.</p>}
      {run.isError && !apiErr?.fieldMessage("input") && <ErrorBox error={run.error} />}
      <button className="btn" onClick={start} disabled={run.isPending}>
        {run.isPending ? "Starting…" : "Run"}
      </button>
    </div>
  );
}

function Runs({ pipelineId }: { pipelineId: string }) {
  const queryClient = useQueryClient();
  const runs = useInfiniteQuery({
    queryKey: ["pipeline-runs", pipelineId],
    queryFn: ({ pageParam }) => pipelinesApi.runs(pipelineId, pageParam || undefined),
    initialPageParam: "",
    getNextPageParam: (p) => p.next_cursor,
  });
  const feed = useFeed(`/ws/pipelines/${pipelineId}`, (m) => {
    if (m.type.startsWith("pipeline_run.")) queryClient.invalidateQueries({ queryKey: ["pipeline-runs", pipelineId] });
  });
  return (
    <div className="space-y-1">
      <div className="flex justify-end">
        <LiveBadge state={feed} />
      </div>
      <RunsTable
        pipelineId={pipelineId}
        runs={runs.data?.pages.flatMap((p) => p.items) ?? []}
        loading={runs.isPending}
        error={runs.error}
        retry={() => runs.refetch()}
        more={runs.hasNextPage ? { load: () => runs.fetchNextPage(), busy: runs.isFetchingNextPage } : undefined}
      />
    </div>
  );
}
