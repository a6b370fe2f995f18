import { act, fireEvent, render, screen, waitFor } from "@testing-library/react";
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { MemoryRouter, Route, Routes } from "react-router-dom";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { Conversation } from "../api/circles";
import { useSession } from "../auth/session";
import ConversationView, { newer } from "./Conversation";
import { applyConversationEvent, applyToken, buildTranscript, streamingAfter, type Streaming } from "./circles/transcript";

const json = (body: unknown, status = 200) => new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });

const CIRCLE_ID = "c0ffee00-0000-4000-8000-000000000001";
const conv = (over: Partial<Conversation> = {}): Conversation => ({
  id: "cv1",
  circle_id: CIRCLE_ID,
  topic: "Plan the survey",
  strategy: "round_robin",
  participants: [
    { agent_id: "a1", name: "Ada" },
    { agent_id: "a2", name: "Bob" },
  ],
  status: "running",
  turns_taken: 1,
  max_turns: 4,
  turns: [{ number: 1, speaker_id: "a1", content: "Let us start." }],
  messages: [],
  summary: [],
  version: 2,
  created_at: "2025-01-01T00:00:00Z",
  ...over,
});

describe("transcript helpers", () => {
  it("grows a speaker's text from tokens and drops stragglers of the last recorded turn", () => {
    const c = conv();
    let s: Streaming[] = [];
    s = applyToken(s, { conversation_id: "cv1", speaker_id: "a2", delta: "Hel" }, c);
    s = applyToken(s, { conversation_id: "cv1", speaker_id: "a2", delta: "lo" }, c);
    expect(s).toEqual([{ speaker_id: "a2", text: "Hello" }]);
    expect(applyToken(s, { conversation_id: "cv1", speaker_id: "a1", delta: " late" }, c)).toBe(s);
    expect(applyToken(s, { conversation_id: "cv1", speaker_id: "a2", delta: "!" }, conv({ status: "ended" }))).toBe(s);
    expect(streamingAfter(s, "conversation.turn_taken")).toEqual([]);
    expect(streamingAfter(s, "conversation.message_posted")).toEqual([]);
    expect(streamingAfter(s, "circle.started")).toBe(s);
  });

  it("folds the next event, keeps what it has and asks for a read after a gap", () => {
    const c = conv();
    const next = applyConversationEvent(c, {
      type: "conversation.turn_taken",
      data: { turn: { number: 2, speaker_id: "a2", content: "Agreed." } },
      stream: { id: "conversation-cv1", type: "conversation", version: 3 },
    })!;
    expect(next.turns.map((t) => t.content)).toEqual(["Let us start.", "Agreed."]);
    expect(next.turns_taken).toBe(2);
    expect(next.version).toBe(3);
    expect(applyConversationEvent(c, { type: "conversation.turn_taken", data: {}, stream: { id: "", type: "", version: 2 } })).toBe(c);
    expect(applyConversationEvent(c, { type: "conversation.turn_taken", data: {}, stream: { id: "", type: "", version: 5 } })).toBeNull();
    const ended = applyConversationEvent(c, {
      type: "conversation.ended",
      data: { reason: "stopped", detail: "stopped by a person" },
      stream: { id: "", type: "", version: 3 },
    })!;
    expect([ended.status, ended.end_reason, ended.end_detail]).toEqual(["ended", "stopped", "stopped by a person"]);
    const posted = applyConversationEvent(c, {
      type: "conversation.message_posted",
      data: { message: { id: "m1", author: "u1", content: "hi", after_turn: 1 } },
      stream: { id: "", type: "", version: 3 },
    })!;
    expect(posted.messages).toHaveLength(1);
  });

  it("keeps the later version when a read answers an older one", () => {
    const v3 = conv({ version: 3 });
    expect(newer(v3, conv())).toBe(v3);
    const v4 = conv({ version: 4 });
    expect(newer(v3, v4)).toBe(v4);
    expect(newer(undefined, v4)).toBe(v4);
  });

  it("puts a post before the turn that answers it and the writing last", () => {
    const c = conv({
      turns: [
        { number: 1, speaker_id: "a1", content: "one" },
        { number: 2, speaker_id: "a2", content: "two" },
      ],
      messages: [
        { id: "m2", author: "u1", content: "after two", after_turn: 2 },
        { id: "m1", author: "u1", content: "after one", after_turn: 1 },
        { id: "m0", author: "u1", content: "before all", after_turn: 0 },
      ],
    });
    const entries = buildTranscript(c, [{ speaker_id: "a1", text: "thr" }]);
    expect(entries.map((e) => (e.kind === "turn" ? e.content : e.kind === "post" ? e.content : "~" + e.text))).toEqual([
      "before all",
      "one",
      "after one",
      "two",
      "after two",
      "~thr",
    ]);
    expect(entries[1].kind === "turn" && entries[1].speaker).toBe("Ada");
  });
});

// A WebSocket the test drives: the page's feed connects to it and the test sends it messages.
class FakeSocket {
  static all: FakeSocket[] = [];
  onmessage: ((ev: { data: string }) => void) | null = null;
  onclose: (() => void) | null = null;
  constructor(
    public url: string,
    public protocols: string[],
  ) {
    FakeSocket.all.push(this);
  }
  close() {}
  emit(m: object) {
    act(() => this.onmessage?.({ data: JSON.stringify(m) }));
  }
}

const realFetch = globalThis.fetch;
const realWS = globalThis.WebSocket;
beforeEach(() => {
  FakeSocket.all = [];
  globalThis.WebSocket = FakeSocket as unknown as typeof WebSocket;
  useSession.getState().save({ access_token: "tok", refresh_token: "ref", user: { id: "u1", email: "a@b.c", role: "member" } });
});
afterEach(() => {
  globalThis.fetch = realFetch;
  globalThis.WebSocket = realWS;
  useSession.getState().clear();
});

function setup(initial: Conversation) {
  let current = initial;
  const calls: { url: string; method: string; body?: unknown }[] = [];
  globalThis.fetch = vi.fn(async (input: RequestInfo | URL, init: RequestInit = {}) => {
    const url = String(input);
    const method = init.method ?? "GET";
    calls.push({ url, method, body: init.body ? JSON.parse(String(init.body)) : undefined });
    if (url === "/conversations/cv1" && method === "GET") return json(current);
    if (url === "/circles?limit=500") return json({ items: [{ id: CIRCLE_ID, name: "research", status: "running" }] });
    if (url === "/conversations/cv1/messages") {
      const content = (calls[calls.length - 1].body as { content: string }).content;
      current = { ...current, version: current.version + 1, messages: [...current.messages, { id: "m1", author: "u1", content, after_turn: current.turns.length }] };
      return json(current, 202);
    }
    if (url === "/conversations/cv1/stop") {
      current = { ...current, status: "ended", end_reason: "stopped", end_detail: "stopped by a person", version: current.version + 1 };
      return json(current);
    }
    throw new Error("unexpected " + method + " " + url);
  }) as unknown as typeof fetch;
  const qc = new QueryClient({ defaultOptions: { queries: { retry: false } } });
  render(
    <QueryClientProvider client={qc}>
      <MemoryRouter initialEntries={["/conversations/cv1"]}>
        <Routes>
          <Route path="/conversations/:id" element={<ConversationView />} />
        </Routes>
      </MemoryRouter>
    </QueryClientProvider>,
  );
  return { calls };
}

describe("Conversation view", () => {
  it("streams a turn from tokens and replaces it with the recorded turn", async () => {
    setup(conv());
    expect((await screen.findByTestId("conversation-status")).textContent).toBe("running");
    expect(screen.getAllByTestId("turn").map((t) => t.getAttribute("data-speaker"))).toEqual(["Ada"]);
    await waitFor(() => expect(FakeSocket.all.length).toBe(1));
    const ws = FakeSocket.all[0];
    expect(ws.url).toContain("/ws/circles/research");
    expect(ws.protocols).toEqual(["gathering.bearer", "tok"]);
    ws.emit({ type: "connected", timestamp: "" });

    const token = (speaker: string, delta: string, conversation = "cv1") => ({
      type: "conversation.token",
      timestamp: "",
      data: { conversation_id: conversation, speaker_id: speaker, delta },
    });
    ws.emit(token("a2", "Agr"));
    ws.emit(token("a1", "late tail")); // the last speaker's straggler
    ws.emit(token("a2", "eed", "other-conversation"));
    ws.emit(token("a2", "eed."));
    const streaming = await screen.findByTestId("turn-streaming");
    expect(streaming.getAttribute("data-speaker")).toBe("Bob");
    expect(streaming.textContent).toContain("Agreed.");
    expect(streaming.textContent).not.toContain("late tail");

    ws.emit({
      type: "conversation.turn_taken",
      position: 10,
      timestamp: "",
      data: { turn: { number: 2, speaker_id: "a2", content: "Agreed." } },
      stream: { id: "conversation-cv1", type: "conversation", version: 3 },
    });
    await waitFor(() => expect(screen.queryByTestId("turn-streaming")).toBeNull());
    const turns = screen.getAllByTestId("turn");
    expect(turns.map((t) => t.getAttribute("data-speaker"))).toEqual(["Ada", "Bob"]);
    expect(turns[1].textContent).toContain("Agreed.");
  });

  it("posts into a running conversation and stops it", async () => {
    const { calls } = setup(conv());
    await screen.findByTestId("conversation-status");
    fireEvent.change(document.querySelector('textarea[name="post"]')!, { target: { value: "Mind the budget" } });
    fireEvent.click(screen.getByRole("button", { name: "Post" }));
    expect((await screen.findByTestId("post")).textContent).toContain("Mind the budget");
    expect(calls.find((c) => c.url === "/conversations/cv1/messages")?.body).toEqual({ content: "Mind the budget" });

    fireEvent.click(screen.getByRole("button", { name: "Stop" }));
    await waitFor(() => expect(screen.getByTestId("conversation-status").textContent).toBe("ended"));
    expect(screen.getByTestId("conversation-end-reason").textContent).toContain("stopped");
    expect(document.querySelector('textarea[name="post"]')).toBeNull();
    expect(screen.queryByRole("button", { name: "Stop" })).toBeNull();
  });

  it("says when the conversation does not exist", async () => {
    globalThis.fetch = vi.fn(async () => json({ error: { code: "not_found", message: "conversation cv1 not found" } }, 404)) as unknown as typeof fetch;
    const qc = new QueryClient({ defaultOptions: { queries: { retry: false } } });
    render(
      <QueryClientProvider client={qc}>
        <MemoryRouter initialEntries={["/conversations/cv1"]}>
          <Routes>
            <Route path="/conversations/:id" element={<ConversationView />} />
          </Routes>
        </MemoryRouter>
      </QueryClientProvider>,
    );
    expect((await screen.findByRole("alert")).textContent).toContain("not found");
  });
});
