import { useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { Link } from "react-router-dom";
import { api, type Page } from "../api/client";
import { isAdmin, useSession } from "../auth/session";
import { ErrorBox, LiveBadge, Loading, PageHeader, when } from "../components/ui";
import { useFeed, type FeedMessage } from "../live/feed";

// The first page after login: how much there is, whether the server is healthy, and what just
// happened (the live feed: everything for an admin, one's own agents for a member).
interface Named {
  id: string;
  name?: string;
}

const counted = [
  { key: "agents", path: "/agents?limit=200", label: "Agents", to: "/agents" },
  { key: "circles", path: "/circles?limit=200", label: "Circles", to: "/circles" },
  { key: "pipelines", path: "/pipelines?limit=100", label: "Pipelines", to: "/pipelines" },
  { key: "schedules", path: "/schedules?limit=200", label: "Schedules", to: "/schedules" },
];

function Count({ path, label, to }: { path: string; label: string; to: string }) {
  const q = useQuery({ queryKey: ["count", path], queryFn: () => api<Page<Named>>(path) });
  return (
    <Link to={to} className="card block hover:border-indigo-300" data-testid={`count-${label.toLowerCase()}`}>
      <div className="label">{label}</div>
      <div className="text-2xl font-semibold">
        {q.isLoading ? "…" : q.isError ? "!" : `${q.data!.items.length}${q.data!.next_cursor ? "+" : ""}`}
      </div>
    </Link>
  );
}

function Health() {
  const q = useQuery({
    queryKey: ["health"],
    queryFn: async () => {
      const res = await fetch("/health/ready");
      return { ok: res.ok, body: (await res.json().catch(() => ({}))) as Record<string, unknown> };
    },
    refetchInterval: 10000,
  });
  const ok = q.data?.ok;
  return (
    <div className="card" data-testid="health">
      <div className="label">Server</div>
      {q.isLoading ? (
        <Loading what="Checking" />
      ) : (
        <span className={`pill ${ok ? "bg-emerald-100 text-emerald-800" : "bg-rose-100 text-rose-800"}`}>{ok ? "ready" : "not ready"}</span>
      )}
    </div>
  );
}

export function Overview() {
  const user = useSession((s) => s.user);
  const queryClient = useQueryClient();
  const [events, setEvents] = useState<FeedMessage[]>([]);
  const agents = useQuery({ queryKey: ["count", "/agents?limit=200"], queryFn: () => api<Page<Named>>("/agents?limit=200") });
  // Members may follow only their own agents' topics; admins the whole log.
  const topics = isAdmin(user) ? "all" : (agents.data?.items ?? []).slice(0, 50).map((a) => `agents:${a.id}`).join(",");
  const state = useFeed(topics ? `/ws?topics=${encodeURIComponent(topics)}` : null, (m) => {
    if (!m.position) return; // tokens are shown where they belong, not here
    setEvents((prev) => [m, ...prev].slice(0, 50));
    const kind = m.stream?.type;
    if (kind) queryClient.invalidateQueries({ queryKey: ["count"] });
  });
  return (
    <div>
      <PageHeader title={`Welcome${user ? ", " + user.email : ""}`}>
        <LiveBadge state={state} />
      </PageHeader>
      <div className="grid grid-cols-2 gap-3 md:grid-cols-5">
        {counted.map(({ key, ...c }) => (
          <Count key={key} {...c} />
        ))}
        <Health />
      </div>
      <h2 className="mb-2 mt-6 text-lg font-semibold">Recent activity</h2>
      {agents.isError && <ErrorBox error={agents.error} />}
      <div className="card overflow-x-auto p-0" data-testid="activity">
        {events.length === 0 ? (
          <div className="p-4 text-sm text-slate-500">
            {topics ? "Nothing has happened since you arrived; changes appear here as they are made." : "Create an agent to see its activity here."}
          </div>
        ) : (
          <table className="table">
            <tbody>
              {events.map((e) => (
                <tr key={`${e.position}`} data-testid="activity-row">
                  <td className="whitespace-nowrap text-slate-500">#{e.position}</td>
                  <td className="whitespace-nowrap">{when(e.timestamp)}</td>
                  <td>
                    <code>{e.type}</code>
                  </td>
                  <td className="text-slate-500">{e.stream?.id}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </div>
    </div>
  );
}

export default Overview;
