import { act, fireEvent, screen, waitFor, within } from "@testing-library/react";
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import type { FeedMessage } from "../live/feed";
import type { PipelineRun as Run } from "../api/pipelines";
import PipelineRun from "./PipelineRun";
import { fmtDuration } from "./pipelines/format";
import { browserShims, renderAt, stubFetch } from "./pipelines/testutil";

// The feed is replaced by a handle on its handler, to play messages as the server would.
const feed = vi.hoisted(() => ({ path: "", handler: null as null | ((m: FeedMessage) => void) }));
vi.mock("../live/feed", () => ({
  useFeed: (path: string, onMessage: (m: FeedMessage) => void) => {
    feed.path = path;
    feed.handler = onMessage;
    return "live";
  },
}));

const realFetch = globalThis.fetch;
beforeAll(browserShims);
afterEach(() => {
  globalThis.fetch = realFetch;
});

const run = (over: Partial<Run> = {}): Run => ({
  id: "r1",
  pipeline_id: "p1",
  pipeline_version: 2,
  owner: "u1",
  started_by: "u1",
  status: "running",
  input: { topic: "news" },
  cancel_forced: false,
  timeout_sec: 3600,
  started_at: "2027-01-02T00:00:00Z",
  version: 4,
  nodes: [
    { node: "start", type: "trigger", status: "completed", attempts: 1, retries: 0, output: { topic: "news" }, duration_ms: 3, history: [{ attempt: 1, started_at: "2027-01-02T00:00:00Z", outcome: "completed", duration_ms: 3 }] },
    {
      node: "ask",
      type: "agent",
      status: "retrying",
      attempts: 1,
      retries: 1,
      error: "HTTP 503",
      history: [{ attempt: 1, started_at: "2027-01-02T00:00:01Z", outcome: "failed", error: "HTTP 503", will_retry: true, backoff_ms: 1000 }],
    },
    { node: "post", type: "action", status: "pending", attempts: 0, retries: 0, history: [] },
  ],
  ...over,
});

const pipeline = {
  id: "p1",
  name: "Digest",
  spec_version: 2,
  spec: { name: "Digest", nodes: [], edges: [{ from: "start", to: "ask" }, { from: "ask", to: "post" }] },
};

const open = () => renderAt("/pipelines/p1/runs/r1", "/pipelines/:id/runs/:run", <PipelineRun />);

describe("PipelineRun", () => {
  it("shows the run's status and each node with its attempts", async () => {
    stubFetch({ "GET /pipelines/p1/runs/r1": { body: run() }, "GET /pipelines/p1": { body: pipeline, headers: { ETag: '"2"' } } });
    open();
    expect((await screen.findByTestId("run-status")).textContent).toBe("running");
    const rows = screen.getAllByTestId("run-node");
    expect(rows.map((r) => [r.dataset.node, r.dataset.status])).toEqual([
      ["start", "completed"],
      ["ask", "retrying"],
      ["post", "pending"],
    ]);
    expect(within(rows[1]).getByText("HTTP 503", { selector: "td" })).toBeTruthy();
    expect(within(rows[1]).getByText(/retry after/)).toBeTruthy();
    expect(screen.getByTestId("run-input").textContent).toContain('"topic": "news"');
    // The graph shows the nodes coloured by status.
    expect(screen.getByTestId("node-ask").dataset.status).toBe("retrying");
  });

  it("shows an agent's tokens live and refetches the run on its events only", async () => {
    const { calls } = stubFetch({ "GET /pipelines/p1/runs/r1": { body: run() }, "GET /pipelines/p1": { body: pipeline } });
    open();
    await screen.findByTestId("run-status");
    expect(feed.path).toBe("/ws/pipelines/p1");
    const gets = () => calls.filter((c) => c.url === "/pipelines/p1/runs/r1").length;
    const before = gets();
    const token = (delta: string, run = "r1"): FeedMessage => ({
      type: "pipeline_node.token",
      data: { run_id: run, node: "ask", delta },
      timestamp: "",
      stream: { id: `pipeline_run-${run}`, type: "pipeline_run", version: 0 },
    });
    act(() => {
      feed.handler!(token("Hel"));
      feed.handler!(token("lo"));
      feed.handler!(token("ignored", "other"));
    });
    expect(within(screen.getByTestId("node-ask")).getByTestId("node-tokens").textContent).toBe("Hello");
    expect(screen.getByTestId("run-node-tokens").textContent).toBe("Hello");
    expect(gets()).toBe(before);
    act(() => {
      feed.handler!({ type: "pipeline_node.completed", data: { node: "ask" }, position: 9, timestamp: "", stream: { id: "pipeline_run-other", type: "pipeline_run", version: 3 } });
    });
    expect(gets()).toBe(before);
    act(() => {
      feed.handler!({ type: "pipeline_node.completed", data: { node: "ask" }, position: 10, timestamp: "", stream: { id: "pipeline_run-r1", type: "pipeline_run", version: 5 } });
    });
    await waitFor(() => expect(gets()).toBe(before + 1));
  });

  it("cancels a running run", async () => {
    const { calls } = stubFetch({
      "GET /pipelines/p1/runs/r1": { body: run() },
      "GET /pipelines/p1": { body: pipeline },
      "POST /pipelines/p1/runs/r1/cancel": { status: 202, body: run({ status: "cancelling" }) },
    });
    open();
    await screen.findByTestId("run-status");
    await act(async () => {
      fireEvent.click(screen.getByRole("button", { name: "Cancel" }));
    });
    await waitFor(() => expect(screen.getByTestId("run-status").textContent).toBe("cancelling"));
    expect(calls.some((c) => c.method === "POST" && c.url.endsWith("/cancel"))).toBe(true);
  });

  it("shows outputs and no Cancel once completed", async () => {
    stubFetch({
      "GET /pipelines/p1/runs/r1": { body: run({ status: "completed", outputs: { post: { ok: true } }, duration_ms: 2500, ended_at: "2027-01-02T00:00:03Z" }) },
      "GET /pipelines/p1": { body: pipeline },
    });
    open();
    expect((await screen.findByTestId("run-status")).textContent).toBe("completed");
    expect(screen.getByTestId("run-outputs").textContent).toContain('"ok": true');
    expect(screen.queryByRole("button", { name: "Cancel" })).toBeNull();
  });

  it("shows a run that cannot be read", async () => {
    stubFetch({ "GET /pipelines/p1/runs/r1": { status: 404, body: { error: { code: "not_found", message: "run not found" } } } });
    open();
    expect((await screen.findByRole("alert")).textContent).toContain("run not found");
  });

  it("formats durations", () => {
    expect(fmtDuration(undefined)).toBe("—");
    expect(fmtDuration(250)).toBe("250 ms");
    expect(fmtDuration(2500)).toBe("2.50 s");
    expect(fmtDuration(125_000)).toBe("2m 5s");
    expect(fmtDuration(3_900_000)).toBe("1h 5m");
  });
});
