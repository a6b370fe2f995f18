import { useInfiniteQuery, useMutation, useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { Link } from "react-router-dom";
import { ApiError } from "../api/client";
import { MISSED_POLICIES, SCHEDULE_ACTIONS, SCHEDULE_TYPES, schedulesApi, type Schedule } from "../api/schedules";
import { Empty, ErrorBox, Field, Loading, PageHeader, StatusPill, when } from "../components/ui";
import { emptyForm, scheduleBody, templateText, type ScheduleForm } from "./schedules/form";

// The caller's schedules (everyone's for an admin) and the form that creates one.
export default function Schedules() {
  const list = useInfiniteQuery({
    queryKey: ["schedules"],
    queryFn: ({ pageParam }) => schedulesApi.list(pageParam || undefined),
    initialPageParam: "",
    getNextPageParam: (p) => p.next_cursor,
  });
  const items = list.data?.pages.flatMap((p) => p.items) ?? [];
  return (
    <div className="space-y-4">
      <PageHeader title="Schedules">
        <Link className="btn-secondary" to="/calendar">
          Calendar
        </Link>
      </PageHeader>
      {list.isPending ? (
        <Loading what="Loading schedules" />
      ) : list.isError ? (
        <ErrorBox error={list.error} retry={() => list.refetch()} />
      ) : items.length === 0 ? (
        <Empty>No schedules yet. Create one below.</Empty>
      ) : (
        <ScheduleTable items={items} more={list.hasNextPage ? { load: () => list.fetchNextPage(), busy: list.isFetchingNextPage } : undefined} />
      )}
      <CreateSchedule />
    </div>
  );
}

function timing(s: Schedule): string {
  switch (s.type) {
    case "cron":
      return `${s.spec.cron ?? ""}${s.spec.time_zone ? ` (${s.spec.time_zone})` : ""}`;
    case "interval":
      return `every ${s.spec.interval_sec ?? 0} s`;
    case "once":
      return `at ${when(s.spec.run_at)}`;
    case "event":
      return `on ${s.spec.event_type ?? ""}`;
  }
  return "";
}

function ScheduleTable({ items, more }: { items: Schedule[]; more?: { load: () => void; busy: boolean } }) {
  return (
    <div className="card overflow-x-auto p-0">
      <table className="table">
        <thead>
          <tr>
            <th>Name</th>
            <th>Type</th>
            <th>Action</th>
            <th>Status</th>
            <th>Next due</th>
            <th>Last run</th>
          </tr>
        </thead>
        <tbody>
          {items.map((s) => (
            <tr key={s.id} data-testid="schedule-row" data-schedule={s.id}>
              <td>
                <Link className="font-medium text-indigo-700 hover:underline" to={`/schedules/${s.id}`}>
                  {s.name}
                </Link>
              </td>
              <td>
                {s.type}
                <div className="text-xs text-slate-500">{timing(s)}</div>
              </td>
              <td>{s.action}</td>
              <td>
                <StatusPill status={s.status} />
              </td>
              <td>{s.type === "event" ? "on event" : when(s.next_due_at)}</td>
              <td>{s.last_run_status ? <StatusPill status={s.last_run_status} /> : <span className="text-slate-400">—</span>}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {more && (
        <div className="p-2">
          <button className="btn-secondary" disabled={more.busy} onClick={more.load}>
            {more.busy ? "Loading…" : "Load more"}
          </button>
        </div>
      )}
    </div>
  );
}

// ConfigErrors lists the errors inside action_config at their paths (action_config.url, …).
function ConfigErrors({ error, local }: { error: ApiError | null; local: string | null }) {
  const fields = (error?.fields ?? []).filter((f) => f.field === "action_config" || f.field.startsWith("action_config.") || f.field.startsWith("action_config["));
  if (fields.length === 0 && !local) return null;
  return (
    <span className="mt-1 block space-y-0.5 text-xs text-rose-600" data-field-error="action_config">
      {local && <span className="block">{local}</span>}
      {fields.map((f) => (
        <span key={f.field + f.message} className="block" data-field-error={f.field}>
          {f.field === "action_config" ? f.message : `${f.field.slice("action_config.".length)}: ${f.message}`}
        </span>
      ))}
    </span>
  );
}

function CreateSchedule() {
  const queryClient = useQueryClient();
  const [form, setForm] = useState<ScheduleForm>(emptyForm);
  const [localError, setLocalError] = useState<string | null>(null);
  const [created, setCreated] = useState<Schedule | null>(null);
  const set = (k: keyof ScheduleForm) => (e: { target: { value: string } }) => setForm((f) => ({ ...f, [k]: e.target.value }));

  const create = useMutation({
    mutationFn: schedulesApi.create,
    onSuccess: (s) => {
      setCreated(s);
      setForm(emptyForm());
      queryClient.invalidateQueries({ queryKey: ["schedules"] });
      queryClient.invalidateQueries({ queryKey: ["calendar"] });
    },
  });
  const apiErr = create.error instanceof ApiError ? create.error : null;

  const submit = (e: FormEvent) => {
    e.preventDefault();
    setCreated(null);
    const { body, error } = scheduleBody(form);
    setLocalError(error ? error.message : null);
    if (body) create.mutate(body);
  };

  // A new action gets its template, unless the person already wrote a config of their own.
  const changeAction = (action: string) =>
    setForm((f) => ({ ...f, action, action_config: f.action_config.trim() === "" || f.action_config === templateText(f.action) ? templateText(action) : f.action_config }));

  const shownElsewhere = ["name", "type", "cron", "time_zone", "interval_sec", "run_at", "event_type", "action", "max_retries", "retry_delay_sec", "missed_policy"];
  const unplaced = apiErr?.fields.filter((f) => !shownElsewhere.includes(f.field) && !f.field.startsWith("action_config")) ?? [];

  return (
    <form onSubmit={submit} className="card space-y-3" aria-label="Create schedule">
      <h2 className="font-semibold">New schedule</h2>
      <div className="grid gap-3 sm:grid-cols-2">
        <Field label="Name" name="name" error={apiErr}>
          <input className="input" name="name" value={form.name} onChange={set("name")} />
        </Field>
        <Field label="Type" name="type" error={apiErr}>
          <select className="input" name="type" value={form.type} onChange={set("type")}>
            {SCHEDULE_TYPES.map((t) => (
              <option key={t} value={t}>
                {t}
              </option>
            ))}
          </select>
        </Field>
        {form.type === "cron" && (
          <>
            <Field label="Cron expression" name="cron" error={apiErr}>
              <input className="input font-mono" name="cron" placeholder="0 9 * * 1-5" value={form.cron} onChange={set("cron")} />
            </Field>
            <Field label="Time zone" name="time_zone" error={apiErr}>
              <input className="input" name="time_zone" placeholder="UTC" value={form.time_zone} onChange={set("time_zone")} />
            </Field>
          </>
        )}
        {form.type === "interval" && (
          <Field label="Every (seconds, at least 60)" name="interval_sec" error={apiErr}>
            <input className="input" type="number" name="interval_sec" value={form.interval_sec} onChange={set("interval_sec")} />
          </Field>
        )}
        {form.type === "once" && (
          <Field label="Run at (your local time)" name="run_at" error={apiErr}>
            <input className="input" type="datetime-local" name="run_at" value={form.run_at} onChange={set("run_at")} />
          </Field>
        )}
        {form.type === "event" && (
          <Field label="Event type" name="event_type" error={apiErr}>
            <input className="input font-mono" name="event_type" placeholder="agent.created" value={form.event_type} onChange={set("event_type")} />
          </Field>
        )}
        <Field label="Action" name="action" error={apiErr}>
          <select className="input" name="action" value={form.action} onChange={(e) => changeAction(e.target.value)}>
            {SCHEDULE_ACTIONS.map((a) => (
              <option key={a} value={a}>
                {a}
              </option>
            ))}
          </select>
        </Field>
        <label className="block sm:col-span-2">
          <span className="label">Action config (JSON)</span>
          <textarea
            className={`input font-mono text-xs ${localError || apiErr?.fieldMessage("action_config") ? "input-error" : ""}`}
            name="action_config"
            rows={6}
            spellCheck={false}
            value={form.action_config}
            onChange={set("action_config")}
          />
          <ConfigErrors error={apiErr} local={localError} />
        </label>
        <Field label="Max retries" name="max_retries" error={apiErr}>
          <input className="input" type="number" name="max_retries" value={form.max_retries} onChange={set("max_retries")} />
        </Field>
        <Field label="Retry delay (seconds)" name="retry_delay_sec" error={apiErr}>
          <input className="input" type="number" name="retry_delay_sec" value={form.retry_delay_sec} onChange={set("retry_delay_sec")} />
        </Field>
        <Field label="Missed runs" name="missed_policy" error={apiErr}>
          <select className="input" name="missed_policy" value={form.missed_policy} onChange={set("missed_policy")}>
            {MISSED_POLICIES.map((p) => (
              <option key={p} value={p}>
                {p}
              </option>
            ))}
          </select>
        </Field>
      </div>
      {create.isError && (!apiErr || apiErr.fields.length === 0) && <ErrorBox error={create.error} />}
      {unplaced.length > 0 && (
        <ul className="text-xs text-rose-600">
          {unplaced.map((f) => (
            <li key={f.field} data-field-error={f.field}>
              {f.field}: {f.message}
            </li>
          ))}
        </ul>
      )}
      {created && (
        <div role="status" className="rounded-md border border-emerald-200 bg-emerald-50 p-2 text-sm text-emerald-800">
          Schedule created.{" "}
          <Link className="font-medium underline" to={`/schedules/${created.id}`}>
            Open it
          </Link>
        </div>
      )}
      <button className="btn" type="submit" disabled={create.isPending}>
        {create.isPending ? "Creating…" : "Create schedule"}
      </button>
    </form>
  );
}
