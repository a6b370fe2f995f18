import { useQuery } from "@tanstack/react-query";
import { useEffect, useMemo, useState } from "react";
import { Link, useSearchParams } from "react-router-dom";
import { schedulesApi } from "../api/schedules";
import { Empty, ErrorBox, Loading, PageHeader } from "../components/ui";
import {
  calendarEntries,
  dayKey,
  formatMonth,
  monthGrid,
  monthOf,
  monthTitle,
  gridWindow,
  parseMonth,
  shiftMonth,
  weekdayNames,
  type CalendarEntry,
  type Month,
} from "./schedules/calendar";

// The schedules' month: past runs coloured by status and the due times still to come, as a grid
// on wide screens (the neighbouring months' days it shows included) and a list of the month's
// days on phones. The month shown is in the URL (?month=2027-01).

const runColours: Record<string, string> = {
  succeeded: "bg-emerald-100 text-emerald-900 border-emerald-300",
  failed: "bg-rose-100 text-rose-900 border-rose-300",
  running: "bg-sky-100 text-sky-900 border-sky-300",
  retrying: "bg-amber-100 text-amber-900 border-amber-300",
  pending: "bg-slate-100 text-slate-800 border-slate-300",
};
const upcomingColour = "border-dashed border-indigo-300 bg-white text-indigo-800";

function useWide(query = "(min-width: 768px)"): boolean {
  const get = () => (typeof window !== "undefined" && window.matchMedia ? window.matchMedia(query).matches : true);
  const [wide, setWide] = useState(get);
  useEffect(() => {
    if (!window.matchMedia) return;
    const mq = window.matchMedia(query);
    const on = () => setWide(mq.matches);
    mq.addEventListener?.("change", on);
    return () => mq.removeEventListener?.("change", on);
  }, [query]);
  return wide;
}

const time = (iso: string) => new Date(iso).toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit" });

export default function Calendar() {
  const [params, setParams] = useSearchParams();
  const month: Month = parseMonth(params.get("month")) ?? monthOf(new Date());
  const go = (m: Month) => setParams({ month: formatMonth(m) });
  const wide = useWide();
  const [view, setView] = useState<"grid" | "list" | null>(null);
  const shown = view ?? (wide ? "grid" : "list");

  const key = formatMonth(month);
  const win = useMemo(() => gridWindow(parseMonth(key)!), [key]);
  const cal = useQuery({
    queryKey: ["calendar", key],
    queryFn: () => schedulesApi.calendar(win.from.toISOString(), win.to.toISOString()),
  });
  const names = useQuery({ queryKey: ["schedule-names"], queryFn: () => schedulesApi.list(), staleTime: 60_000 });
  const byDay = useMemo(() => {
    const known = new Map((names.data?.items ?? []).map((s) => [s.id, s.name]));
    return cal.data ? calendarEntries(cal.data, known) : new Map<string, CalendarEntry[]>();
  }, [cal.data, names.data]);

  return (
    <div className="space-y-4">
      <PageHeader title="Calendar">
        <button className="btn-secondary" aria-label="Previous month" onClick={() => go(shiftMonth(month, -1))}>
          ‹ Previous
        </button>
        <span data-testid="calendar-month" data-month={formatMonth(month)} className="min-w-36 text-center font-medium">
          {monthTitle(month)}
        </span>
        <button className="btn-secondary" aria-label="Next month" onClick={() => go(shiftMonth(month, 1))}>
          Next ›
        </button>
        <button className="btn-secondary" onClick={() => go(monthOf(new Date()))}>
          Today
        </button>
        <div className="flex rounded-md border border-slate-300 text-sm" role="group" aria-label="View">
          {(["grid", "list"] as const).map((v) => (
            <button key={v} aria-pressed={shown === v} className={`px-2 py-1 ${shown === v ? "bg-slate-200 font-medium" : "bg-white"}`} onClick={() => setView(v)}>
              {v === "grid" ? "Month" : "List"}
            </button>
          ))}
        </div>
      </PageHeader>
      <Legend />
      {cal.isPending ? (
        <Loading what="Loading the month" />
      ) : cal.isError ? (
        <ErrorBox error={cal.error} retry={() => cal.refetch()} />
      ) : shown === "grid" ? (
        <MonthGrid month={month} byDay={byDay} />
      ) : (
        <DayList month={month} byDay={byDay} />
      )}
    </div>
  );
}

function Legend() {
  return (
    <div className="flex flex-wrap gap-2 text-xs">
      {Object.entries(runColours).map(([s, c]) => (
        <span key={s} className={`rounded border px-1.5 ${c}`}>
          run {s}
        </span>
      ))}
      <span className={`rounded border px-1.5 ${upcomingColour}`}>upcoming</span>
    </div>
  );
}

function EntryLink({ e }: { e: CalendarEntry }) {
  const colour = e.kind === "upcoming" ? upcomingColour : (runColours[e.status ?? ""] ?? runColours.pending);
  const title = e.kind === "upcoming" ? `${e.name}: due ${new Date(e.at).toLocaleString()}` : `${e.name}: run ${e.status}, due ${new Date(e.at).toLocaleString()}`;
  return (
    <Link
      to={`/schedules/${e.scheduleId}`}
      title={title}
      data-testid="calendar-entry"
      data-kind={e.kind}
      data-status={e.status}
      data-schedule={e.scheduleId}
      className={`block truncate rounded border px-1 text-[11px] leading-5 hover:underline ${colour}`}
    >
      {time(e.at)} {e.name}
    </Link>
  );
}

const MAX_IN_CELL = 3;

function DayEntries({ entries }: { entries: CalendarEntry[] }) {
  const [open, setOpen] = useState(false);
  const shown = open ? entries : entries.slice(0, MAX_IN_CELL);
  return (
    <div className="space-y-0.5">
      {shown.map((e, i) => (
        <EntryLink key={`${e.kind}-${e.runId ?? e.scheduleId}-${e.at}-${i}`} e={e} />
      ))}
      {entries.length > MAX_IN_CELL && (
        <button className="text-[11px] text-indigo-700 hover:underline" onClick={() => setOpen(!open)}>
          {open ? "fewer" : `+${entries.length - MAX_IN_CELL} more`}
        </button>
      )}
    </div>
  );
}

function MonthGrid({ month, byDay }: { month: Month; byDay: Map<string, CalendarEntry[]> }) {
  const today = dayKey(new Date());
  const empty = ![...byDay.keys()].some((k) => k.startsWith(formatMonth(month)));
  return (
    <div className="space-y-2 overflow-x-auto" data-testid="calendar-grid">
      {empty && <Empty>Nothing ran and nothing is due in {monthTitle(month)}.</Empty>}
      <div className="grid min-w-[700px] grid-cols-7 border-l border-t border-slate-200 bg-white text-sm">
        {weekdayNames().map((d) => (
          <div key={d} className="border-b border-r border-slate-200 bg-slate-50 px-2 py-1 text-xs font-semibold uppercase text-slate-500">
            {d}
          </div>
        ))}
        {monthGrid(month)
          .flat()
          .map((d) => {
            const k = dayKey(d);
            const inMonth = d.getMonth() === month.month;
            const entries = byDay.get(k) ?? [];
            return (
              <div
                key={k}
                data-day={k}
                className={`min-h-24 border-b border-r border-slate-200 p-1 ${inMonth ? "" : "bg-slate-50 text-slate-400"}`}
              >
                <div className={`mb-0.5 text-xs ${k === today ? "inline-block rounded-full bg-indigo-600 px-1.5 font-semibold text-white" : ""}`}>{d.getDate()}</div>
                {entries.length > 0 && <DayEntries entries={entries} />}
              </div>
            );
          })}
      </div>
    </div>
  );
}

function DayList({ month, byDay }: { month: Month; byDay: Map<string, CalendarEntry[]> }) {
  const days = monthGrid(month)
    .flat()
    .filter((d) => d.getMonth() === month.month)
    .map((d) => ({ d, entries: byDay.get(dayKey(d)) ?? [] }))
    .filter((x) => x.entries.length > 0);
  if (days.length === 0) return <Empty>Nothing ran and nothing is due in {monthTitle(month)}.</Empty>;
  return (
    <ul className="space-y-3" data-testid="calendar-list">
      {days.map(({ d, entries }) => (
        <li key={dayKey(d)} data-day={dayKey(d)} className="card p-3">
          <div className="mb-1 text-sm font-medium">{d.toLocaleDateString(undefined, { weekday: "long", day: "numeric", month: "long" })}</div>
          <div className="space-y-1">
            {entries.map((e, i) => (
              <EntryLink key={`${e.kind}-${e.runId ?? e.scheduleId}-${e.at}-${i}`} e={e} />
            ))}
          </div>
        </li>
      ))}
    </ul>
  );
}
