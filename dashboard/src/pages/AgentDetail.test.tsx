import { act, fireEvent, screen, waitFor } from "@testing-library/react";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { ChatView } from "../api/agents";
import { useSession } from "../auth/session";
import AgentDetail from "./AgentDetail";
import { actionOf, appendDelta, chatReducer, initialChat, outcomeFromTranscript, type ChatAction, type ChatState } from "./agents/chat";
import { agent, catalog, json, renderWith, stubFetch } from "./agents/testutil";
import { toolRows } from "./agents/ToolsPanel";

const S = "33333333-3333-4333-8333-333333333333";
const M = "44444444-4444-4444-8444-444444444444";

const run = (actions: ChatAction[], from: ChatState = initialChat) => actions.reduce(chatReducer, from);

describe("chat state", () => {
  it("assembles streamed deltas per message", () => {
    let streams = appendDelta({}, M, "Hel");
    streams = appendDelta(streams, M, "lo");
    streams = appendDelta(streams, "other", "x");
    expect(streams).toEqual({ [M]: "Hello", other: "x" });
  });

  it("streams a reply and replaces it with the recorded message", () => {
    const s1 = run([
      { type: "sent", sessionId: S, messageId: M, content: "hi" },
      { type: "token", sessionId: S, messageId: M, delta: "Hel" },
      { type: "token", sessionId: S, messageId: M, delta: "lo" },
      { type: "token", sessionId: "someone-else", messageId: "x", delta: "ignored" },
    ]);
    expect(s1.pending).toBe(M);
    expect(s1.streams).toEqual({ [M]: "Hello" });
    const s2 = chatReducer(s1, { type: "outcome", sessionId: S, messageId: M, outcome: { kind: "replied", replyId: "r1", content: "Hello!" } });
    expect(s2.pending).toBeNull();
    expect(s2.streams).toEqual({});
    expect(s2.lines.map((l) => [l.role, l.content, l.status])).toEqual([
      ["user", "hi", "answered"],
      ["assistant", "Hello!", undefined],
    ]);
    // The same outcome again (feed and transcript both saw it) changes nothing.
    const s3 = chatReducer(s2, { type: "outcome", sessionId: S, messageId: M, outcome: { kind: "replied", replyId: "r1", content: "Hello!" } });
    expect(s3.lines).toHaveLength(2);
  });

  it("keeps tokens and an outcome that arrive before the POST's answer", () => {
    const s = run([
      { type: "token", sessionId: S, messageId: M, delta: "early " },
      { type: "outcome", sessionId: S, messageId: M, outcome: { kind: "replied", replyId: "r1", content: "early reply" } },
      { type: "sent", sessionId: S, messageId: M, content: "hi" },
    ]);
    expect(s.pending).toBeNull();
    expect(s.lines.map((l) => l.content)).toEqual(["hi", "early reply"]);
  });

  it("marks a failed message and keeps the session for the next send", () => {
    const s = run([
      { type: "sent", sessionId: S, messageId: M, content: "hi" },
      { type: "outcome", sessionId: S, messageId: M, outcome: { kind: "failed", error: "provider: no API key" } },
      { type: "sent", sessionId: S, messageId: "m2", content: "again" },
    ]);
    expect(s.lines[0]).toMatchObject({ status: "failed", error: "provider: no API key" });
    expect(s.sessionId).toBe(S);
    expect(s.pending).toBe("m2");
    expect(chatReducer(s, { type: "reset" })).toEqual(initialChat);
  });

  it("reads chat actions from feed messages", () => {
    const ts = "2025-01-01T00:00:00Z";
    expect(actionOf({ type: "chat.token", data: { session_id: S, message_id: M, delta: "a" }, timestamp: ts })).toEqual({
      type: "token",
      sessionId: S,
      messageId: M,
      delta: "a",
    });
    expect(
      actionOf({ type: "chat.failed", data: { message_id: M, kind: "provider", message: "no key" }, position: 9, timestamp: ts, stream: { id: "chat-" + S, type: "chat", version: 3 } }),
    ).toEqual({ type: "outcome", sessionId: S, messageId: M, outcome: { kind: "failed", error: "provider: no key" } });
    expect(actionOf({ type: "agent.updated", data: {}, timestamp: ts })).toBeNull();
  });

  it("reads an outcome from a transcript", () => {
    const view: ChatView = {
      id: S,
      agent_id: "a",
      owner: "u",
      created_at: "",
      updated_at: "",
      messages: [
        { id: M, role: "user", content: "hi", status: "answered", created_at: "" },
        { id: "r1", role: "assistant", content: "hello", status: "reply", created_at: "" },
        { id: "m2", role: "user", content: "again", status: "posted", created_at: "" },
      ],
    };
    expect(outcomeFromTranscript(view, M)).toMatchObject({ kind: "replied", replyId: "r1", content: "hello" });
    expect(outcomeFromTranscript(view, "m2")).toBeNull();
    view.messages[2] = { ...view.messages[2], status: "failed", error: "loop_limit: too many steps" };
    expect(outcomeFromTranscript(view, "m2")).toEqual({ kind: "failed", error: "loop_limit: too many steps" });
  });

  it("pairs tools with descriptions when the catalog has them", () => {
    expect(toolRows(["calculator", "http_get"], { providers: [], tools: [{ name: "calculator", description: "Adds up" }] })).toEqual([
      { name: "calculator", description: "Adds up" },
      { name: "http_get", description: undefined },
    ]);
    expect(toolRows(null)).toEqual([]);
  });
});

// A WebSocket the test drives: it records what was opened and delivers what the test sends.
class FakeSocket {
  static all: FakeSocket[] = [];
  onmessage: ((ev: { data: string }) => void) | null = null;
  onclose: (() => void) | null = null;
  constructor(
    public url: string,
    public protocols?: string[],
  ) {
    FakeSocket.all.push(this);
  }
  close() {}
  emit(m: object) {
    act(() => this.onmessage?.({ data: JSON.stringify({ timestamp: "2025-01-01T00:00:00Z", ...m }) }));
  }
}

const realFetch = globalThis.fetch;
const realSocket = globalThis.WebSocket;
const A = agent({ tools: ["calculator"] });

function stubAgentApi(extra: Parameters<typeof stubFetch>[0] = {}) {
  return stubFetch({
    [`GET /agents/${A.id}`]: () => json(A, 200, { ETag: '"1"' }),
    "GET /catalog": () => json(catalog),
    [`GET /agents/${A.id}/usage`]: () => json({ agent_id: A.id, model_calls: 0, tool_calls: 0, input_tokens: 0, output_tokens: 0, cost_usd: 0 }),
    ...extra,
  });
}

describe("Agent detail page", () => {
  beforeEach(() => {
    FakeSocket.all = [];
    globalThis.WebSocket = FakeSocket as unknown as typeof WebSocket;
    useSession.setState({ access: "token", refresh: "r", user: { id: "u1", email: "a@example.com", role: "member" } });
  });
  afterEach(() => {
    globalThis.fetch = realFetch;
    globalThis.WebSocket = realSocket;
    useSession.setState({ access: null, refresh: null, user: null });
  });

  it("streams a chat reply from the agent's feed, then shows the recorded message", async () => {
    const posted: unknown[] = [];
    stubAgentApi({
      [`POST /agents/${A.id}/chat`]: (init) => {
        posted.push(JSON.parse(String(init?.body)));
        return json({ session_id: S, message_id: posted.length === 1 ? M : "m2", status: "pending", content: "", tool_calls: [] }, 202);
      },
    });
    const { container } = renderWith(<AgentDetail />, `/agents/${A.id}`, "/agents/:id");
    expect(await screen.findByRole("heading", { name: "Ada" })).toBeTruthy();
    await waitFor(() => expect(FakeSocket.all.length).toBeGreaterThan(0));
    const ws = FakeSocket.all[FakeSocket.all.length - 1];
    expect(ws.url).toContain(`/ws/agents/${A.id}`);
    ws.emit({ type: "connected", data: {} });
    await waitFor(() => expect(container.querySelector('[data-feed-state="live"]')).not.toBeNull());

    fireEvent.change(container.querySelector('textarea[name="message"]')!, { target: { value: "hi there" } });
    fireEvent.click(screen.getByRole("button", { name: "Send" }));
    await waitFor(() => expect(screen.getByTestId("chat-message").getAttribute("data-role")).toBe("user"));
    expect(posted[0]).toEqual({ message: "hi there", wait: false });

    ws.emit({ type: "chat.token", data: { session_id: S, message_id: M, delta: "Hel" } });
    ws.emit({ type: "chat.token", data: { session_id: S, message_id: M, delta: "lo" } });
    expect(screen.getByTestId("chat-streaming").textContent).toContain("Hello");

    ws.emit({ type: "chat.replied", position: 7, stream: { id: "chat-" + S, type: "chat", version: 3 }, data: { message_id: M, reply_id: "r1", content: "Hello, human." } });
    await waitFor(() => expect(screen.queryByTestId("chat-streaming")).toBeNull());
    const msgs = screen.getAllByTestId("chat-message");
    expect(msgs.map((m) => [m.getAttribute("data-role"), m.textContent])).toEqual([
      ["user", "hi there"],
      ["assistant", "Hello, human."],
    ]);

    // The conversation goes on in the same session; a failure is shown as such.
    fireEvent.change(container.querySelector('textarea[name="message"]')!, { target: { value: "again" } });
    fireEvent.click(screen.getByRole("button", { name: "Send" }));
    await waitFor(() => expect(posted).toHaveLength(2));
    expect(posted[1]).toEqual({ message: "again", wait: false, session_id: S });
    await waitFor(() => expect(screen.getAllByTestId("chat-message")).toHaveLength(3));
    ws.emit({ type: "chat.failed", position: 9, stream: { id: "chat-" + S, type: "chat", version: 5 }, data: { message_id: "m2", kind: "provider", message: "no API key" } });
    expect((await screen.findByTestId("chat-failed")).textContent).toContain("provider: no API key");
  });

  it("shows the API's field errors in the edit form and a version conflict with a reload", async () => {
    let patches = 0;
    const fetchMock = stubAgentApi({
      [`PATCH /agents/${A.id}`]: () => {
        patches++;
        if (patches === 1) {
          return json({ error: { code: "invalid", message: "name: is required", field: "name", fields: [{ field: "name", message: "is required" }] } }, 400);
        }
        return json({ error: { code: "version_conflict", message: "the stream was changed by someone else; reload and retry" } }, 409);
      },
    });
    const { container } = renderWith(<AgentDetail />, `/agents/${A.id}`, "/agents/:id");
    await screen.findByRole("heading", { name: "Ada" });
    const form = screen.getByRole("form", { name: "Edit agent" });
    const name = form.querySelector<HTMLInputElement>('input[name="name"]')!;
    expect(name.value).toBe("Ada");

    fireEvent.change(name, { target: { value: "" } });
    fireEvent.click(screen.getByRole("button", { name: "Save" }));
    await waitFor(() => expect(form.querySelector('[data-field-error="name"]')?.textContent).toBe("is required"));
    const call = fetchMock.mock.calls.find((c) => c[1]?.method === "PATCH")!;
    expect((call[1]!.headers as Record<string, string>)["If-Match"]).toBe('"1"');
    expect(JSON.parse(String(call[1]!.body))).toEqual({ name: "" });

    fireEvent.change(name, { target: { value: "Ada Lovelace" } });
    fireEvent.click(screen.getByRole("button", { name: "Save" }));
    expect(await screen.findByTestId("version-conflict")).toBeTruthy();
    fireEvent.click(screen.getByRole("button", { name: "Reload" }));
    await waitFor(() => expect(screen.queryByTestId("version-conflict")).toBeNull());
    expect(container.querySelector<HTMLInputElement>('form[aria-label="Edit agent"] input[name="name"]')!.value).toBe("Ada");
  });

  it("deletes after confirmation and goes back to the list", async () => {
    const fetchMock = stubAgentApi({ [`DELETE /agents/${A.id}`]: () => new Response(null, { status: 204 }) });
    vi.spyOn(window, "confirm").mockReturnValue(true);
    renderWith(<AgentDetail />, `/agents/${A.id}`, "/agents/:id");
    await screen.findByRole("heading", { name: "Ada" });
    expect(screen.getByText("calculator")).toBeTruthy();
    fireEvent.click(screen.getByRole("button", { name: "Delete" }));
    expect(await screen.findByTestId("elsewhere")).toBeTruthy();
    const call = fetchMock.mock.calls.find((c) => c[1]?.method === "DELETE")!;
    expect((call[1]!.headers as Record<string, string>)["If-Match"]).toBe('"1"');
  });

  it("shows a missing agent as an error", async () => {
    stubFetch({ "GET /catalog": () => json(catalog) });
    renderWith(<AgentDetail />, `/agents/${A.id}`, "/agents/:id");
    expect(await screen.findByRole("alert")).toBeTruthy();
    expect(screen.getByText("Back to agents")).toBeTruthy();
  });
});
