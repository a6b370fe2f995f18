import { useInfiniteQuery, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState, type ReactNode } from "react";
import { Link, useNavigate, useParams } from "react-router-dom";
import { schedulesApi, type Schedule, type ScheduleRun } from "../api/schedules";
import { useFeed } from "../live/feed";
import { Empty, ErrorBox, LiveBadge, Loading, PageHeader, StatusPill, when } from "../components/ui";
import { fmtDuration, pretty } from "./pipelines/format";

// One schedule: what it does and when, its counters, the controls (pause, resume, trigger now,
// delete), its next due times and its runs, kept live from /ws/schedules/<id>.
export default function ScheduleDetail() {
  const { id = "" } = useParams();
  const queryClient = useQueryClient();
  const schedule = useQuery({ queryKey: ["schedule", id], queryFn: async () => (await schedulesApi.get(id)).data });
  const feed = useFeed(`/ws/schedules/${id}`, () => {
    // Any fire or run progress changes the counters, the next due time and the runs.
    for (const key of [["schedule", id], ["schedule-runs", id], ["schedule-upcoming", id], ["schedules"]]) {
      queryClient.invalidateQueries({ queryKey: key });
    }
  });

  if (schedule.isPending) return <Loading what="Loading schedule" />;
  if (schedule.isError) return <ErrorBox error={schedule.error} retry={() => schedule.refetch()} />;
  const s = schedule.data;
  return (
    <div className="space-y-4">
      <PageHeader title={s.name}>
        <LiveBadge state={feed} />
        <StatusPill status={s.status} />
      </PageHeader>
      <Controls schedule={s} />
      <div className="grid gap-4 lg:grid-cols-2">
        <Summary s={s} />
        <Spec s={s} />
      </div>
      <UpcomingList id={id} status={s.status} type={s.type} />
      <Runs id={id} />
    </div>
  );
}

function Controls({ schedule: s }: { schedule: Schedule }) {
  const navigate = useNavigate();
  const queryClient = useQueryClient();
  const [confirm, setConfirm] = useState(false);
  const [triggered, setTriggered] = useState<ScheduleRun | null>(null);
  const refresh = () => {
    queryClient.invalidateQueries({ queryKey: ["schedule", s.id] });
    queryClient.invalidateQueries({ queryKey: ["schedule-upcoming", s.id] });
    queryClient.invalidateQueries({ queryKey: ["schedules"] });
  };
  const toggle = useMutation({
    mutationFn: () => (s.status === "paused" ? schedulesApi.resume(s.id) : schedulesApi.pause(s.id)),
    onSuccess: (v) => {
      queryClient.setQueryData(["schedule", s.id], v);
      refresh();
    },
  });
  const trigger = useMutation({
    mutationFn: () => schedulesApi.trigger(s.id),
    onSuccess: (run) => {
      setTriggered(run);
      refresh();
      queryClient.invalidateQueries({ queryKey: ["schedule-runs", s.id] });
    },
  });
  const remove = useMutation({
    mutationFn: () => schedulesApi.remove(s.id),
    onSuccess: () => {
      queryClient.invalidateQueries({ queryKey: ["schedules"] });
      queryClient.invalidateQueries({ queryKey: ["calendar"] });
      navigate("/schedules");
    },
  });
  const gone = s.status === "deleted";
  return (
    <div className="space-y-2">
      <div className="flex flex-wrap gap-2">
        {(s.status === "active" || s.status === "paused") && (
          <button className="btn-secondary" onClick={() => toggle.mutate()} disabled={toggle.isPending}>
            {s.status === "paused" ? "Resume" : "Pause"}
          </button>
        )}
        <button className="btn" onClick={() => trigger.mutate()} disabled={trigger.isPending || gone}>
          {trigger.isPending ? "Triggering…" : "Trigger now"}
        </button>
        {!gone &&
          (confirm ? (
            <>
              <button className="btn-danger" onClick={() => remove.mutate()} disabled={remove.isPending}>
                Confirm delete
              </button>
              <button className="btn-secondary" onClick={() => setConfirm(false)}>
                Keep
              </button>
            </>
          ) : (
            <button className="btn-secondary" onClick={() => setConfirm(true)}>
              Delete
            </button>
          ))}
        <Link className="btn-secondary" to="/schedules">
          All schedules
        </Link>
      </div>
      {[toggle, trigger, remove].map((m, i) => m.isError && <ErrorBox key={i} error={m.error} />)}
      {triggered && (
        <div role="status" className="rounded-md border border-emerald-200 bg-emerald-50 p-2 text-sm text-emerald-800">
          Triggered: run {triggered.id.slice(0, 8)} fired; its progress shows under Runs.
        </div>
      )}
    </div>
  );
}

function Item({ label, children, testid }: { label: string; children: ReactNode; testid?: string }) {
  return (
    <div>
      <dt className="label">{label}</dt>
      <dd className="text-sm" data-testid={testid}>
        {children}
      </dd>
    </div>
  );
}

function Summary({ s }: { s: Schedule }) {
  return (
    <div className="card">
      <h2 className="mb-2 font-semibold">Status</h2>
      <dl className="grid grid-cols-2 gap-3">
        <Item label="Status" testid="schedule-status">
          {s.status}
        </Item>
        <Item label="Next due" testid="schedule-next-due">
          {s.type === "event" ? `on each ${s.spec.event_type}` : when(s.next_due_at)}
        </Item>
        <Item label="Last due">{when(s.last_due_at)}</Item>
        <Item label="Last run">{s.last_run_status ? <StatusPill status={s.last_run_status} /> : "—"}</Item>
        <Item label="Executions" testid="schedule-executions">
          {s.executions}
        </Item>
        <Item label="Succeeded / failed">
          <span className="text-emerald-700">{s.runs_succeeded}</span> / <span className="text-rose-700">{s.runs_failed}</span>
        </Item>
        <Item label="Created">{when(s.created_at)}</Item>
        <Item label="Updated">{when(s.updated_at)}</Item>
      </dl>
    </div>
  );
}

function Spec({ s }: { s: Schedule }) {
  const sp = s.spec;
  return (
    <div className="card">
      <h2 className="mb-2 font-semibold">Definition</h2>
      {s.description && <p className="mb-2 text-sm text-slate-600">{s.description}</p>}
      <dl className="grid grid-cols-2 gap-3">
        <Item label="Type">{s.type}</Item>
        {sp.type === "cron" && (
          <Item label="Cron">
            <code>{sp.cron}</code> {sp.time_zone ? `(${sp.time_zone})` : "(UTC)"}
          </Item>
        )}
        {sp.type === "interval" && <Item label="Every">{sp.interval_sec} s</Item>}
        {sp.type === "once" && <Item label="Run at">{when(sp.run_at)}</Item>}
        {sp.type === "event" && (
          <Item label="Event type">
            <code>{sp.event_type}</code>
          </Item>
        )}
        <Item label="Action">{s.action}</Item>
        <Item label="Retries">
          {sp.max_retries}, {sp.retry_delay_sec} s apart
        </Item>
        <Item label="Timeout">{sp.timeout_sec ? `${sp.timeout_sec} s` : "—"}</Item>
        <Item label="Missed runs">{sp.missed_policy}</Item>
        {sp.start_at && <Item label="Starts">{when(sp.start_at)}</Item>}
        {sp.end_at && <Item label="Ends">{when(sp.end_at)}</Item>}
        {!!sp.max_executions && <Item label="Max executions">{sp.max_executions}</Item>}
      </dl>
      <div className="mt-3">
        <span className="label">Action config</span>
        <pre data-testid="schedule-action-config" className="max-h-48 overflow-auto rounded bg-slate-50 p-2 text-xs">
          {pretty(sp.action_config)}
        </pre>
      </div>
    </div>
  );
}

function UpcomingList({ id, status, type }: { id: string; status: string; type: string }) {
  const upcoming = useQuery({
    queryKey: ["schedule-upcoming", id],
    queryFn: () => {
      const from = new Date();
      const to = new Date(from.getTime() + 366 * 24 * 3600 * 1000);
      return schedulesApi.upcoming(id, from.toISOString(), to.toISOString(), 10);
    },
  });
  const why = status !== "active" ? `Nothing is due while the schedule is ${status}.` : type === "event" ? "An event schedule fires on events, not at times." : "Nothing due in the next year.";
  return (
    <div className="card">
      <h2 className="mb-2 font-semibold">Next due times</h2>
      {upcoming.isPending ? (
        <Loading what="Computing due times" />
      ) : upcoming.isError ? (
        <ErrorBox error={upcoming.error} retry={() => upcoming.refetch()} />
      ) : upcoming.data.items.length === 0 ? (
        <Empty>{why}</Empty>
      ) : (
        <ol className="grid gap-1 text-sm sm:grid-cols-2" data-testid="schedule-upcoming">
          {upcoming.data.items.map((u) => (
            <li key={u.due_at} data-testid="upcoming-item" className="rounded bg-slate-50 px-2 py-1">
              {when(u.due_at)}
            </li>
          ))}
        </ol>
      )}
    </div>
  );
}

function Runs({ id }: { id: string }) {
  const runs = useInfiniteQuery({
    queryKey: ["schedule-runs", id],
    queryFn: ({ pageParam }) => schedulesApi.runs(id, pageParam || undefined),
    initialPageParam: "",
    getNextPageParam: (p) => p.next_cursor,
  });
  const items = runs.data?.pages.flatMap((p) => p.items) ?? [];
  return (
    <div className="card">
      <h2 className="mb-2 font-semibold">Runs</h2>
      {runs.isPending ? (
        <Loading what="Loading runs" />
      ) : runs.isError ? (
        <ErrorBox error={runs.error} retry={() => runs.refetch()} />
      ) : items.length === 0 ? (
        <Empty>No runs yet. Trigger now runs it once.</Empty>
      ) : (
        <div className="overflow-x-auto">
          <table className="table">
            <thead>
              <tr>
                <th>Status</th>
                <th>Trigger</th>
                <th>Due</th>
                <th>Attempts</th>
                <th>Duration</th>
                <th>Error</th>
                <th>History</th>
              </tr>
            </thead>
            <tbody>
              {items.map((r) => (
                <tr key={r.id} data-testid="schedule-run" data-run={r.id} data-status={r.status}>
                  <td>
                    <StatusPill status={r.status} />
                    {r.next_retry_at && <div className="mt-1 text-xs text-amber-700">retry {when(r.next_retry_at)}</div>}
                  </td>
                  <td>{r.trigger}</td>
                  <td>{when(r.due_at)}</td>
                  <td>
                    {r.attempts} / {r.max_retries + 1}
                  </td>
                  <td>{fmtDuration(r.duration_ms)}</td>
                  <td className="max-w-xs break-words text-rose-700">{r.error}</td>
                  <td>
                    {(r.history && r.history.length > 0) || r.result !== undefined ? (
                      <details>
                        <summary className="cursor-pointer text-xs text-indigo-700">
                          {r.history?.length ?? 0} attempt{r.history?.length === 1 ? "" : "s"}
                        </summary>
                        <ol className="mt-1 space-y-1 text-xs">
                          {(r.history ?? []).map((a) => (
                            <li key={a.attempt} data-testid="run-attempt">
                              #{a.attempt} {a.outcome} · {when(a.started_at)} · {fmtDuration(a.duration_ms)}
                              {a.error && <div className="text-rose-700">{a.error}</div>}
                              {a.will_retry && a.retry_at && <div className="text-amber-700">retry at {when(a.retry_at)}</div>}
                            </li>
                          ))}
                        </ol>
                        {r.result !== undefined && r.result !== null && (
                          <pre className="mt-1 max-h-48 overflow-auto rounded bg-slate-50 p-2 text-xs">{pretty(r.result)}</pre>
                        )}
                      </details>
                    ) : (
                      <span className="text-slate-400">—</span>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          {runs.hasNextPage && (
            <button className="btn-secondary mt-2" disabled={runs.isFetchingNextPage} onClick={() => runs.fetchNextPage()}>
              {runs.isFetchingNextPage ? "Loading…" : "Load more"}
            </button>
          )}
        </div>
      )}
    </div>
  );
}
