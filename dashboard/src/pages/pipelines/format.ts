// Small formatters shared by the pipeline and schedule pages.

export function fmtDuration(ms?: number | null): string {
  if (ms === undefined || ms === null || !isFinite(ms)) return "—";
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(s < 10 ? 2 : 1)} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${Math.round(s % 60)}s`;
  const h = Math.floor(m / 60);
  return `${h}h ${m % 60}m`;
}

export function pretty(v: unknown): string {
  if (v === undefined) return "";
  try {
    return JSON.stringify(v, null, 2);
  } catch {
    return String(v);
  }
}

// parseJSON reads a text box: its value, or the parser's complaint. Blank is `blank`.
export function parseJSON(text: string, blank: unknown = undefined): { value?: unknown; error?: string } {
  if (text.trim() === "") return { value: blank };
  try {
    return { value: JSON.parse(text) };
  } catch (e) {
    return { error: `not valid JSON: ${(e as Error).message}` };
  }
}
