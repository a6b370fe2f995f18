import type { UseQueryResult } from "@tanstack/react-query";
import { summarize, type MemoryStats } from "../../api/memory";
import { ErrorBox, Loading } from "../../components/ui";

// What the memory holds, by kind and embedding model, and how the search runs.
export function StatsBar({ stats }: { stats: UseQueryResult<MemoryStats> }) {
  if (stats.isPending)
    return (
      <div className="card">
        <Loading what="Counting memories" />
      </div>
    );
  if (stats.isError) return <ErrorBox error={stats.error} retry={() => stats.refetch()} />;
  const s = stats.data;
  const kinds = summarize(s.counts);
  const find = (k: string) => kinds.find((x) => x.kind === k) ?? { kind: k, items: 0, notEmbedded: 0, models: [] };
  const e = s.embeddings;
  return (
    <div className="grid grid-cols-2 gap-3 lg:grid-cols-4" data-testid="memory-stats">
      {[find("memory"), find("knowledge")].map((k) => (
        <div key={k.kind} className="card" data-kind={k.kind}>
          <div className="label">{k.kind === "memory" ? "Memories" : "Knowledge chunks"}</div>
          <div className="text-2xl font-semibold tabular-nums" data-count={k.kind}>
            {k.items}
          </div>
          <div className="mt-1 space-y-0.5 text-xs text-slate-500">
            {k.models.map((m) => (
              <div key={m.model + m.dimension}>
                {m.items} by <code>{m.model}</code> ({m.dimension}d)
              </div>
            ))}
            {k.notEmbedded > 0 && <div className="text-amber-700">{k.notEmbedded} waiting for embeddings (found by words meanwhile)</div>}
          </div>
        </div>
      ))}
      <div className="card">
        <div className="label">Embedding model</div>
        <div className="break-all font-mono text-sm">{e.model || "—"}</div>
        <div className="mt-1 text-xs text-slate-500">
          {e.dimension} dimensions · cache hit rate {(e.hit_rate * 100).toFixed(0)}% · {e.provider_calls} provider calls
        </div>
      </div>
      <div className="card">
        <div className="label">Search</div>
        <div className="break-all font-mono text-sm">{s.search_path}</div>
        <div className="mt-1 text-xs text-slate-500">{s.search_path === "pgvector" ? "HNSW index on pgvector" : "exact cosine search (no pgvector)"}</div>
      </div>
    </div>
  );
}
