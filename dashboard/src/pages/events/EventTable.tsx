import type { KeyboardEvent, MouseEvent } from "react";
import type { EventFilters, LogEvent } from "../../api/events";
import { when } from "../../components/ui";

// The log as a table, newest first. A row opens its detail; the funnel by a stream id, stream
// type or event type narrows the filters to that value. The values themselves are not buttons:
// they fill the middle of a row, which must stay a click that opens the event.
export function EventTable({
  events,
  selected,
  fresh,
  onSelect,
  onFilter,
  compact = false,
}: {
  events: LogEvent[];
  // compact: the detail panel takes half the width, so long stream ids are cut (in full on hover).
  compact?: boolean;
  selected: number | null;
  fresh: Set<number>;
  onSelect: (position: number) => void;
  onFilter: (patch: Partial<EventFilters>) => void;
}) {
  return (
    <div className="overflow-x-auto">
      <table className="table">
        <thead>
          <tr>
            <th>Position</th>
            <th>Time</th>
            <th>Type</th>
            <th>Stream</th>
            <th>Actor</th>
          </tr>
        </thead>
        <tbody>
          {events.map((e) => (
            <Row
              key={e.position}
              e={e}
              compact={compact}
              selected={selected === e.position}
              fresh={fresh.has(e.position)}
              onSelect={onSelect}
              onFilter={onFilter}
            />
          ))}
        </tbody>
      </table>
    </div>
  );
}

function Row({
  e,
  compact,
  selected,
  fresh,
  onSelect,
  onFilter,
}: {
  e: LogEvent;
  compact: boolean;
  selected: boolean;
  fresh: boolean;
  onSelect: (position: number) => void;
  onFilter: (patch: Partial<EventFilters>) => void;
}) {
  const open = () => onSelect(e.position);
  const key = (ev: KeyboardEvent) => {
    if (ev.key === "Enter" || ev.key === " ") {
      ev.preventDefault();
      open();
    }
  };
  // A filter link must not also open the row.
  const filter = (patch: Partial<EventFilters>) => (ev: MouseEvent) => {
    ev.stopPropagation();
    onFilter(patch);
  };
  const cls = selected ? "bg-indigo-50" : fresh ? "bg-emerald-50/60 hover:bg-slate-50" : "hover:bg-slate-50";
  return (
    <tr
      data-testid="event-row"
      data-position={e.position}
      data-live={fresh || undefined}
      aria-selected={selected}
      tabIndex={0}
      onClick={open}
      onKeyDown={key}
      className={`cursor-pointer ${cls}`}
    >
      <td className="font-mono text-xs tabular-nums">
        {e.position}
        {fresh && <span className="ml-1 text-emerald-600" title="arrived live">●</span>}
      </td>
      <td className="whitespace-nowrap text-xs text-slate-600" title={when(e.occurred_at)}>
        {shortTime(e.occurred_at)}
      </td>
      <td className="whitespace-nowrap font-mono text-xs">
        <span>{e.type}</span>
        <FilterButton label={`Only events of type ${e.type}`} onClick={filter({ type: e.type })} />
      </td>
      <td className="whitespace-nowrap text-xs">
        <span className={`font-mono ${compact ? "inline-block max-w-[11rem] truncate align-bottom" : ""}`} title={e.stream_id}>
          {e.stream_id}
        </span>
        <FilterButton label={`Only stream ${e.stream_id}`} onClick={filter({ stream: e.stream_id })} />
        <span className="ml-1 text-slate-500">v{e.version}</span>
        <div className="text-slate-500">
          {e.stream_type}
          <FilterButton label={`Only streams of type ${e.stream_type}`} onClick={filter({ stream_type: e.stream_type })} />
        </div>
      </td>
      <td className="whitespace-nowrap text-xs text-slate-600">{e.partial ? "…" : e.metadata?.actor || "—"}</td>
    </tr>
  );
}

function FilterButton({ label, onClick }: { label: string; onClick: (ev: MouseEvent) => void }) {
  return (
    <button
      type="button"
      className="ml-1 inline-flex h-5 w-5 items-center justify-center rounded align-middle text-slate-400 hover:bg-indigo-50 hover:text-indigo-700"
      title={label}
      aria-label={label}
      data-filter
      onClick={onClick}
    >
      <svg viewBox="0 0 16 16" width="12" height="12" aria-hidden="true" fill="currentColor">
        <path d="M1.5 2h13l-5 6.2V13l-3 1.5V8.2z" />
      </svg>
    </button>
  );
}

// shortTime is the time of day for today's events, the date and time for older ones.
export function shortTime(iso: string, now = new Date()): string {
  const d = new Date(iso);
  if (isNaN(d.getTime())) return iso;
  return d.toDateString() === now.toDateString() ? d.toLocaleTimeString() : d.toLocaleString();
}
