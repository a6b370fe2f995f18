import { api } from "./client";
import type { FeedMessage } from "../live/feed";

// The event log as GET /events returns it (eventlog.Event) and the audit report of
// GET /admin/audit/verify (eventlog.AuditReport), with the helpers the explorer needs.
export interface EventMetadata {
  correlation_id?: string;
  causation_id?: string;
  actor?: string;
  extra?: Record<string, string>;
}

export interface LogEvent {
  position: number;
  tx?: number;
  id?: string;
  stream_id: string;
  stream_type: string;
  version: number;
  type: string;
  schema_version?: number;
  payload: unknown;
  metadata?: EventMetadata;
  occurred_at: string;
  // Go marshals []byte as base64.
  prev_hash?: string | null;
  hash?: string | null;
  // partial marks an event known only from the live feed (no metadata, no hashes yet).
  partial?: boolean;
}

export interface EventFilters {
  stream: string;
  stream_type: string;
  type: string;
}

export interface AuditBreak {
  stream_id: string;
  version: number;
  position: number;
  reason: string;
}

export interface AuditReport {
  ok: boolean;
  streams: number;
  events: number;
  breaks: AuditBreak[];
}

export const PAGE_SIZE = 50;
// The most GET /events returns at once.
export const MAX_LIMIT = 500;

export const noFilters: EventFilters = { stream: "", stream_type: "", type: "" };

export function eventsPath(f: EventFilters, extra: Record<string, string | number> = {}): string {
  const q = new URLSearchParams();
  for (const k of ["stream", "stream_type", "type"] as const) if (f[k].trim()) q.set(k, f[k].trim());
  for (const [k, v] of Object.entries(extra)) q.set(k, String(v));
  const s = q.toString();
  return s ? `/events?${s}` : "/events";
}

// Go encodes a nil slice as null.
const list = <T,>(xs: T[] | null | undefined): T[] => xs ?? [];

export const latestEvents = async (f: EventFilters, limit = PAGE_SIZE) =>
  list((await api<{ events: LogEvent[] | null }>(eventsPath(f, { limit }))).events);

// eventsAfter reads in global order (ascending) after a position the log holds (0: the start).
export const eventsAfter = async (f: EventFilters, after: number, limit = MAX_LIMIT) =>
  list((await api<{ events: LogEvent[] | null }>(eventsPath(f, { after, limit }))).events);

export async function verifyAudit(stream: string): Promise<AuditReport> {
  const r = await api<AuditReport>(stream.trim() ? `/admin/audit/verify?stream=${encodeURIComponent(stream.trim())}` : "/admin/audit/verify");
  return { ...r, breaks: list(r.breaks) };
}

export interface OlderCursor {
  // oldest is the last event shown (the page continues below it), newest the first one loaded.
  oldest: number;
  newest: number;
  loaded: number;
}

export interface EventPage {
  events: LogEvent[];
  done: boolean;
  // capped: older events exist but cannot be reached without ?before= (see olderEvents).
  capped?: boolean;
}

// olderEvents pages backwards from the oldest event shown with ?before=<position>. A server
// that does not know `before` answers the newest events again (it ignores unknown parameters);
// then the page is found by asking for a longer newest-first list and keeping what follows the
// oldest event shown, which reaches back at most MAX_LIMIT events.
export async function olderEvents(f: EventFilters, c: OlderCursor): Promise<EventPage> {
  const page = list((await api<{ events: LogEvent[] | null }>(eventsPath(f, { before: c.oldest, limit: PAGE_SIZE }))).events);
  if (!page.some((e) => e.position >= c.newest)) return { events: page, done: page.length < PAGE_SIZE };
  const limit = Math.min(MAX_LIMIT, c.loaded + PAGE_SIZE);
  const all = await latestEvents(f, limit);
  const at = all.findIndex((e) => e.position === c.oldest);
  const capped = limit >= MAX_LIMIT && all.length >= limit;
  return { events: at < 0 ? [] : all.slice(at + 1), done: all.length < limit || capped, capped };
}

// mergeEvents keeps the first copy of each position (callers put the fullest copies first).
export function mergeEvents(...lists: LogEvent[][]): LogEvent[] {
  const seen = new Set<number>();
  const out: LogEvent[] = [];
  for (const list of lists)
    for (const e of list) {
      if (seen.has(e.position)) continue;
      seen.add(e.position);
      out.push(e);
    }
  return out;
}

// hashHex turns a base64 hash (Go's encoding of []byte) into hex; "" for none.
export function hashHex(b64: string | null | undefined): string {
  if (!b64) return "";
  let bin: string;
  try {
    bin = atob(b64);
  } catch {
    return b64;
  }
  let out = "";
  for (let i = 0; i < bin.length; i++) out += bin.charCodeAt(i).toString(16).padStart(2, "0");
  return out;
}

// plural mirrors livefeed.plural: stream types are regular English nouns.
export function plural(s: string): string {
  if (/(s|x|z|ch|sh)$/.test(s)) return s + "es";
  if (s.length > 1 && s.endsWith("y") && !"aeiou".includes(s[s.length - 2])) return s.slice(0, -1) + "ies";
  return s + "s";
}

// streamTypeOf reads the type from a stream id ("pipeline_run-<uuid>" → "pipeline_run").
export function streamTypeOf(streamId: string): string {
  const dash = streamId.indexOf("-");
  return dash > 0 ? streamId.slice(0, dash) : "";
}

// topicForStream is the live topic of one stream (livefeed.TopicsOf): the plural of its type
// and its id without the "<type>-" prefix, e.g. "agent-42" → "agents:42".
export function topicForStream(streamId: string, streamType = ""): string {
  const type = streamType.trim() || streamTypeOf(streamId);
  if (!type) return "all";
  const id = streamId.startsWith(type + "-") ? streamId.slice(type.length + 1) : streamId;
  return `${plural(type)}:${id}`;
}

// topicFor is the narrowest topic that carries every event the filters match.
export function topicFor(f: EventFilters): string {
  if (f.stream.trim()) return topicForStream(f.stream.trim(), f.stream_type);
  if (f.stream_type.trim()) return plural(f.stream_type.trim());
  return "all";
}

export const feedPathFor = (f: EventFilters) => `/ws?topics=${encodeURIComponent(topicFor(f))}`;

// A topic also carries events of other streams (a chat reply is on its agent's topic), so live
// messages are filtered again here.
export function matchesFilters(e: Pick<LogEvent, "stream_id" | "stream_type" | "type">, f: EventFilters): boolean {
  return (
    (!f.stream.trim() || e.stream_id === f.stream.trim()) &&
    (!f.stream_type.trim() || e.stream_type === f.stream_type.trim()) &&
    (!f.type.trim() || e.type === f.type.trim())
  );
}

export function fromFeed(m: FeedMessage): LogEvent | null {
  if (m.position === undefined || !m.stream) return null;
  return {
    position: m.position,
    stream_id: m.stream.id,
    stream_type: m.stream.type,
    version: m.stream.version,
    type: m.type,
    payload: m.data,
    occurred_at: m.timestamp,
    partial: true,
  };
}

// The wording is fixed ("N events in M streams", even for one) so scripts can read it.
export function auditSummary(r: AuditReport): string {
  return r.ok
    ? `chain intact: ${r.events} events in ${r.streams} streams`
    : `chain broken in ${r.breaks.length} of ${r.streams} streams (${r.events} events checked)`;
}
