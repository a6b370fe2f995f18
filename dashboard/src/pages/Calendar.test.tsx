import { fireEvent, screen, waitFor } from "@testing-library/react";
import { afterEach, describe, expect, it } from "vitest";
import Calendar from "./Calendar";
import { calendarEntries, dayKey, daysInMonth, formatMonth, gridWindow, monthGrid, monthOf, monthWindow, parseMonth, shiftMonth } from "./schedules/calendar";
import { renderAt, stubFetch } from "./pipelines/testutil";

const realFetch = globalThis.fetch;
afterEach(() => {
  globalThis.fetch = realFetch;
});

describe("month math", () => {
  it("moves across years both ways", () => {
    expect(shiftMonth({ year: 2027, month: 0 }, -1)).toEqual({ year: 2026, month: 11 });
    expect(shiftMonth({ year: 2026, month: 11 }, 1)).toEqual({ year: 2027, month: 0 });
    expect(shiftMonth({ year: 2027, month: 5 }, -18)).toEqual({ year: 2025, month: 11 });
    expect(shiftMonth({ year: 2027, month: 5 }, 0)).toEqual({ year: 2027, month: 5 });
  });

  it("knows the length of months, leap years included", () => {
    expect(daysInMonth({ year: 2028, month: 1 })).toBe(29);
    expect(daysInMonth({ year: 2027, month: 1 })).toBe(28);
    expect(daysInMonth({ year: 2100, month: 1 })).toBe(28);
    expect(daysInMonth({ year: 2027, month: 3 })).toBe(30);
  });

  it("windows a month from its first local midnight to the next month's", () => {
    const w = monthWindow({ year: 2027, month: 11 });
    expect(w.from).toEqual(new Date(2027, 11, 1));
    expect(w.to).toEqual(new Date(2028, 0, 1));
  });

  it("windows a grid from its first shown day to the day after its last", () => {
    // March 2027: Monday 1 March to Sunday 4 April.
    const w = gridWindow({ year: 2027, month: 2 });
    expect(w.from).toEqual(new Date(2027, 2, 1));
    expect(w.to).toEqual(new Date(2027, 3, 5));
    const aug = gridWindow({ year: 2027, month: 7 });
    expect(aug.from).toEqual(new Date(2027, 6, 26));
    expect(aug.to).toEqual(new Date(2027, 8, 6));
  });

  it("covers the month in whole weeks starting on Monday", () => {
    // February 2027 starts on a Monday and has 28 days: exactly four weeks.
    const feb = monthGrid({ year: 2027, month: 1 });
    expect(feb).toHaveLength(4);
    expect(dayKey(feb[0][0])).toBe("2027-02-01");
    expect(dayKey(feb[3][6])).toBe("2027-02-28");
    // August 2027 starts on a Sunday: six days of July lead, and it spans six weeks.
    const aug = monthGrid({ year: 2027, month: 7 });
    expect(dayKey(aug[0][0])).toBe("2027-07-26");
    expect(dayKey(aug[0][6])).toBe("2027-08-01");
    expect(aug).toHaveLength(6);
    for (const w of aug) expect(w).toHaveLength(7);
    expect(aug.flat().every((d) => d.getDay() === (aug.flat().indexOf(d) + 1) % 7)).toBe(true);
    // With Sunday first, August 2027 starts on its first day.
    expect(dayKey(monthGrid({ year: 2027, month: 7 }, 0)[0][0])).toBe("2027-08-01");
  });

  it("writes and reads the month of the URL", () => {
    expect(formatMonth({ year: 2027, month: 0 })).toBe("2027-01");
    expect(parseMonth("2027-12")).toEqual({ year: 2027, month: 11 });
    expect(parseMonth("2027-13")).toBeNull();
    expect(parseMonth(null)).toBeNull();
    expect(monthOf(new Date(2027, 4, 31, 23, 59))).toEqual({ year: 2027, month: 4 });
  });

  it("groups runs and due times by local day, in time order, naming runs' schedules", () => {
    const at = (d: number, h: number) => new Date(2027, 0, d, h).toISOString();
    const byDay = calendarEntries(
      {
        from: "",
        to: "",
        upcoming: [{ schedule_id: "s1", name: "Ping", action: "call_api", due_at: at(5, 10) }],
        runs: [
          { id: "r2", schedule_id: "s1", status: "failed", due_at: at(5, 9) },
          { id: "r1", schedule_id: "s2", status: "succeeded", due_at: at(3, 8) },
        ] as never,
      },
      new Map([["s2", "Digest"]]),
    );
    expect([...byDay.keys()].sort()).toEqual(["2027-01-03", "2027-01-05"]);
    expect(byDay.get("2027-01-05")!.map((e) => [e.kind, e.name, e.status])).toEqual([
      ["run", "Ping", "failed"],
      ["upcoming", "Ping", undefined],
    ]);
    expect(byDay.get("2027-01-03")![0].name).toBe("Digest");
  });
});

describe("Calendar", () => {
  it("shows the month's runs and due times linking to their schedules, and moves between months", async () => {
    const { calls } = stubFetch({
      "GET /schedules/calendar": {
        body: {
          from: "",
          to: "",
          upcoming: [{ schedule_id: "s1", name: "Ping", action: "call_api", due_at: new Date(2027, 2, 20, 10).toISOString() }],
          runs: [{ id: "r1", schedule_id: "s1", status: "succeeded", due_at: new Date(2027, 2, 2, 9).toISOString() }],
        },
      },
      "GET /schedules": { body: { items: [{ id: "s1", name: "Ping" }] } },
    });
    renderAt("/calendar?month=2027-03", "/calendar", <Calendar />);
    const entries = await screen.findAllByTestId("calendar-entry");
    expect(entries.map((e) => [e.dataset.kind, e.getAttribute("href")])).toEqual([
      ["run", "/schedules/s1"],
      ["upcoming", "/schedules/s1"],
    ]);
    expect(entries[0].dataset.status).toBe("succeeded");
    expect(entries[0].closest("[data-day]")?.getAttribute("data-day")).toBe("2027-03-02");
    const first = new URL(calls.find((c) => c.url.startsWith("/schedules/calendar"))!.url, "http://x");
    expect(first.searchParams.get("from")).toBe(new Date(2027, 2, 1).toISOString());
    expect(first.searchParams.get("to")).toBe(new Date(2027, 3, 5).toISOString());

    fireEvent.click(screen.getByRole("button", { name: "Next month" }));
    await waitFor(() => expect(screen.getByTestId("calendar-month").dataset.month).toBe("2027-04"));
    // April 2027's grid starts on Monday 29 March.
    await waitFor(() => expect(calls.some((c) => new URL(c.url, "http://x").searchParams.get("from") === new Date(2027, 2, 29).toISOString())).toBe(true));
    fireEvent.click(screen.getByRole("button", { name: "Previous month" }));
    fireEvent.click(screen.getByRole("button", { name: "Previous month" }));
    await waitFor(() => expect(screen.getByTestId("location").textContent).toBe("/calendar?month=2027-02"));
  });

  it("lists days in the list view, and says when the month is empty", async () => {
    stubFetch({
      "GET /schedules/calendar": { body: { from: "", to: "", upcoming: [], runs: [] } },
      "GET /schedules": { body: { items: [] } },
    });
    renderAt("/calendar?month=2027-03", "/calendar", <Calendar />);
    fireEvent.click(await screen.findByRole("button", { name: "List" }));
    expect((await screen.findByText(/Nothing ran and nothing is due/)).textContent).toContain("2027");
  });

  it("shows the error of the calendar", async () => {
    stubFetch({ "GET /schedules/calendar": { status: 400, body: { error: { code: "invalid", message: "to: the window is at most 366 days" } } } });
    renderAt("/calendar?month=2027-03", "/calendar", <Calendar />);
    expect((await screen.findByRole("alert")).textContent).toContain("366 days");
  });
});
