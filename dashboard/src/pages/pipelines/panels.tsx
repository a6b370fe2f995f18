import { useState } from "react";
import { Link } from "react-router-dom";
import { ApiError, type FieldError } from "../../api/client";
import type { PipelineEdge, PipelineNode, PipelineRun, PipelineSpec } from "../../api/pipelines";
import { Empty, ErrorBox, Field, Loading, StatusPill, when } from "../../components/ui";
import type { DraftAction } from "./draft";
import { fmtDuration, parseJSON, pretty } from "./format";
import type { LocatedError } from "./graph";

// The pieces around the editor's canvas: the selected node's form, the pipeline's settings,
// the edges with their conditions, and the runs.

// fieldsOf turns located errors back into an ApiError, so that Field shows them at their inputs.
const fieldsOf = (errors: FieldError[]) => new ApiError(422, { error: { message: "invalid", fields: errors } });

function FieldErrors({ errors, name }: { errors: LocatedError[]; name: string }) {
  if (errors.length === 0) return null;
  return (
    <div className="mt-1 space-y-0.5 text-xs text-rose-600" data-field-error={name}>
      {errors.map((e) => (
        <div key={e.field + e.message} data-field-error={e.field}>
          {e.field === name ? e.message : `${e.field.slice(name.length).replace(/^\./, "")}: ${e.message}`}
        </div>
      ))}
    </div>
  );
}

function numberOrZero(v: string): number {
  const n = Number(v);
  return v.trim() === "" || !isFinite(n) ? 0 : n;
}

export function NodePanel({
  index,
  node,
  schema,
  errors,
  dispatch,
  onDelete,
}: {
  index: number;
  node: PipelineNode;
  schema: unknown;
  errors: LocatedError[];
  dispatch: (a: DraftAction) => void;
  onDelete: () => void;
}) {
  const [configText, setConfigText] = useState(() => pretty(node.config ?? {}));
  const [configError, setConfigError] = useState<string | null>(null);
  const base = `nodes[${index}]`;
  const apiErr = fieldsOf(errors);
  const configErrors = errors.filter((e) => e.path === "config" || e.path.startsWith("config.") || e.path.startsWith("config["));
  const nodeErrors = errors.filter((e) => e.path === "");
  const update = (patch: Partial<PipelineNode>) => dispatch({ type: "updateNode", index, patch });
  const setRetry = (k: string, v: string) => update({ retry: { ...(node.retry ?? {}), [k]: numberOrZero(v) } });
  const setBreaker = (k: string, v: string) => update({ breaker: { ...(node.breaker ?? {}), [k]: numberOrZero(v) } });

  return (
    <div className="space-y-3" aria-label={`Node ${node.id}`} data-testid="node-panel">
      <div className="flex items-center justify-between gap-2">
        <h2 className="font-semibold">
          Node <span className="font-mono">{node.id || "(no id)"}</span>
        </h2>
        <span className="pill bg-slate-100 text-slate-700">{node.type}</span>
      </div>
      {nodeErrors.length > 0 && <FieldErrors errors={nodeErrors} name={base} />}
      <Field label="Id" name={`${base}.id`} error={apiErr}>
        <input className="input font-mono" name="node_id" value={node.id} onChange={(e) => update({ id: e.target.value })} />
      </Field>
      <Field label="Name" name={`${base}.name`} error={apiErr}>
        <input className="input" name="node_name" value={node.name ?? ""} onChange={(e) => update({ name: e.target.value })} />
      </Field>
      <label className="block">
        <span className="label">Config (JSON)</span>
        <textarea
          className={`input font-mono text-xs ${configError || configErrors.length ? "input-error" : ""}`}
          name="node_config"
          rows={8}
          spellCheck={false}
          value={configText}
          onChange={(e) => {
            setConfigText(e.target.value);
            const r = parseJSON(e.target.value, {});
            setConfigError(r.error ?? null);
            if (!r.error) update({ config: r.value });
          }}
        />
        {configError && <span className="mt-1 block text-xs text-rose-600">{configError}</span>}
        <FieldErrors errors={configErrors} name={`${base}.config`} />
      </label>
      <details className="text-xs">
        <summary className="cursor-pointer text-slate-600">Config schema of {node.type}</summary>
        <pre data-testid="config-schema" className="mt-1 max-h-64 overflow-auto rounded bg-slate-50 p-2">
          {schema ? pretty(schema) : "unknown node type"}
        </pre>
      </details>
      <fieldset className="space-y-2">
        <legend className="label">Retry</legend>
        <div className="grid grid-cols-2 gap-2">
          {(["max_attempts", "initial_backoff_ms", "max_backoff_ms", "multiplier"] as const).map((k) => (
            <Field key={k} label={k.replace(/_/g, " ")} name={`${base}.retry.${k}`} error={apiErr}>
              <input
                className="input"
                type="number"
                step={k === "multiplier" ? "0.1" : "1"}
                name={`retry.${k}`}
                value={node.retry?.[k] ?? ""}
                placeholder="default"
                onChange={(e) => setRetry(k, e.target.value)}
              />
            </Field>
          ))}
        </div>
      </fieldset>
      <fieldset className="space-y-2">
        <legend className="label">Circuit breaker</legend>
        <div className="grid grid-cols-2 gap-2">
          {(["failure_threshold", "recovery_sec"] as const).map((k) => (
            <Field key={k} label={k.replace(/_/g, " ")} name={`${base}.breaker.${k}`} error={apiErr}>
              <input
                className="input"
                type="number"
                name={`breaker.${k}`}
                value={node.breaker?.[k] ?? ""}
                placeholder="default"
                onChange={(e) => setBreaker(k, e.target.value)}
              />
            </Field>
          ))}
        </div>
      </fieldset>
      <button className="btn-danger" onClick={onDelete}>
        Delete node
      </button>
    </div>
  );
}

export function SettingsPanel({ spec, errors, dispatch }: { spec: PipelineSpec; errors: FieldError[]; dispatch: (a: DraftAction) => void }) {
  const apiErr = fieldsOf(errors);
  const num = (v: string) => numberOrZero(v);
  return (
    <div className="space-y-3" data-testid="pipeline-settings">
      <h2 className="font-semibold">Pipeline</h2>
      <p className="text-xs text-slate-500">Select a node to edit it. Drag from a node's right handle to another node to connect them.</p>
      <Field label="Name" name="name" error={apiErr}>
        <input className="input" name="pipeline_name" value={spec.name} onChange={(e) => dispatch({ type: "meta", patch: { name: e.target.value } })} />
      </Field>
      <Field label="Description" name="description" error={apiErr}>
        <textarea
          className="input"
          name="pipeline_description"
          rows={2}
          value={spec.description ?? ""}
          onChange={(e) => dispatch({ type: "meta", patch: { description: e.target.value } })}
        />
      </Field>
      <div className="grid grid-cols-2 gap-2">
        <Field label="Timeout (s)" name="timeout_sec" error={apiErr}>
          <input
            className="input"
            type="number"
            name="timeout_sec"
            value={spec.timeout_sec || ""}
            placeholder="3600"
            onChange={(e) => dispatch({ type: "meta", patch: { timeout_sec: num(e.target.value) } })}
          />
        </Field>
        <Field label="Cancel grace (s)" name="cancel_grace_sec" error={apiErr}>
          <input
            className="input"
            type="number"
            name="cancel_grace_sec"
            value={spec.cancel_grace_sec || ""}
            placeholder="30"
            onChange={(e) => dispatch({ type: "meta", patch: { cancel_grace_sec: num(e.target.value) } })}
          />
        </Field>
      </div>
    </div>
  );
}

export function EdgeList({
  edges,
  nodeIds,
  errors,
  selected,
  onSelect,
  dispatch,
  onDelete,
}: {
  edges: PipelineEdge[];
  nodeIds: string[];
  errors: Map<number, LocatedError[]>;
  selected: number | null;
  onSelect: (j: number) => void;
  dispatch: (a: DraftAction) => void;
  onDelete: (j: number) => void;
}) {
  return (
    <div className="card" data-testid="edge-list">
      <h2 className="mb-2 font-semibold">Edges</h2>
      {edges.length === 0 ? (
        <Empty>No edges yet: drag from a node's right handle to another node.</Empty>
      ) : (
        <div className="overflow-x-auto">
          <table className="table">
            <thead>
              <tr>
                <th>From</th>
                <th>To</th>
                <th>Condition (over the source's output)</th>
                <th />
              </tr>
            </thead>
            <tbody>
              {edges.map((e, j) => {
                const errs = errors.get(j) ?? [];
                return (
                  <tr
                    key={j}
                    data-testid="edge-row"
                    data-edge={j}
                    className={`${selected === j ? "bg-indigo-50" : ""} ${errs.length ? "bg-rose-50" : ""}`}
                    onClick={() => onSelect(j)}
                  >
                    <td className="font-mono">
                      {e.from}
                      {!nodeIds.includes(e.from) && <span className="ml-1 text-rose-600">(missing)</span>}
                    </td>
                    <td className="font-mono">
                      {e.to}
                      {!nodeIds.includes(e.to) && <span className="ml-1 text-rose-600">(missing)</span>}
                    </td>
                    <td className="min-w-48">
                      <input
                        className={`input font-mono text-xs ${errs.length ? "input-error" : ""}`}
                        name={`edges[${j}].condition`}
                        aria-label={`Condition of ${e.from} → ${e.to}`}
                        placeholder="always"
                        value={e.condition ?? ""}
                        onChange={(ev) => dispatch({ type: "updateEdge", index: j, patch: { condition: ev.target.value } })}
                      />
                      {errs.length > 0 && (
                        <ul data-testid="edge-error" className="mt-1 text-xs text-rose-600">
                          {errs.map((x) => (
                            <li key={x.field + x.message} data-field-error={x.field}>
                              {x.path ? `${x.path}: ` : ""}
                              {x.message}
                            </li>
                          ))}
                        </ul>
                      )}
                    </td>
                    <td>
                      <button className="btn-secondary" aria-label={`Delete edge ${e.from} → ${e.to}`} onClick={() => onDelete(j)}>
                        ✕
                      </button>
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
    </div>
  );
}

export function RunsTable({
  pipelineId,
  runs,
  loading,
  error,
  retry,
  more,
}: {
  pipelineId: string;
  runs: PipelineRun[];
  loading: boolean;
  error: unknown;
  retry: () => void;
  more?: { load: () => void; busy: boolean };
}) {
  return (
    <div className="card" data-testid="pipeline-runs">
      <h2 className="mb-2 font-semibold">Runs</h2>
      {loading ? (
        <Loading what="Loading runs" />
      ) : error ? (
        <ErrorBox error={error} retry={retry} />
      ) : runs.length === 0 ? (
        <Empty>No runs yet. Save, then Run to start one.</Empty>
      ) : (
        <div className="overflow-x-auto">
          <table className="table">
            <thead>
              <tr>
                <th>Status</th>
                <th>Started</th>
                <th>Duration</th>
                <th>Version</th>
              </tr>
            </thead>
            <tbody>
              {runs.map((r) => (
                <tr key={r.id} data-testid="pipeline-run-row" data-run={r.id}>
                  <td>
                    <StatusPill status={r.status} />
                  </td>
                  <td>
                    <Link className="text-indigo-700 hover:underline" to={`/pipelines/${pipelineId}/runs/${r.id}`}>
                      {when(r.started_at)}
                    </Link>
                  </td>
                  <td>{r.duration_ms !== undefined ? fmtDuration(r.duration_ms) : r.status === "running" ? "running…" : "—"}</td>
                  <td>v{r.pipeline_version}</td>
                </tr>
              ))}
            </tbody>
          </table>
          {more && (
            <button className="btn-secondary mt-2" disabled={more.busy} onClick={more.load}>
              {more.busy ? "Loading…" : "Load more"}
            </button>
          )}
        </div>
      )}
    </div>
  );
}
