import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { act, fireEvent, render, screen, waitFor, within } from "@testing-library/react";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { MemoryRouter } from "react-router-dom";
import {
  auditSummary,
  feedPathFor,
  hashHex,
  matchesFilters,
  mergeEvents,
  noFilters,
  olderEvents,
  plural,
  topicFor,
  topicForStream,
  type LogEvent,
} from "../api/events";
import { useSession } from "../auth/session";
import Events from "./Events";
import { shortTime } from "./events/EventTable";

const json = (body: unknown, status = 200) => new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });

function ev(position: number, over: Partial<LogEvent> = {}): LogEvent {
  return {
    position,
    tx: 1000 + position,
    id: `00000000-0000-4000-8000-${String(position).padStart(12, "0")}`,
    stream_id: "agent-42",
    stream_type: "agent",
    version: position,
    type: "agent.created",
    schema_version: 1,
    payload: { name: `Ada ${position}` },
    metadata: { correlation_id: `corr-${position}`, causation_id: `cause-${position}`, actor: "user:u1", extra: { request_id: `req-${position}` } },
    occurred_at: "2025-01-02T03:04:05Z",
    prev_hash: "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
    hash: "AAEC/w==",
    ...over,
  };
}

// stubFetch answers by path (query ignored) and records every URL asked for.
function stubFetch(handler: (url: URL) => Response | Promise<Response>) {
  const fn = vi.fn(async (input: RequestInfo | URL) => handler(new URL(String(input), "http://localhost")));
  globalThis.fetch = fn as unknown as typeof fetch;
  return fn;
}

const urls = (fn: ReturnType<typeof stubFetch>) => fn.mock.calls.map((c) => new URL(String(c[0]), "http://localhost"));

function renderEvents(path = "/events") {
  const qc = new QueryClient({ defaultOptions: { queries: { retry: false }, mutations: { retry: false } } });
  return render(
    <QueryClientProvider client={qc}>
      <MemoryRouter initialEntries={[path]}>
        <Events />
      </MemoryRouter>
    </QueryClientProvider>,
  );
}

const realFetch = globalThis.fetch;
const realWS = globalThis.WebSocket;
afterEach(() => {
  globalThis.fetch = realFetch;
  globalThis.WebSocket = realWS;
  useSession.getState().clear();
});

describe("event log helpers", () => {
  it("prints Go's base64 hashes in hex", () => {
    expect(hashHex("AAEC/w==")).toBe("000102ff");
    expect(hashHex(null)).toBe("");
    expect(hashHex("")).toBe("");
    expect(hashHex("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=")).toBe("0".repeat(64));
  });

  it("names the live topic of a stream as livefeed.TopicsOf does", () => {
    expect(plural("agent")).toBe("agents");
    expect(plural("policy")).toBe("policies");
    expect(plural("day")).toBe("days");
    expect(plural("box")).toBe("boxes");
    expect(plural("pipeline_run")).toBe("pipeline_runs");
    expect(topicForStream("agent-1b2c")).toBe("agents:1b2c");
    expect(topicForStream("pipeline_run-7f-aa")).toBe("pipeline_runs:7f-aa");
    expect(topicForStream("circle-c1", "circle")).toBe("circles:c1");
    expect(topicForStream("nodash")).toBe("all");
    expect(topicFor(noFilters)).toBe("all");
    expect(topicFor({ stream: "", stream_type: "schedule_run", type: "" })).toBe("schedule_runs");
    expect(topicFor({ stream: " agent-9 ", stream_type: "", type: "agent.created" })).toBe("agents:9");
    expect(feedPathFor({ stream: "agent-9", stream_type: "", type: "" })).toBe("/ws?topics=agents%3A9");
    expect(feedPathFor(noFilters)).toBe("/ws?topics=all");
  });

  it("filters live events again, since a topic also carries related streams", () => {
    const chat = { stream_id: "chat-1", stream_type: "chat", type: "chat.replied" };
    expect(matchesFilters(chat, { stream: "agent-9", stream_type: "", type: "" })).toBe(false);
    expect(matchesFilters(chat, { stream: "chat-1", stream_type: "", type: "" })).toBe(true);
    expect(matchesFilters(chat, { stream: "", stream_type: "chat", type: "chat.asked" })).toBe(false);
    expect(matchesFilters(chat, noFilters)).toBe(true);
  });

  it("merges pages and live events once per position, first copy first", () => {
    const partial = { ...ev(3), partial: true };
    expect(mergeEvents([ev(3), ev(2)], [partial, ev(1)]).map((e) => [e.position, !!e.partial])).toEqual([
      [3, false],
      [2, false],
      [1, false],
    ]);
  });

  it("shows today's times without the date", () => {
    const now = new Date("2025-03-04T12:00:00");
    expect(shortTime("2025-03-04T09:30:00", now)).toBe(new Date("2025-03-04T09:30:00").toLocaleTimeString());
    expect(shortTime("2025-03-01T09:30:00", now)).toBe(new Date("2025-03-01T09:30:00").toLocaleString());
    expect(shortTime("not a time", now)).toBe("not a time");
  });

  it("words the audit report", () => {
    expect(auditSummary({ ok: true, streams: 2, events: 7, breaks: [] })).toBe("chain intact: 7 events in 2 streams");
    expect(auditSummary({ ok: false, streams: 3, events: 9, breaks: [{ stream_id: "a-1", version: 2, position: 5, reason: "hash mismatch" }] })).toBe(
      "chain broken in 1 of 3 streams (9 events checked)",
    );
  });

  it("pages backwards with ?before= and copes with a server that ignores it", async () => {
    useSession.setState({ access: "t" });
    const honoring = stubFetch((u) => json({ events: u.searchParams.get("before") === "51" ? [ev(50), ev(49)] : [] }));
    expect(await olderEvents({ ...noFilters, type: "agent.created" }, { oldest: 51, newest: 100, loaded: 50 })).toEqual({ events: [ev(50), ev(49)], done: true });
    expect(urls(honoring)[0].search).toBe("?type=agent.created&before=51&limit=50");

    // Without ?before= the newest come back again: take what follows the oldest shown.
    const latest = Array.from({ length: 100 }, (_, i) => ev(100 - i));
    const ignoring = stubFetch((u) => json({ events: latest.slice(0, Number(u.searchParams.get("limit"))) }));
    const page = await olderEvents(noFilters, { oldest: 51, newest: 100, loaded: 50 });
    expect(page.events.map((e) => e.position)).toEqual(Array.from({ length: 50 }, (_, i) => 50 - i));
    expect(page.done).toBe(false);
    expect(urls(ignoring)[1].searchParams.get("limit")).toBe("100");
  });
});

class FakeSocket {
  static last: FakeSocket | null = null;
  url: string;
  protocols: string[];
  onmessage: ((ev: { data: string }) => void) | null = null;
  onclose: (() => void) | null = null;
  constructor(url: string, protocols: string[]) {
    this.url = url;
    this.protocols = protocols;
    FakeSocket.last = this;
  }
  send() {}
  close() {}
  emit(m: unknown) {
    this.onmessage?.({ data: JSON.stringify(m) });
  }
}

describe("Events page", () => {
  beforeEach(() => {
    useSession.setState({ access: "t", user: { id: "u1", email: "admin@example.com", role: "admin" } });
  });

  it("tells members the log is for admins only", () => {
    useSession.setState({ access: "t", user: { id: "u2", email: "m@example.com", role: "member" } });
    const fetchFn = stubFetch(() => json({ events: [] }));
    renderEvents();
    expect(screen.getByText(/admins only/i)).toBeTruthy();
    expect(fetchFn).not.toHaveBeenCalled();
  });

  it("lists events newest first, opens one, filters by a click, verifies the chain", async () => {
    const fetchFn = stubFetch((u) => {
      if (u.pathname === "/admin/audit/verify") return json({ ok: true, streams: 1, events: 2, breaks: [] });
      if (u.searchParams.get("stream") === "agent-42") return json({ events: [ev(2)] });
      return json({ events: [ev(2), ev(1, { stream_id: "circle-7", stream_type: "circle", type: "circle.created" })] });
    });
    renderEvents();
    const rows = await screen.findAllByTestId("event-row");
    expect(rows.map((r) => r.getAttribute("data-position"))).toEqual(["2", "1"]);
    expect(within(rows[0]).getByText("agent.created")).toBeTruthy();
    expect(within(rows[0]).getByText("user:u1")).toBeTruthy();

    fireEvent.click(rows[0]);
    const detail = await screen.findByTestId("event-detail");
    expect(within(detail).getByText("corr-2")).toBeTruthy();
    expect(within(detail).getByText("cause-2")).toBeTruthy();
    expect(within(detail).getByText("req-2")).toBeTruthy();
    expect(detail.querySelector('[data-hash="self"]')?.textContent).toBe("000102ff");
    expect(detail.querySelector('[data-hash="prev"]')?.textContent).toBe("0".repeat(64));
    expect(within(detail).getByTestId("event-payload").textContent).toContain('"name": "Ada 2"');

    // The funnel by a stream id narrows the view to that stream, without opening the row.
    fireEvent.click(within(rows[1]).getByRole("button", { name: "Only stream circle-7" }));
    await waitFor(() => expect(urls(fetchFn).some((u) => u.searchParams.get("stream") === "circle-7")).toBe(true));
    await waitFor(() => expect((document.querySelector('input[name="stream"]') as HTMLInputElement).value).toBe("circle-7"));

    // The filter form applies typed filters.
    fireEvent.change(document.querySelector('input[name="stream"]')!, { target: { value: "agent-42" } });
    fireEvent.click(screen.getByRole("button", { name: "Apply" }));
    await waitFor(() => expect(screen.getAllByTestId("event-row")).toHaveLength(1));

    fireEvent.click(screen.getByRole("button", { name: "Verify audit chain" }));
    const result = await screen.findByTestId("audit-result");
    expect(result.textContent).toContain("chain intact: 2 events in 1 streams");
    expect(urls(fetchFn).find((u) => u.pathname === "/admin/audit/verify")?.searchParams.get("stream")).toBe("agent-42");
  });

  it("lists the breaks of a broken chain", async () => {
    stubFetch((u) =>
      u.pathname === "/admin/audit/verify"
        ? json({ ok: false, streams: 4, events: 30, breaks: [{ stream_id: "task-9", version: 3, position: 77, reason: "hash does not match" }] })
        : json({ events: [ev(1)] }),
    );
    renderEvents();
    await screen.findAllByTestId("event-row");
    fireEvent.click(screen.getByRole("button", { name: "Verify audit chain" }));
    const result = await screen.findByTestId("audit-result");
    expect(result.getAttribute("data-ok")).toBe("false");
    const brk = within(result).getByTestId("audit-break");
    expect(brk.textContent).toContain("task-9");
    expect(brk.textContent).toContain("77");
    expect(brk.textContent).toContain("hash does not match");
  });

  it("loads older events by position", async () => {
    const first = Array.from({ length: 50 }, (_, i) => ev(120 - i));
    const fetchFn = stubFetch((u) => json({ events: u.searchParams.get("before") === "71" ? [ev(70), ev(69)] : first }));
    renderEvents();
    expect(await screen.findAllByTestId("event-row")).toHaveLength(50);
    fireEvent.click(screen.getByRole("button", { name: "Load older" }));
    await waitFor(() => expect(screen.getAllByTestId("event-row")).toHaveLength(52));
    expect(urls(fetchFn).some((u) => u.searchParams.get("before") === "71")).toBe(true);
    expect(screen.queryByRole("button", { name: "Load older" })).toBeNull();
  });

  it("shows an empty state and an error state", async () => {
    stubFetch(() => json({ events: [] }));
    const { unmount } = renderEvents();
    expect(await screen.findByText("The log has no events yet.")).toBeTruthy();
    unmount();
    stubFetch(() => json({ error: { code: "unavailable", message: "the database is away" } }, 503));
    renderEvents();
    expect(await screen.findByText("the database is away")).toBeTruthy();
  });

  it("follows the log live, prepending events and completing them from the log", async () => {
    globalThis.WebSocket = FakeSocket as unknown as typeof WebSocket;
    const fetchFn = stubFetch((u) =>
      u.searchParams.get("after") === "2" ? json({ events: [ev(3, { metadata: { actor: "user:live" } })] }) : json({ events: [ev(2), ev(1)] }),
    );
    renderEvents();
    await screen.findAllByTestId("event-row");
    fireEvent.click(screen.getByRole("button", { name: "Follow live" }));
    await waitFor(() => expect(FakeSocket.last).not.toBeNull());
    const socket = FakeSocket.last!;
    expect(socket.url).toContain("/ws?topics=all&after=2");
    act(() => socket.emit({ type: "connected" }));
    expect(document.querySelector('[data-feed-state="live"]')).not.toBeNull();
    act(() =>
      socket.emit({ type: "agent.updated", data: { name: "Bea" }, position: 3, timestamp: "2025-01-02T03:05:00Z", stream: { id: "agent-42", type: "agent", version: 3 } }),
    );
    const rows = screen.getAllByTestId("event-row");
    expect(rows.map((r) => r.getAttribute("data-position"))).toEqual(["3", "2", "1"]);
    expect(rows[0].getAttribute("data-live")).toBe("true");
    // The full event (metadata, hashes) is read after the newest complete one.
    await waitFor(() => expect(within(screen.getAllByTestId("event-row")[0]).queryByText("user:live")).not.toBeNull());
    expect(urls(fetchFn).some((u) => u.searchParams.get("after") === "2")).toBe(true);
  });
});
