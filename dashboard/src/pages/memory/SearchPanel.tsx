import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import {
  forgetMemory,
  formatScore,
  memoryKeys,
  SCOPES,
  searchMemory,
  sourceOf,
  type Hit,
  type MemoryKind,
  type Scope,
  type SearchAnswer,
  type SearchInput,
  type SearchMode,
} from "../../api/memory";
import { Empty, ErrorBox, Field, when } from "../../components/ui";
import { asApiError, FormError, useAgents } from "./shared";

const FIELDS = ["query", "mode", "agent_id", "kinds", "scopes", "limit", "text", "threshold"];

// Recall by meaning, by words or both, over what the caller (or one of its agents) may see.
export function SearchPanel() {
  const [query, setQuery] = useState("");
  const [mode, setMode] = useState<SearchMode>("hybrid");
  const [agent, setAgent] = useState("");
  const [kind, setKind] = useState<"" | MemoryKind>("");
  const [scope, setScope] = useState<"" | Scope>("");
  const [limit, setLimit] = useState("10");
  const agents = useAgents();
  const search = useMutation<SearchAnswer, Error, SearchInput>({ mutationFn: searchMemory });
  const err = asApiError(search.error);

  const submit = (e: FormEvent) => {
    e.preventDefault();
    search.mutate({
      query,
      mode,
      agent_id: agent || undefined,
      kinds: kind ? [kind] : undefined,
      scopes: scope ? [scope] : undefined,
      limit: limit ? Number(limit) : undefined,
    });
  };

  return (
    <section className="card space-y-3" aria-label="Search memory">
      <h2 className="font-semibold">Recall</h2>
      <form onSubmit={submit} className="space-y-3" role="search" noValidate>
        <Field label="Query" name="query" error={err}>
          <input
            className={`input ${err?.fieldMessage("query") || err?.fieldMessage("text") ? "input-error" : ""}`}
            name="query"
            type="search"
            value={query}
            onChange={(e) => setQuery(e.target.value)}
            placeholder="What do we know about…"
          />
        </Field>
        {err?.fieldMessage("text") && !err.fieldMessage("query") && (
          <span className="block text-xs text-rose-600" data-field-error="query">
            {err.fieldMessage("text")}
          </span>
        )}
        <div className="grid gap-3 sm:grid-cols-2">
          <Field label="Mode" name="mode" error={err}>
            <select className="input" name="mode" value={mode} onChange={(e) => setMode(e.target.value as SearchMode)}>
              <option value="hybrid">hybrid (meaning + words)</option>
              <option value="vector">vector (meaning)</option>
              <option value="text">text (words)</option>
            </select>
          </Field>
          <Field label="Recall as" name="agent_id" error={err}>
            <select className={`input ${err?.fieldMessage("agent_id") ? "input-error" : ""}`} name="agent_id" value={agent} onChange={(e) => setAgent(e.target.value)}>
              <option value="">me (everything I own)</option>
              {agents.data?.map((a) => (
                <option key={a.id} value={a.id}>
                  {a.name}
                </option>
              ))}
            </select>
          </Field>
          <Field label="Kind" name="kinds" error={err}>
            <select className="input" name="kinds" value={kind} onChange={(e) => setKind(e.target.value as "" | MemoryKind)}>
              <option value="">memories and knowledge</option>
              <option value="memory">memories</option>
              <option value="knowledge">knowledge</option>
            </select>
          </Field>
          <Field label="Scope" name="scopes" error={err}>
            <select className="input" name="scopes" value={scope} onChange={(e) => setScope(e.target.value as "" | Scope)}>
              <option value="">any scope</option>
              {SCOPES.map((s) => (
                <option key={s} value={s}>
                  {s}
                </option>
              ))}
            </select>
          </Field>
          <Field label="Results" name="limit" error={err}>
            <input
              className={`input ${err?.fieldMessage("limit") ? "input-error" : ""}`}
              name="limit"
              type="number"
              min={1}
              max={100}
              value={limit}
              onChange={(e) => setLimit(e.target.value)}
            />
          </Field>
        </div>
        <button type="submit" className="btn" disabled={search.isPending}>
          {search.isPending ? "Searching…" : "Search"}
        </button>
        {agents.isError && <ErrorBox error={agents.error} retry={() => agents.refetch()} />}
        <FormError error={search.error} fields={FIELDS} />
      </form>
      {search.data && <Results answer={search.data} />}
    </section>
  );
}

function Results({ answer }: { answer: SearchAnswer }) {
  const [forgotten, setForgotten] = useState<Set<string>>(new Set());
  const qc = useQueryClient();
  const forget = useMutation({
    mutationFn: forgetMemory,
    onSuccess: (_, id) => {
      setForgotten((s) => new Set(s).add(id));
      qc.invalidateQueries({ queryKey: memoryKeys.stats });
    },
  });
  const hits = answer.items.filter((h) => !forgotten.has(h.id));
  return (
    <div className="space-y-2" aria-live="polite">
      <div className="text-xs text-slate-500">
        {hits.length} {hits.length === 1 ? "result" : "results"} · {answer.mode} · {answer.path}
        {answer.mode !== "text" && answer.model && <> · {answer.model}</>}
      </div>
      {forget.isError && <ErrorBox error={forget.error} />}
      {hits.length === 0 ? (
        <Empty>
          Nothing found.{" "}
          {answer.mode === "text" ? "In text mode every word must appear: try fewer words, or the hybrid mode." : "Try other words or a wider scope."}
        </Empty>
      ) : (
        <ol className="space-y-2">
          {hits.map((h) => (
            <Result key={h.id} hit={h} onForget={() => forget.mutate(h.id)} forgetting={forget.isPending && forget.variables === h.id} />
          ))}
        </ol>
      )}
    </div>
  );
}

function Result({ hit, onForget, forgetting }: { hit: Hit; onForget: () => void; forgetting: boolean }) {
  return (
    <li className="rounded-md border border-slate-200 p-3" data-testid="memory-result" data-kind={hit.kind} data-id={hit.id}>
      <div className="mb-1 flex flex-wrap items-center gap-2 text-xs">
        <span className={`pill ${hit.kind === "knowledge" ? "bg-sky-100 text-sky-800" : "bg-violet-100 text-violet-800"}`}>{hit.kind}</span>
        <span className="min-w-0 break-all text-slate-600" data-testid="memory-source">
          {sourceOf(hit)}
        </span>
        <span className="ml-auto tabular-nums text-slate-500">
          score <span className="font-mono text-slate-900" data-testid="memory-score">{formatScore(hit.score)}</span>
        </span>
      </div>
      <p className="max-h-48 overflow-auto whitespace-pre-wrap break-words text-sm">{hit.content}</p>
      <div className="mt-2 flex flex-wrap items-center gap-1 text-xs text-slate-500">
        {hit.tags.map((t) => (
          <span key={t} className="pill bg-slate-100 text-slate-700">
            #{t}
          </span>
        ))}
        {hit.similarity !== undefined && <span>similarity {formatScore(hit.similarity)}</span>}
        {hit.text_rank !== undefined && <span>text rank {formatScore(hit.text_rank)}</span>}
        {!hit.embedding_model && <span className="text-amber-700">not embedded yet</span>}
        <span>{when(hit.created_at)}</span>
        {hit.kind === "memory" && (
          <button type="button" className="ml-auto text-rose-700 hover:underline disabled:opacity-50" onClick={onForget} disabled={forgetting}>
            {forgetting ? "Forgetting…" : "Forget"}
          </button>
        )}
      </div>
    </li>
  );
}
