import { useInfiniteQuery } from "@tanstack/react-query";
import { useMemo, useState, type FormEvent } from "react";
import { useSearchParams } from "react-router-dom";
import {
  latestEvents,
  mergeEvents,
  olderEvents,
  PAGE_SIZE,
  type EventFilters,
  type EventPage,
  type OlderCursor,
} from "../api/events";
import { isAdmin, useSession } from "../auth/session";
import { Empty, ErrorBox, LiveBadge, Loading, PageHeader } from "../components/ui";
import { AuditVerify } from "./events/AuditVerify";
import { EventDetail } from "./events/EventDetail";
import { EventTable } from "./events/EventTable";
import { useLiveEvents } from "./events/useLiveEvents";

// The event log explorer: the source of truth itself, browsable by stream and type, followed
// live, and its hash chains verifiable. Admins only (GET /events and the "all" feed are).
export default function Events() {
  const user = useSession((s) => s.user);
  if (!isAdmin(user)) {
    return (
      <div>
        <PageHeader title="Event log" />
        <div role="alert" className="card text-sm text-slate-700" data-testid="admins-only">
          The event log is for admins only. Ask an admin of this GatheRing if you need to look at it.
        </div>
      </div>
    );
  }
  return <Explorer />;
}

const FILTER_KEYS = ["stream", "stream_type", "type"] as const;

// The filters live in the URL (#/events?stream=…) so a view of the log can be shared and the
// back button undoes a filter.
function useFilters(): [EventFilters, (f: EventFilters) => void] {
  const [params, setParams] = useSearchParams();
  const filters = useMemo<EventFilters>(
    () => ({ stream: params.get("stream") ?? "", stream_type: params.get("stream_type") ?? "", type: params.get("type") ?? "" }),
    [params],
  );
  const set = (f: EventFilters) => {
    const next = new URLSearchParams();
    for (const k of FILTER_KEYS) if (f[k].trim()) next.set(k, f[k].trim());
    setParams(next);
  };
  return [filters, set];
}

function Explorer() {
  const [filters, setFilters] = useFilters();
  const [follow, setFollow] = useState(false);
  const filterKey = FILTER_KEYS.map((k) => filters[k]).join("\n");
  return (
    <div className="space-y-4">
      <PageHeader title="Event log">
        <button
          type="button"
          className={follow ? "btn" : "btn-secondary"}
          aria-pressed={follow}
          onClick={() => setFollow(!follow)}
          title={follow ? "Stop following" : "Show new events as they are recorded"}
        >
          Follow live
        </button>
      </PageHeader>
      <FilterForm key={`form:${filterKey}`} filters={filters} onApply={setFilters} />
      <div className="card">
        <AuditVerify stream={filters.stream.trim()} />
      </div>
      <Browser key={`view:${filterKey}`} filters={filters} follow={follow} onFilter={(patch) => setFilters({ ...filters, ...patch })} />
    </div>
  );
}

function FilterForm({ filters, onApply }: { filters: EventFilters; onApply: (f: EventFilters) => void }) {
  const submit = (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    const data = new FormData(e.currentTarget);
    onApply({ stream: String(data.get("stream") ?? ""), stream_type: String(data.get("stream_type") ?? ""), type: String(data.get("type") ?? "") });
  };
  const any = FILTER_KEYS.some((k) => filters[k]);
  return (
    <form onSubmit={submit} className="card grid gap-3 sm:grid-cols-2 lg:grid-cols-[1fr_1fr_1fr_auto]" aria-label="Filter events">
      <label className="block">
        <span className="label">Stream id</span>
        <input className="input font-mono" name="stream" defaultValue={filters.stream} placeholder="agent-…" autoComplete="off" />
      </label>
      <label className="block">
        <span className="label">Stream type</span>
        <input className="input font-mono" name="stream_type" defaultValue={filters.stream_type} placeholder="agent, circle, pipeline_run…" autoComplete="off" />
      </label>
      <label className="block">
        <span className="label">Event type</span>
        <input className="input font-mono" name="type" defaultValue={filters.type} placeholder="agent.created…" autoComplete="off" />
      </label>
      <div className="flex items-end gap-2">
        <button type="submit" className="btn">
          Apply
        </button>
        {any && (
          <button type="button" className="btn-secondary" onClick={() => onApply({ stream: "", stream_type: "", type: "" })}>
            Clear
          </button>
        )}
      </div>
    </form>
  );
}

// Browser shows one filtered view of the log; it is keyed by the filters, so changing them
// starts a new view (pages, live events and selection).
function Browser({ filters, follow, onFilter }: { filters: EventFilters; follow: boolean; onFilter: (patch: Partial<EventFilters>) => void }) {
  const [selected, setSelected] = useState<number | null>(null);
  const q = useInfiniteQuery({
    queryKey: ["events", filters],
    initialPageParam: null as OlderCursor | null,
    queryFn: async ({ pageParam }): Promise<EventPage> => {
      if (pageParam) return olderEvents(filters, pageParam);
      const events = await latestEvents(filters);
      return { events, done: events.length < PAGE_SIZE };
    },
    getNextPageParam: (last, pages): OlderCursor | undefined => {
      if (last.done) return undefined;
      const all = mergeEvents(...pages.map((p) => p.events));
      if (all.length === 0) return undefined;
      return { oldest: all[all.length - 1].position, newest: all[0].position, loaded: all.length };
    },
    // The log only grows at the top, which following live covers; a refetch would reshuffle.
    refetchOnWindowFocus: false,
  });
  const loaded = useMemo(() => (q.data ? mergeEvents(...q.data.pages.map((p) => p.events)) : undefined), [q.data]);
  const { live, state, complete } = useLiveEvents(filters, follow, loaded);
  const events = useMemo(() => mergeEvents(live, loaded ?? []), [live, loaded]);
  const fresh = useMemo(() => new Set(live.map((e) => e.position)), [live]);
  const current = events.find((e) => e.position === selected) ?? null;
  const capped = q.data?.pages.some((p) => p.capped);

  const select = (position: number) => {
    setSelected(position === selected ? null : position);
    if (events.find((e) => e.position === position)?.partial) complete();
  };

  return (
    <div className={`grid gap-4 ${current ? "lg:grid-cols-[minmax(0,1fr)_minmax(0,26rem)]" : ""}`}>
      <div className="card min-w-0">
        <div className="mb-2 flex flex-wrap items-center justify-between gap-2 text-xs text-slate-500">
          <span>{describe(filters)}</span>
          {follow && <LiveBadge state={state} />}
        </div>
        {q.isPending ? (
          <Loading what="Reading the log" />
        ) : !loaded ? (
          <ErrorBox error={q.error} retry={() => q.refetch()} />
        ) : events.length === 0 ? (
          <Empty>{FILTER_KEYS.some((k) => filters[k]) ? "No events match these filters." : "The log has no events yet."}</Empty>
        ) : (
          <>
            <EventTable events={events} compact={current !== null} selected={selected} fresh={fresh} onSelect={select} onFilter={onFilter} />
            <div className="mt-3 flex flex-wrap items-center gap-2 text-xs text-slate-500">
              {q.hasNextPage ? (
                <button type="button" className="btn-secondary" onClick={() => q.fetchNextPage()} disabled={q.isFetchingNextPage}>
                  {q.isFetchingNextPage ? "Loading…" : "Load older"}
                </button>
              ) : capped ? (
                <span>Older events are not reachable from here: narrow the filters to go further back.</span>
              ) : (
                <span>Beginning of the log{FILTER_KEYS.some((k) => filters[k]) ? " for these filters" : ""}.</span>
              )}
              <span>{events.length} events shown</span>
            </div>
            {q.isFetchNextPageError && <ErrorBox error={q.error} retry={() => q.fetchNextPage()} />}
          </>
        )}
      </div>
      {current && <EventDetail e={current} onClose={() => setSelected(null)} onFilter={onFilter} />}
    </div>
  );
}

function describe(f: EventFilters): string {
  const parts = [f.stream && `stream ${f.stream}`, f.stream_type && `type of stream ${f.stream_type}`, f.type && `event ${f.type}`].filter(Boolean);
  return parts.length ? `Newest first · ${parts.join(" · ")}` : "Newest first · all streams";
}
