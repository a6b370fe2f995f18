import { act, fireEvent, render, screen, waitFor, within } from "@testing-library/react";
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { MemoryRouter, Route, Routes, useLocation } from "react-router-dom";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { ApiError } from "../api/client";
import { useSession } from "../auth/session";
import { splitList, type Circle, type CircleTask } from "../api/circles";
import Circles, { ownerLabel, sortByName } from "./Circles";
import CircleDetail from "./CircleDetail";
import { unplaced, underField } from "./circles/forms";
import { pending, streamVersions, want, writingOnEvent, writingOnToken } from "./circles/live";
import { holder, replaceTask } from "./circles/Tasks";

const json = (body: unknown, status = 200, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json", ...headers } });

const circle = (over: Partial<Circle> = {}): Circle => ({
  id: "c0ffee00-0000-4000-8000-000000000001",
  name: "research",
  description: "reads papers",
  owner: "u1",
  status: "created",
  version: 3,
  created_at: "2025-01-01T00:00:00Z",
  updated_at: "2025-01-02T00:00:00Z",
  ...over,
});

const member = (id: string, name: string, competencies: string[] = []) => ({
  agent_id: id,
  role: "member",
  competencies,
  joined_at: "2025-01-01T00:00:00Z",
  agent_name: name,
  provider: "ollama",
  model: "llama3",
  agent_role: "",
  agent_exists: true,
});

const task = (over: Partial<CircleTask> = {}): CircleTask => ({
  id: "t1",
  circle_id: "c",
  title: "Survey",
  description: "",
  required_competencies: ["research"],
  priority: 5,
  requires_review: true,
  status: "offered",
  iteration: 0,
  result: "",
  owner: "u1",
  version: 2,
  created_at: "2025-01-01T00:00:00Z",
  updated_at: "2025-01-01T00:00:00Z",
  ...over,
});

type Route_ = (url: string, init: RequestInit) => Response | undefined;
function stubFetch(route: Route_) {
  const f = vi.fn(async (input: RequestInfo | URL, init: RequestInit = {}) => {
    const url = String(input);
    const res = route(url, init);
    if (!res) throw new Error("unexpected request " + (init.method ?? "GET") + " " + url);
    return res;
  });
  globalThis.fetch = f as unknown as typeof fetch;
  return f;
}

function Where() {
  return <div data-testid="where">{useLocation().pathname}</div>;
}

function renderAt(path: string) {
  const qc = new QueryClient({ defaultOptions: { queries: { retry: false } } });
  return render(
    <QueryClientProvider client={qc}>
      <MemoryRouter initialEntries={[path]}>
        <Routes>
          <Route path="/circles" element={<Circles />} />
          <Route path="/circles/:name" element={<CircleDetail />} />
          <Route path="/conversations/:id" element={<Where />} />
        </Routes>
      </MemoryRouter>
    </QueryClientProvider>,
  );
}

const realFetch = globalThis.fetch;
beforeEach(() => {
  vi.spyOn(window, "confirm").mockReturnValue(true);
});
afterEach(() => {
  globalThis.fetch = realFetch;
  vi.restoreAllMocks();
});

describe("helpers", () => {
  it("splits comma separated lists", () => {
    expect(splitList(" research, writing ,, code ")).toEqual(["research", "writing", "code"]);
    expect(splitList("")).toEqual([]);
  });

  it("labels the caller's own circles and sorts by name", () => {
    expect(ownerLabel("u1", "u1")).toBe("you");
    expect(ownerLabel("u2", "u1")).toBe("u2");
    expect(sortByName([circle({ name: "b" }), circle({ name: "a" })]).map((c) => c.name)).toEqual(["a", "b"]);
  });

  it("tells which API errors a form shows at its fields", () => {
    expect(underField("competencies[2]", "competencies")).toBe(true);
    expect(underField("competencies_x", "competencies")).toBe(false);
    const fieldErr = new ApiError(422, { error: { code: "invalid", message: "x", fields: [{ field: "name", message: "bad" }] } });
    expect(unplaced(fieldErr, ["name"])).toBe(false);
    expect(unplaced(fieldErr, ["description"])).toBe(true);
    expect(unplaced(new ApiError(409, { error: { code: "conflict", message: "taken" } }), ["name"])).toBe(true);
    expect(unplaced(new TypeError("network"), ["name"])).toBe(true);
    expect(unplaced(null, ["name"])).toBe(false);
  });

  it("waits for the read model to show an event's stream version", () => {
    let w = want({}, "circle_task-1", 3);
    w = want(w, "circle_task-1", 2); // an older event asks nothing more
    w = want(w, "circle_task-2", 1);
    expect(w).toEqual({ "circle_task-1": 3, "circle_task-2": 1 });
    const have = streamVersions("circle_task", [{ id: "1", version: 3 }]);
    expect(pending(have, w)).toEqual({ "circle_task-2": 1 });
    expect(pending({ ...have, "circle_task-2": 4 }, w)).toEqual({});
  });

  it("follows who is writing, ignoring stragglers of the recorded turn", () => {
    let w = writingOnToken({}, "cv", "a1");
    expect(w.cv.speaker).toBe("a1");
    w = writingOnEvent(w, "cv", "conversation.turn_taken", { turn: { speaker_id: "a1" } });
    expect(w.cv.speaker).toBeUndefined();
    expect(writingOnToken(w, "cv", "a1")).toBe(w);
    w = writingOnToken(w, "cv", "a2");
    expect(w.cv.speaker).toBe("a2");
    expect(writingOnEvent(w, "cv", "conversation.ended", {})).toEqual({});
  });

  it("names who a task is with and replaces a task by version", () => {
    const names = new Map([["a1", "Ada"]]);
    expect(holder(task({ offered_to: "a1" }), names)).toBe("offered to Ada");
    expect(holder(task({ assignee_id: "a1", status: "in_progress" }), names)).toBe("Ada");
    expect(holder(task(), names)).toBe("—");
    const list = [task({ version: 4, status: "in_progress" })];
    expect(replaceTask(list, task({ version: 3 }))).toBe(list);
    expect(replaceTask(list, task({ version: 5, status: "in_review" }))[0].status).toBe("in_review");
    expect(replaceTask(list, task({ id: "t2" })).map((t) => t.id)).toEqual(["t2", "t1"]);
  });
});

describe("Circles page", () => {
  it("lists circles with links and member counts", async () => {
    stubFetch((url) => {
      if (url === "/circles?limit=500") return json({ items: [circle()] });
      if (url === "/circles/research") return json(circle({ members: [member("a1", "Ada"), member("a2", "Bob")] }));
    });
    renderAt("/circles");
    const link = await screen.findByTestId("circle-link");
    expect(link.textContent).toBe("research");
    expect(link.getAttribute("href")).toBe("/circles/research");
    await waitFor(() => expect(document.querySelector("[data-members]")?.textContent).toBe("2"));
  });

  it("shows the empty state", async () => {
    stubFetch((url) => (url === "/circles?limit=500" ? json({ items: [] }) : undefined));
    renderAt("/circles");
    expect(await screen.findByText(/No circles yet/)).toBeTruthy();
  });

  it("shows the API's field errors at the field and adds a created circle", async () => {
    const made: Circle[] = [];
    const f = stubFetch((url, init) => {
      if (url === "/circles?limit=500") return json({ items: made });
      if (url === "/circles" && init.method === "POST") {
        const body = JSON.parse(String(init.body));
        if (body.name === "Bad Name")
          return json({ error: { code: "invalid", message: "name: must be…", fields: [{ field: "name", message: "must be lowercase" }] } }, 422);
        made.push(circle({ name: body.name }));
        return json(made[made.length - 1], 201);
      }
      if (url === "/circles/good") return json(circle({ name: "good", members: [] }));
    });
    renderAt("/circles");
    await screen.findByText(/No circles yet/);
    const name = document.querySelector('input[name="name"]') as HTMLInputElement;
    fireEvent.change(name, { target: { value: "Bad Name" } });
    fireEvent.click(screen.getByRole("button", { name: "Create circle" }));
    const err = await waitFor(() => {
      const el = document.querySelector('[data-field-error="name"]');
      expect(el).toBeTruthy();
      return el!;
    });
    expect(err.textContent).toBe("must be lowercase");
    expect(screen.queryByRole("alert")).toBeNull(); // shown at the field, not again above
    fireEvent.change(name, { target: { value: "good" } });
    fireEvent.click(screen.getByRole("button", { name: "Create circle" }));
    expect((await screen.findByTestId("circle-link")).textContent).toBe("good");
    expect(f.mock.calls.some(([u, i]) => u === "/circles" && JSON.parse(String(i?.body)).name === "good")).toBe(true);
  });

  it("shows a failed read with a retry", async () => {
    stubFetch(() => json({ error: { code: "internal", message: "database down" } }, 500));
    renderAt("/circles");
    expect((await screen.findByRole("alert")).textContent).toContain("database down");
  });
});

describe("Circle detail", () => {
  const running = circle({ status: "running", members: [member("a1", "Ada", ["research"]), member("a2", "Bob")] });
  const routes = (extra: Route_ = () => undefined): Route_ => (url, init) =>
    extra(url, init) ??
    (url === "/circles/research"
      ? json(running)
      : url === "/circles/research/conversations"
        ? json({
            items: [
              {
                id: "cv1",
                circle_id: running.id,
                owner: "u1",
                topic: "Plan the survey",
                strategy: "round_robin",
                participants: [{ agent_id: "a1", name: "Ada" }],
                status: "ended",
                turns_taken: 4,
                max_turns: 4,
                posts: 0,
                end_reason: "max_turns",
                end_detail: "4 turns",
                version: 6,
                created_at: "2025-01-01T00:00:00Z",
                updated_at: "2025-01-01T00:00:00Z",
              },
            ],
          })
        : url === "/circles/research/tasks"
          ? json({ items: [task({ offered_to: "a1" })] })
          : url.startsWith("/agents?")
            ? json({ items: [{ id: "a1", name: "Ada", role: "", provider: "ollama", model: "m" }, { id: "a3", name: "Cy", role: "", provider: "ollama", model: "m" }] })
            : undefined);

  it("shows status, members, conversations and tasks", async () => {
    stubFetch(routes());
    renderAt("/circles/research");
    expect((await screen.findByTestId("circle-status")).textContent).toBe("running");
    const rows = await screen.findAllByTestId("member-row");
    expect(rows.map((r) => r.getAttribute("data-agent"))).toEqual(["Ada", "Bob"]);
    expect(within(rows[0]).getByText("research")).toBeTruthy();
    const conv = await screen.findByTestId("conversation-link");
    expect(conv.getAttribute("href")).toBe("/conversations/cv1");
    expect(screen.getByText("max_turns")).toBeTruthy();
    const t = await screen.findByTestId("task-row");
    expect(within(t).getByText("offered to Ada")).toBeTruthy();
    expect((screen.getByRole("button", { name: "Start" }) as HTMLButtonElement).disabled).toBe(true);
    expect((screen.getByRole("button", { name: "Stop" }) as HTMLButtonElement).disabled).toBe(false);
  });

  it("adds a member with role and competencies", async () => {
    const f = stubFetch(
      routes((url, init) => (url === "/circles/research/members" && init.method === "POST" ? json({ ...running, members: [...running.members!, member("a3", "Cy")] }) : undefined)),
    );
    renderAt("/circles/research");
    await screen.findByRole("option", { name: "Cy" });
    fireEvent.change(document.querySelector('select[name="agent_id"]')!, { target: { value: "a3" } });
    fireEvent.change(document.querySelector('input[name="member_role"]')!, { target: { value: "reviewer" } });
    fireEvent.change(document.querySelector('input[name="competencies"]')!, { target: { value: "review, writing" } });
    fireEvent.click(screen.getByRole("button", { name: "Add member" }));
    await waitFor(() => expect(screen.getAllByTestId("member-row")).toHaveLength(3));
    const call = f.mock.calls.find(([u]) => u === "/circles/research/members")!;
    expect(JSON.parse(String(call[1]?.body))).toEqual({ agent_id: "a3", role: "reviewer", competencies: ["review", "writing"] });
  });

  it("starts a conversation and opens it", async () => {
    const f = stubFetch(
      routes((url, init) =>
        url === "/conversations" && init.method === "POST"
          ? json({ id: "new-conv", circle_id: running.id, topic: "t", strategy: "round_robin", participants: [], status: "running", turns_taken: 0, max_turns: 6, turns: [], messages: [], summary: [], version: 1, created_at: "" }, 201)
          : undefined,
      ),
    );
    renderAt("/circles/research");
    await screen.findByRole("button", { name: "Start conversation" });
    fireEvent.change(document.querySelector('input[name="topic"]')!, { target: { value: "Plan the next survey" } });
    fireEvent.change(document.querySelector('input[name="max_turns"]')!, { target: { value: "6" } });
    fireEvent.change(document.querySelector('select[name="strategy"]')!, { target: { value: "mention_based" } });
    for (const box of document.querySelectorAll<HTMLInputElement>('input[name="participants"]')) fireEvent.click(box);
    fireEvent.click(screen.getByRole("button", { name: "Start conversation" }));
    expect((await screen.findByTestId("where")).textContent).toBe("/conversations/new-conv");
    const call = f.mock.calls.find(([u]) => u === "/conversations")!;
    expect(JSON.parse(String(call[1]?.body))).toEqual({
      circle: "research",
      participants: ["a1", "a2"],
      topic: "Plan the next survey",
      strategy: "mention_based",
      max_turns: 6,
    });
  });

  it("shows a participants error at the participants", async () => {
    stubFetch(
      routes((url, init) =>
        url === "/conversations" && init.method === "POST"
          ? json({ error: { code: "invalid", message: "participants: needs 2", fields: [{ field: "participants", message: "needs 2 to 20 agents (got 0)" }] } }, 422)
          : undefined,
      ),
    );
    renderAt("/circles/research");
    await screen.findByRole("button", { name: "Start conversation" });
    fireEvent.change(document.querySelector('input[name="topic"]')!, { target: { value: "x" } });
    fireEvent.click(screen.getByRole("button", { name: "Start conversation" }));
    await waitFor(() => expect(document.querySelector('[data-field-error="participants"]')?.textContent).toBe("needs 2 to 20 agents (got 0)"));
  });

  it("refreshes the tasks on a task event until the list shows it", async () => {
    const sockets: { onmessage: ((ev: { data: string }) => void) | null; url: string }[] = [];
    const realWS = globalThis.WebSocket;
    globalThis.WebSocket = class {
      onmessage: ((ev: { data: string }) => void) | null = null;
      onclose: (() => void) | null = null;
      constructor(public url: string) {
        sockets.push(this);
      }
      close() {}
    } as unknown as typeof WebSocket;
    useSession.getState().save({ access_token: "tok", refresh_token: "r", user: { id: "u1", email: "a@b.c", role: "member" } });
    try {
      let reads = 0;
      stubFetch(
        routes((url) => {
          if (url !== "/circles/research/tasks") return undefined;
          reads++;
          // The read model catches up on the third read after the event.
          return json({ items: [reads >= 5 ? task({ status: "in_progress", assignee_id: "a1", version: 3 }) : task({ offered_to: "a1" })] });
        }),
      );
      renderAt("/circles/research");
      await screen.findByTestId("task-row");
      await waitFor(() => expect(sockets.length).toBe(1));
      expect(sockets[0].url).toContain("/ws/circles/research");
      const send = (m: object) => act(() => sockets[0].onmessage?.({ data: JSON.stringify(m) }));
      send({ type: "connected", timestamp: "" });
      await waitFor(() => expect(document.querySelector('[data-feed-state="live"]')).toBeTruthy());
      send({ type: "circle.task_claimed", position: 9, timestamp: "", data: { agent_id: "a1" }, stream: { id: "circle_task-t1", type: "circle_task", version: 3 } });
      await waitFor(() => expect(within(screen.getByTestId("task-row")).getByText("in_progress")).toBeTruthy(), { timeout: 4000 });
    } finally {
      globalThis.WebSocket = realWS;
      useSession.getState().clear();
    }
  });

  it("says when the circle is missing", async () => {
    stubFetch((url) => (url === "/circles/nope" ? json({ error: { code: "not_found", message: 'circle "nope" not found' } }, 404) : undefined));
    renderAt("/circles/nope");
    expect((await screen.findByRole("alert")).textContent).toContain("not found");
  });
});
