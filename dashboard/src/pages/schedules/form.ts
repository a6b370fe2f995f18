import type { FieldError } from "../../api/client";
import type { ScheduleSpec } from "../../api/schedules";

// The create form of a schedule, kept as the text of its inputs, and how it becomes the body the
// API takes: only the selected type's timing field, times in RFC 3339, the action's config
// parsed.

export interface ScheduleForm {
  name: string;
  type: string;
  cron: string;
  time_zone: string;
  interval_sec: string;
  run_at: string; // a datetime-local value, in the browser's zone
  event_type: string;
  action: string;
  action_config: string;
  max_retries: string;
  retry_delay_sec: string;
  missed_policy: string;
}

// The starting config of each action, its required settings to fill in (scheduler/actions.go).
export const actionTemplates: Record<string, Record<string, unknown>> = {
  run_task: { agent_id: "", goal: "", max_steps: 10 },
  execute_pipeline: { pipeline_id: "", input: {} },
  send_notification: { url: "https://", message: "" },
  call_api: { url: "https://", method: "GET" },
};

export const templateText = (action: string) => JSON.stringify(actionTemplates[action] ?? {}, null, 2);

export function browserZone(): string {
  try {
    return Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
  } catch {
    return "UTC";
  }
}

export function emptyForm(): ScheduleForm {
  return {
    name: "",
    type: "cron",
    cron: "",
    time_zone: browserZone(),
    interval_sec: "3600",
    run_at: "",
    event_type: "",
    action: "call_api",
    action_config: templateText("call_api"),
    max_retries: "0",
    retry_delay_sec: "300",
    missed_policy: "run_latest",
  };
}

// localToRFC3339 reads a datetime-local value ("2027-01-31T09:00") as a time in the browser's
// zone and writes it in UTC; a value it cannot read is passed on for the API to name.
export function localToRFC3339(local: string): string {
  const d = new Date(local);
  return isNaN(d.getTime()) ? local : d.toISOString();
}

// rfc3339ToLocal is the reverse, for prefilling a datetime-local input.
export function rfc3339ToLocal(iso: string): string {
  const d = new Date(iso);
  if (isNaN(d.getTime())) return "";
  const p = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
}

const int = (s: string) => (s.trim() === "" ? 0 : Number(s));

export function scheduleBody(f: ScheduleForm): { body?: Partial<ScheduleSpec>; error?: FieldError } {
  let config: unknown = {};
  if (f.action_config.trim() !== "") {
    try {
      config = JSON.parse(f.action_config);
    } catch (e) {
      return { error: { field: "action_config", message: `is not valid JSON: ${(e as Error).message}` } };
    }
  }
  const body: Partial<ScheduleSpec> = {
    name: f.name,
    type: f.type,
    action: f.action,
    action_config: config,
    max_retries: int(f.max_retries),
    retry_delay_sec: int(f.retry_delay_sec),
    missed_policy: f.missed_policy,
  };
  switch (f.type) {
    case "cron":
      body.cron = f.cron;
      if (f.time_zone.trim() !== "") body.time_zone = f.time_zone.trim();
      break;
    case "interval":
      body.interval_sec = int(f.interval_sec);
      break;
    case "once":
      if (f.run_at.trim() !== "") body.run_at = localToRFC3339(f.run_at);
      break;
    case "event":
      body.event_type = f.event_type;
      break;
  }
  return { body };
}
