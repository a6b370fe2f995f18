import type { ReactNode } from "react";
import { ApiError } from "../api/client";
import type { FeedState } from "../live/feed";

// The states every view shows: loading, empty, error; and the small pieces forms share.
export function Loading({ what = "Loading" }: { what?: string }) {
  return (
    <div role="status" className="flex items-center gap-2 p-4 text-sm text-slate-500">
      <span className="h-3 w-3 animate-spin rounded-full border-2 border-slate-300 border-t-indigo-600" />
      {what}…
    </div>
  );
}

export function Empty({ children }: { children: ReactNode }) {
  return <div className="rounded-md border border-dashed border-slate-300 p-6 text-center text-sm text-slate-500">{children}</div>;
}

export function ErrorBox({ error, retry }: { error: unknown; retry?: () => void }) {
  if (!error) return null;
  const e = error as Error;
  const api = error instanceof ApiError ? error : null;
  return (
    <div role="alert" className="rounded-md border border-rose-200 bg-rose-50 p-3 text-sm text-rose-800">
      <div className="font-medium">{e.message}</div>
      {api && api.fields.length > 1 && (
        <ul className="mt-1 list-disc pl-5">
          {api.fields.map((f) => (
            <li key={f.field + f.message}>
              <code>{f.field}</code>: {f.message}
            </li>
          ))}
        </ul>
      )}
      {api?.requestId && <div className="mt-1 text-xs text-rose-600">request {api.requestId}</div>}
      {retry && (
        <button className="btn-secondary mt-2" onClick={retry}>
          Try again
        </button>
      )}
    </div>
  );
}

export function Field({ label, name, error, children }: { label: string; name: string; error?: ApiError | null; children: ReactNode }) {
  const msg = error?.fieldMessage(name);
  return (
    <label className="block">
      <span className="label">{label}</span>
      {children}
      {msg && (
        <span className="mt-1 block text-xs text-rose-600" data-field-error={name}>
          {msg}
        </span>
      )}
    </label>
  );
}

export function LiveBadge({ state }: { state: FeedState }) {
  const styles: Record<FeedState, string> = {
    live: "bg-emerald-100 text-emerald-800",
    connecting: "bg-slate-100 text-slate-600",
    reconnecting: "bg-amber-100 text-amber-800",
    closed: "bg-slate-100 text-slate-500",
  };
  return (
    <span className={`pill ${styles[state]}`} data-feed-state={state}>
      {state === "live" ? "● live" : state}
    </span>
  );
}

export function StatusPill({ status }: { status: string }) {
  const good = ["completed", "succeeded", "active", "running", "live", "approved"];
  const bad = ["failed", "timed_out", "cancelled", "rejected", "blocked", "deleted"];
  const cls = good.includes(status)
    ? "bg-emerald-100 text-emerald-800"
    : bad.includes(status)
      ? "bg-rose-100 text-rose-800"
      : "bg-slate-100 text-slate-700";
  return (
    <span className={`pill ${cls}`} data-status={status}>
      {status}
    </span>
  );
}

export function PageHeader({ title, children }: { title: string; children?: ReactNode }) {
  return (
    <div className="mb-4 flex flex-wrap items-center justify-between gap-2">
      <h1 className="text-xl font-semibold">{title}</h1>
      <div className="flex flex-wrap items-center gap-2">{children}</div>
    </div>
  );
}

export function when(t?: string | null): string {
  if (!t) return "—";
  const d = new Date(t);
  return isNaN(d.getTime()) ? t : d.toLocaleString();
}
