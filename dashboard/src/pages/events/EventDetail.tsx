import { useEffect, useRef, type ReactNode } from "react";
import { hashHex, type EventFilters, type LogEvent } from "../../api/events";
import { when } from "../../components/ui";

// Everything the log holds about one event, hashes in hex as `gathering audit` prints them.
export function EventDetail({ e, onClose, onFilter }: { e: LogEvent; onClose: () => void; onFilter: (patch: Partial<EventFilters>) => void }) {
  const ref = useRef<HTMLElement>(null);
  // On a phone the panel sits under the table: bring it into view.
  useEffect(() => {
    ref.current?.scrollIntoView?.({ block: "nearest", behavior: "smooth" });
  }, [e.position]);
  const md = e.metadata ?? {};
  const extra = Object.entries(md.extra ?? {});
  const prev = hashHex(e.prev_hash);
  return (
    <section ref={ref} className="card min-w-0 space-y-3 self-start lg:sticky lg:top-4 lg:max-h-[calc(100vh-2rem)] lg:overflow-auto" data-testid="event-detail" aria-label={`Event ${e.position}`}>
      <div className="flex items-start justify-between gap-2">
        <div className="min-w-0">
          <h2 className="break-all font-mono text-sm font-semibold">{e.type}</h2>
          <div className="text-xs text-slate-500">
            position {e.position} · {when(e.occurred_at)}
          </div>
        </div>
        <button type="button" className="btn-secondary" onClick={onClose} aria-label="Close detail">
          ✕
        </button>
      </div>
      {e.partial && (
        <div role="status" className="rounded bg-amber-50 p-2 text-xs text-amber-800">
          Received live; metadata and hashes are being read from the log…
        </div>
      )}
      <dl className="grid grid-cols-[auto_1fr] gap-x-3 gap-y-1 text-xs">
        <Term label="Stream">
          <button type="button" className="break-all text-left font-mono text-indigo-700 hover:underline" onClick={() => onFilter({ stream: e.stream_id })}>
            {e.stream_id}
          </button>{" "}
          <span className="text-slate-500">
            ({e.stream_type}) version {e.version}
          </span>
        </Term>
        {e.id && <Term label="Event id"><code className="break-all">{e.id}</code></Term>}
        {e.schema_version !== undefined && <Term label="Schema version">{e.schema_version}</Term>}
        {e.tx !== undefined && <Term label="Transaction">{e.tx}</Term>}
      </dl>
      {!e.partial && (
        <div>
          <h3 className="label">Metadata</h3>
          <dl className="grid grid-cols-[auto_1fr] gap-x-3 gap-y-1 text-xs" data-testid="event-metadata">
            <Term label="Correlation id"><Mono value={md.correlation_id} /></Term>
            <Term label="Causation id"><Mono value={md.causation_id} /></Term>
            <Term label="Actor"><Mono value={md.actor} /></Term>
            {extra.map(([k, v]) => (
              <Term key={k} label={k}><Mono value={v} /></Term>
            ))}
          </dl>
        </div>
      )}
      <div>
        <h3 className="label">Payload</h3>
        <pre className="max-h-96 overflow-auto rounded bg-slate-900 p-2 text-xs text-slate-100" data-testid="event-payload">
          {JSON.stringify(e.payload, null, 2)}
        </pre>
      </div>
      {!e.partial && (
        <div className="space-y-1 text-xs">
          <h3 className="label">Hash chain</h3>
          <div>
            <span className="text-slate-500">prev hash </span>
            <code className="break-all" data-hash="prev">{prev || "—"}</code>
            {/^0+$/.test(prev) && <span className="ml-1 text-slate-500">(genesis: the stream's first event)</span>}
          </div>
          <div>
            <span className="text-slate-500">hash </span>
            <code className="break-all" data-hash="self">{hashHex(e.hash) || "—"}</code>
          </div>
        </div>
      )}
    </section>
  );
}

function Term({ label, children }: { label: string; children: ReactNode }) {
  return (
    <>
      <dt className="text-slate-500">{label}</dt>
      <dd className="min-w-0">{children}</dd>
    </>
  );
}

function Mono({ value }: { value?: string }) {
  return value ? <code className="break-all">{value}</code> : <span className="text-slate-400">—</span>;
}
