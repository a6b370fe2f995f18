import type { CalendarWindow } from "../../api/schedules";

// Month arithmetic of the calendar, in the browser's time zone: a month is shown from its first
// local midnight to the next month's, in weeks starting on Monday.

export interface Month {
  year: number;
  month: number; // 0 = January
}

export const monthOf = (d: Date): Month => ({ year: d.getFullYear(), month: d.getMonth() });

export function shiftMonth(m: Month, delta: number): Month {
  const total = m.year * 12 + m.month + delta;
  return { year: Math.floor(total / 12), month: ((total % 12) + 12) % 12 };
}

// monthWindow is [from, to): the first instant of the month and of the next one.
export function monthWindow(m: Month): { from: Date; to: Date } {
  return { from: new Date(m.year, m.month, 1), to: new Date(m.year, m.month + 1, 1) };
}

// gridWindow is [from, to) of every day a month's grid shows, the neighbours' days included, so
// that those days show what falls on them too.
export function gridWindow(m: Month, weekStart = 1): { from: Date; to: Date } {
  const weeks = monthGrid(m, weekStart);
  const last = weeks[weeks.length - 1][6];
  return { from: weeks[0][0], to: new Date(last.getFullYear(), last.getMonth(), last.getDate() + 1) };
}

export const daysInMonth = (m: Month) => new Date(m.year, m.month + 1, 0).getDate();

// monthGrid lists the weeks that cover the month, each of seven days, starting on weekStart
// (0 Sunday, 1 Monday); days of the neighbouring months fill the first and last weeks.
export function monthGrid(m: Month, weekStart = 1): Date[][] {
  const first = new Date(m.year, m.month, 1);
  const lead = (first.getDay() - weekStart + 7) % 7;
  const cells = Math.ceil((lead + daysInMonth(m)) / 7) * 7;
  const weeks: Date[][] = [];
  for (let i = 0; i < cells; i++) {
    // Built from the calendar date, not by adding 24 hours, so summer time cannot skip a day.
    const d = new Date(m.year, m.month, 1 - lead + i);
    if (i % 7 === 0) weeks.push([]);
    weeks[weeks.length - 1].push(d);
  }
  return weeks;
}

const pad = (n: number) => String(n).padStart(2, "0");

export const dayKey = (d: Date) => `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;

export const formatMonth = (m: Month) => `${m.year}-${pad(m.month + 1)}`;

export function parseMonth(s: string | null | undefined): Month | null {
  const r = /^(\d{4})-(\d{2})$/.exec(s ?? "");
  if (!r) return null;
  const month = Number(r[2]) - 1;
  return month >= 0 && month < 12 ? { year: Number(r[1]), month } : null;
}

export const monthTitle = (m: Month, locale?: string) =>
  new Date(m.year, m.month, 1).toLocaleDateString(locale, { month: "long", year: "numeric" });

export const weekdayNames = (weekStart = 1, locale?: string) =>
  // 2024-01-01 was a Monday.
  Array.from({ length: 7 }, (_, i) => new Date(2024, 0, 1 + ((weekStart + 6 + i) % 7)).toLocaleDateString(locale, { weekday: "short" }));

export interface CalendarEntry {
  kind: "run" | "upcoming";
  at: string;
  scheduleId: string;
  name: string;
  status?: string;
  runId?: string;
}

// calendarEntries merges past runs and upcoming due times, sorted by time and grouped by local
// day. Runs name their schedule only by id, so names come from the upcoming entries or names.
export function calendarEntries(win: CalendarWindow, names: Map<string, string> = new Map()): Map<string, CalendarEntry[]> {
  const known = new Map(names);
  for (const u of win.upcoming) if (!known.has(u.schedule_id)) known.set(u.schedule_id, u.name);
  const all: CalendarEntry[] = [
    ...win.runs.map((r) => ({
      kind: "run" as const,
      at: r.due_at,
      scheduleId: r.schedule_id,
      name: known.get(r.schedule_id) ?? r.schedule_id.slice(0, 8),
      status: r.status,
      runId: r.id,
    })),
    ...win.upcoming.map((u) => ({ kind: "upcoming" as const, at: u.due_at, scheduleId: u.schedule_id, name: u.name })),
  ];
  all.sort((a, b) => new Date(a.at).getTime() - new Date(b.at).getTime());
  const byDay = new Map<string, CalendarEntry[]>();
  for (const e of all) {
    const k = dayKey(new Date(e.at));
    const list = byDay.get(k) ?? [];
    list.push(e);
    byDay.set(k, list);
  }
  return byDay;
}
