import { api, request, type Page } from "./client";

// The schedules API (httpapi/schedules.go) and the JSON of its views (projections/schedules.go).
export interface ScheduleSpec {
  name: string;
  description?: string;
  type: string; // cron | interval | once | event
  cron?: string;
  time_zone?: string;
  interval_sec?: number;
  run_at?: string;
  event_type?: string;
  start_at?: string;
  end_at?: string;
  max_executions?: number;
  action: string; // run_task | execute_pipeline | send_notification | call_api
  action_config: unknown;
  max_retries: number;
  retry_delay_sec: number;
  timeout_sec?: number;
  missed_policy: string; // run_latest | run_all | skip
}

export interface Schedule {
  id: string;
  owner: string;
  name: string;
  description?: string;
  type: string;
  action: string;
  status: string; // active | paused | done | deleted
  spec: ScheduleSpec;
  next_due_at?: string;
  last_due_at?: string;
  executions: number;
  runs_succeeded: number;
  runs_failed: number;
  last_run_id?: string;
  last_run_status?: string;
  version: number;
  created_at: string;
  updated_at: string;
}

export interface ScheduleAttempt {
  attempt: number;
  started_at: string;
  ended_at?: string;
  outcome: string; // running | failed | succeeded
  error?: string;
  will_retry?: boolean;
  retry_at?: string;
  duration_ms?: number;
}

export interface ScheduleRun {
  id: string;
  schedule_id: string;
  owner: string;
  trigger: string; // scheduler | recovery | manual | event
  fire_key: string;
  status: string; // pending | running | retrying | succeeded | failed
  due_at: string;
  fired_at: string;
  started_at?: string;
  ended_at?: string;
  next_retry_at?: string;
  attempts: number;
  max_retries: number;
  error?: string;
  result?: unknown;
  duration_ms?: number;
  history: ScheduleAttempt[] | null;
  version: number;
}

export interface Upcoming {
  schedule_id: string;
  name: string;
  action: string;
  due_at: string;
}

export interface CalendarWindow {
  from: string;
  to: string;
  upcoming: Upcoming[];
  runs: ScheduleRun[];
}

export const SCHEDULE_TYPES = ["cron", "interval", "once", "event"] as const;
export const SCHEDULE_ACTIONS = ["run_task", "execute_pipeline", "send_notification", "call_api"] as const;
export const MISSED_POLICIES = ["run_latest", "run_all", "skip"] as const;

const enc = encodeURIComponent;
const q = (params: Record<string, string | number | undefined>) => {
  const s = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== "") s.set(k, String(v));
  const t = s.toString();
  return t ? `?${t}` : "";
};

export const schedulesApi = {
  list: (cursor?: string) => api<Page<Schedule>>(`/schedules${q({ limit: 200, cursor })}`),
  get: (id: string) => request<Schedule>(`/schedules/${enc(id)}`),
  create: (body: Partial<ScheduleSpec>) => api<Schedule>("/schedules", { method: "POST", body }),
  pause: (id: string) => api<Schedule>(`/schedules/${enc(id)}/pause`, { method: "POST" }),
  resume: (id: string) => api<Schedule>(`/schedules/${enc(id)}/resume`, { method: "POST" }),
  trigger: (id: string) => api<ScheduleRun>(`/schedules/${enc(id)}/trigger`, { method: "POST" }),
  remove: (id: string) => api<null>(`/schedules/${enc(id)}`, { method: "DELETE" }),
  runs: (id: string, cursor?: string) => api<Page<ScheduleRun>>(`/schedules/${enc(id)}/runs${q({ limit: 50, cursor })}`),
  upcoming: (id: string, from: string, to: string, limit = 10) =>
    api<{ from: string; to: string; items: Upcoming[] }>(`/schedules/${enc(id)}/upcoming${q({ from, to, limit })}`),
  calendar: (from: string, to: string) => api<CalendarWindow>(`/schedules/calendar${q({ from, to })}`),
};
