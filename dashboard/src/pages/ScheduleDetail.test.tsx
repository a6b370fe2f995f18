import { act, fireEvent, screen, waitFor } from "@testing-library/react";
import { afterEach, describe, expect, it } from "vitest";
import ScheduleDetail from "./ScheduleDetail";
import { renderAt, stubFetch } from "./pipelines/testutil";

const realFetch = globalThis.fetch;
afterEach(() => {
  globalThis.fetch = realFetch;
});

const schedule = (status = "active") => ({
  id: "s1",
  owner: "u1",
  name: "Hourly ping",
  type: "interval",
  action: "call_api",
  status,
  spec: { name: "Hourly ping", type: "interval", interval_sec: 3600, action: "call_api", action_config: { url: "https://example.org/ping" }, max_retries: 2, retry_delay_sec: 30, timeout_sec: 60, missed_policy: "run_latest" },
  next_due_at: "2027-01-03T02:00:00Z",
  executions: 7,
  runs_succeeded: 6,
  runs_failed: 1,
  version: 9,
  created_at: "2027-01-01T00:00:00Z",
  updated_at: "2027-01-02T00:00:00Z",
});

const runs = {
  items: [
    {
      id: "run1",
      schedule_id: "s1",
      owner: "u1",
      trigger: "scheduler",
      fire_key: "k",
      status: "failed",
      due_at: "2027-01-02T01:00:00Z",
      fired_at: "2027-01-02T01:00:00Z",
      attempts: 3,
      max_retries: 2,
      error: "HTTP 500",
      duration_ms: 1200,
      history: [
        { attempt: 1, started_at: "2027-01-02T01:00:00Z", outcome: "failed", error: "HTTP 500", will_retry: true, retry_at: "2027-01-02T01:00:30Z" },
        { attempt: 2, started_at: "2027-01-02T01:00:30Z", outcome: "failed", error: "HTTP 500" },
      ],
      version: 4,
    },
  ],
};

const upcoming = { from: "x", to: "y", items: [{ schedule_id: "s1", name: "Hourly ping", action: "call_api", due_at: "2027-01-03T02:00:00Z" }, { schedule_id: "s1", name: "Hourly ping", action: "call_api", due_at: "2027-01-03T03:00:00Z" }] };

const open = () => renderAt("/schedules/s1", "/schedules/:id", <ScheduleDetail />);

describe("ScheduleDetail", () => {
  it("shows the spec, counters, upcoming due times and runs with their attempts", async () => {
    const { calls } = stubFetch({
      "GET /schedules/s1": { body: schedule(), headers: { ETag: '"9"' } },
      "GET /schedules/s1/runs": { body: runs },
      "GET /schedules/s1/upcoming": { body: upcoming },
    });
    open();
    expect((await screen.findByTestId("schedule-executions")).textContent).toBe("7");
    expect(screen.getByTestId("schedule-action-config").textContent).toContain("https://example.org/ping");
    expect(await screen.findAllByTestId("upcoming-item")).toHaveLength(2);
    const run = await screen.findByTestId("schedule-run");
    expect(run.dataset.status).toBe("failed");
    expect(run.textContent).toContain("scheduler");
    expect(run.textContent).toContain("3 / 3");
    expect(screen.getAllByTestId("run-attempt")).toHaveLength(2);
    const up = calls.find((c) => c.url.startsWith("/schedules/s1/upcoming"))!;
    expect(new URL(up.url, "http://x").searchParams.get("limit")).toBe("10");
  });

  it("pauses and triggers", async () => {
    let status = "active";
    const { calls } = stubFetch({
      "GET /schedules/s1": () => ({ body: schedule(status) }),
      "GET /schedules/s1/runs": { body: { items: [] } },
      "GET /schedules/s1/upcoming": { body: { items: [] } },
      "POST /schedules/s1/pause": () => {
        status = "paused";
        return { body: schedule(status) };
      },
      "POST /schedules/s1/trigger": { status: 202, body: { ...runs.items[0], id: "run2", status: "pending", trigger: "manual" } },
    });
    open();
    await screen.findByText("No runs yet. Trigger now runs it once.");
    await act(async () => {
      fireEvent.click(screen.getByRole("button", { name: "Pause" }));
    });
    expect(await screen.findByRole("button", { name: "Resume" })).toBeTruthy();
    await act(async () => {
      fireEvent.click(screen.getByRole("button", { name: "Trigger now" }));
    });
    await waitFor(() => expect(calls.some((c) => c.method === "POST" && c.url === "/schedules/s1/trigger")).toBe(true));
    expect((await screen.findByText(/Triggered: run/)).textContent).toContain("run2");
  });

  it("deletes after a confirmation and returns to the list", async () => {
    stubFetch({
      "GET /schedules/s1": { body: schedule() },
      "GET /schedules/s1/runs": { body: { items: [] } },
      "GET /schedules/s1/upcoming": { body: { items: [] } },
      "DELETE /schedules/s1": { status: 204 },
    });
    open();
    fireEvent.click(await screen.findByRole("button", { name: "Delete" }));
    await act(async () => {
      fireEvent.click(screen.getByRole("button", { name: "Confirm delete" }));
    });
    await waitFor(() => expect(screen.getByTestId("location").textContent).toBe("/schedules"));
  });

  it("shows why a schedule cannot be read", async () => {
    stubFetch({ "GET /schedules/s1": { status: 403, body: { error: { code: "forbidden", message: "this schedule is not yours" } } } });
    open();
    expect((await screen.findByRole("alert")).textContent).toContain("not yours");
  });
});
