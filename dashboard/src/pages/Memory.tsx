import { useQuery } from "@tanstack/react-query";
import { memoryKeys, memoryStats } from "../api/memory";
import { PageHeader } from "../components/ui";
import { KnowledgePanel } from "./memory/KnowledgePanel";
import { RememberForm } from "./memory/RememberForm";
import { SearchPanel } from "./memory/SearchPanel";
import { StatsBar } from "./memory/StatsBar";

// Memory & knowledge: what agents remember and what they were given to know, searchable the
// way agents recall it.
export default function Memory() {
  const stats = useQuery({
    queryKey: memoryKeys.stats,
    queryFn: memoryStats,
    // Embeddings are computed by jobs; while some are waiting, watch them land.
    refetchInterval: (q) => (q.state.data?.counts.some((c) => c.not_embedded > 0) ? 2000 : false),
  });
  return (
    <div className="space-y-4">
      <PageHeader title="Memory & knowledge" />
      <StatsBar stats={stats} />
      <div className="grid gap-4 lg:grid-cols-2">
        <SearchPanel />
        <RememberForm />
      </div>
      <KnowledgePanel stats={stats} />
    </div>
  );
}
