import { act, fireEvent, screen, waitFor } from "@testing-library/react";
import { afterEach, describe, expect, it } from "vitest";
import Schedules from "./Schedules";
import { actionTemplates, emptyForm, localToRFC3339, rfc3339ToLocal, scheduleBody, templateText } from "./schedules/form";
import { renderAt, stubFetch } from "./pipelines/testutil";

const realFetch = globalThis.fetch;
afterEach(() => {
  globalThis.fetch = realFetch;
});

describe("schedule form", () => {
  const base = { ...emptyForm(), name: "Nightly", time_zone: "Europe/Paris" };

  it("sends only the timing field of the chosen type", () => {
    expect(scheduleBody({ ...base, type: "cron", cron: "0 9 * * 1-5" }).body).toEqual({
      name: "Nightly",
      type: "cron",
      cron: "0 9 * * 1-5",
      time_zone: "Europe/Paris",
      action: "call_api",
      action_config: actionTemplates.call_api,
      max_retries: 0,
      retry_delay_sec: 300,
      missed_policy: "run_latest",
    });
    const interval = scheduleBody({ ...base, type: "interval", interval_sec: "900", cron: "ignored" }).body!;
    expect(interval.interval_sec).toBe(900);
    expect(interval).not.toHaveProperty("cron");
    expect(interval).not.toHaveProperty("time_zone");
    const event = scheduleBody({ ...base, type: "event", event_type: "agent.created" }).body!;
    expect(event.event_type).toBe("agent.created");
    expect(event).not.toHaveProperty("interval_sec");
  });

  it("converts run_at from local time to RFC 3339, leaving what it cannot read to the API", () => {
    const local = "2027-01-31T09:30";
    const once = scheduleBody({ ...base, type: "once", run_at: local }).body!;
    expect(once.run_at).toBe(new Date(2027, 0, 31, 9, 30).toISOString());
    expect(once.run_at).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/);
    expect(rfc3339ToLocal(once.run_at!)).toBe(local);
    expect(localToRFC3339("soon")).toBe("soon");
    expect(scheduleBody({ ...base, type: "once", run_at: "" }).body).not.toHaveProperty("run_at");
  });

  it("reports an action config that is not JSON at its field", () => {
    expect(scheduleBody({ ...base, action_config: "{url:" }).error?.field).toBe("action_config");
    expect(scheduleBody({ ...base, action_config: "" }).body?.action_config).toEqual({});
  });

  it("has a template for every action", () => {
    for (const a of ["run_task", "execute_pipeline", "send_notification", "call_api"]) expect(JSON.parse(templateText(a))).toEqual(actionTemplates[a]);
  });
});

const schedule = {
  id: "s1",
  owner: "u1",
  name: "Nightly digest",
  type: "cron",
  action: "execute_pipeline",
  status: "active",
  spec: { name: "Nightly digest", type: "cron", cron: "0 2 * * *", time_zone: "UTC", action: "execute_pipeline", action_config: {}, max_retries: 1, retry_delay_sec: 60, missed_policy: "skip" },
  next_due_at: "2027-01-03T02:00:00Z",
  executions: 3,
  runs_succeeded: 2,
  runs_failed: 1,
  last_run_status: "failed",
  version: 5,
  created_at: "2027-01-01T00:00:00Z",
  updated_at: "2027-01-02T00:00:00Z",
};

const open = () => renderAt("/schedules", "/schedules", <Schedules />);

describe("Schedules", () => {
  it("lists schedules with their next due time and last run", async () => {
    stubFetch({ "GET /schedules": { body: { items: [schedule] } } });
    open();
    const link = await screen.findByRole("link", { name: "Nightly digest" });
    expect(link.getAttribute("href")).toBe("/schedules/s1");
    const row = screen.getByTestId("schedule-row");
    expect(row.textContent).toContain("execute_pipeline");
    expect(row.textContent).toContain("0 2 * * *");
    expect(row.querySelector('[data-status="failed"]')).not.toBeNull();
  });

  it("shows only the chosen type's field and prefills the action's template", async () => {
    stubFetch({ "GET /schedules": { body: { items: [] } } });
    open();
    await screen.findByText(/No schedules yet/);
    const q = (n: string) => document.querySelector(`[name="${n}"]`) as HTMLInputElement | null;
    expect(q("cron")).not.toBeNull();
    expect(q("interval_sec")).toBeNull();
    fireEvent.change(q("type")!, { target: { value: "once" } });
    expect(q("cron")).toBeNull();
    expect(q("run_at")?.type).toBe("datetime-local");
    fireEvent.change(q("action")!, { target: { value: "run_task" } });
    expect(JSON.parse((q("action_config") as unknown as HTMLTextAreaElement).value)).toEqual(actionTemplates.run_task);
  });

  it("shows the API's errors at their fields, nested config paths included", async () => {
    const { calls } = stubFetch({
      "GET /schedules": { body: { items: [] } },
      "POST /schedules": {
        status: 400,
        body: {
          error: {
            code: "invalid",
            message: "the schedule is not valid",
            fields: [
              { field: "action_config.url", message: "does not match pattern" },
              { field: "cron", message: "expected 5 fields" },
            ],
          },
        },
      },
    });
    open();
    await screen.findByText(/No schedules yet/);
    fireEvent.change(document.querySelector('[name="name"]')!, { target: { value: "Bad" } });
    fireEvent.change(document.querySelector('[name="cron"]')!, { target: { value: "nope" } });
    await act(async () => {
      fireEvent.click(screen.getByRole("button", { name: "Create schedule" }));
    });
    await waitFor(() => expect(document.querySelector('[data-field-error="cron"]')?.textContent).toBe("expected 5 fields"));
    expect(document.querySelector('[data-field-error="action_config.url"]')?.textContent).toContain("does not match pattern");
    const body = calls.find((c) => c.method === "POST")?.body as Record<string, unknown>;
    expect(body.cron).toBe("nope");
    expect(body.type).toBe("cron");
  });

  it("shows the list's error", async () => {
    stubFetch({ "GET /schedules": { status: 500, body: { error: { code: "internal", message: "database down" } } } });
    open();
    expect((await screen.findByRole("alert")).textContent).toContain("database down");
  });
});
