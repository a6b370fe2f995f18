import type { ChatTotals, ChatView, ToolCallRecord } from "../../api/agents";
import type { FeedMessage } from "../../live/feed";

// The chat panel's state, kept as a pure reducer so that the order in which the POST's answer,
// the streamed tokens and the reply event arrive does not matter: tokens are gathered per
// message id whenever they come, and an outcome that overtakes the POST's answer is kept until
// the message it belongs to is known.

export interface ChatLine {
  id: string;
  role: "user" | "assistant";
  content: string;
  // A user message is pending until its reply (or failure) is recorded.
  status?: "pending" | "answered" | "failed";
  error?: string;
  totals?: ChatTotals;
  tools?: ToolCallRecord[];
}

export type ChatOutcome =
  | { kind: "replied"; replyId: string; content: string; totals?: ChatTotals }
  | { kind: "failed"; error: string };

export interface ChatState {
  sessionId: string | null;
  lines: ChatLine[];
  pending: string | null;
  streams: Record<string, string>;
  tools: Record<string, ToolCallRecord[]>;
  early: Record<string, ChatOutcome>;
}

export type ChatAction =
  | { type: "sent"; sessionId: string; messageId: string; content: string }
  | { type: "token"; sessionId: string; messageId: string; delta: string }
  | { type: "tool"; sessionId: string; messageId: string; call: ToolCallRecord }
  | { type: "outcome"; sessionId: string; messageId: string; outcome: ChatOutcome }
  | { type: "reset" };

export const initialChat: ChatState = { sessionId: null, lines: [], pending: null, streams: {}, tools: {}, early: {} };

// ours: before the first answer the session is not known yet, and anything on the agent's feed
// may be it; afterwards only the session's own messages count.
const ours = (s: ChatState, session: string) => s.sessionId === null || s.sessionId === session;

export function appendDelta(streams: Record<string, string>, messageId: string, delta: string): Record<string, string> {
  return { ...streams, [messageId]: (streams[messageId] ?? "") + delta };
}

function without<T>(m: Record<string, T>, key: string): Record<string, T> {
  if (!(key in m)) return m;
  const { [key]: _drop, ...rest } = m;
  return rest;
}

function settle(s: ChatState, messageId: string, outcome: ChatOutcome): ChatState {
  const idx = s.lines.findIndex((l) => l.role === "user" && l.id === messageId);
  const streams = without(s.streams, messageId);
  if (idx < 0) return { ...s, streams, early: { ...s.early, [messageId]: outcome } };
  const user = s.lines[idx];
  if (user.status !== "pending") return { ...s, streams };
  const lines = [...s.lines];
  if (outcome.kind === "failed") {
    lines[idx] = { ...user, status: "failed", error: outcome.error };
  } else {
    lines[idx] = { ...user, status: "answered" };
    lines.splice(idx + 1, 0, {
      id: outcome.replyId,
      role: "assistant",
      content: outcome.content,
      totals: outcome.totals,
      tools: s.tools[messageId],
    });
  }
  return { ...s, lines, streams, tools: without(s.tools, messageId), pending: s.pending === messageId ? null : s.pending };
}

export function chatReducer(s: ChatState, a: ChatAction): ChatState {
  switch (a.type) {
    case "reset":
      return initialChat;
    case "sent": {
      if (s.lines.some((l) => l.id === a.messageId)) return s;
      const next: ChatState = {
        ...s,
        sessionId: a.sessionId,
        pending: a.messageId,
        lines: [...s.lines, { id: a.messageId, role: "user", content: a.content, status: "pending" }],
      };
      const early = s.early[a.messageId];
      return early ? settle({ ...next, early: {} }, a.messageId, early) : { ...next, early: {} };
    }
    case "token":
      if (!ours(s, a.sessionId)) return s;
      return { ...s, streams: appendDelta(s.streams, a.messageId, a.delta) };
    case "tool":
      if (!ours(s, a.sessionId)) return s;
      return { ...s, tools: { ...s.tools, [a.messageId]: [...(s.tools[a.messageId] ?? []), a.call] } };
    case "outcome":
      if (!ours(s, a.sessionId)) return { ...s, streams: without(s.streams, a.messageId) };
      return settle(s, a.messageId, a.outcome);
  }
}

// actionOf turns a message of /ws/agents/{id} into a chat action, or null when it is not about
// a chat. Tokens name their session; events carry it in their stream id ("chat-<session>").
export function actionOf(m: FeedMessage): ChatAction | null {
  const d = m.data ?? {};
  const fromStream = m.stream?.id?.startsWith("chat-") ? m.stream.id.slice("chat-".length) : "";
  switch (m.type) {
    case "chat.token":
      if (typeof d.delta !== "string" || !d.message_id) return null;
      return { type: "token", sessionId: d.session_id ?? fromStream, messageId: d.message_id, delta: d.delta };
    case "chat.tool_called":
      if (!d.message_id || !d.tool) return null;
      return { type: "tool", sessionId: fromStream, messageId: d.message_id, call: d.tool };
    case "chat.replied":
      if (!d.message_id) return null;
      return {
        type: "outcome",
        sessionId: fromStream,
        messageId: d.message_id,
        outcome: { kind: "replied", replyId: d.reply_id ?? `${d.message_id}-reply`, content: d.content ?? "", totals: d.totals },
      };
    case "chat.failed":
      if (!d.message_id) return null;
      return {
        type: "outcome",
        sessionId: fromStream,
        messageId: d.message_id,
        outcome: { kind: "failed", error: describeFailure(d.kind, d.message) },
      };
    default:
      return null;
  }
}

export function describeFailure(kind?: string, message?: string): string {
  return [kind, message].filter(Boolean).join(": ") || "the agent could not answer";
}

// outcomeFromTranscript reads a message's outcome from GET /chats/{id}, the fallback when the
// live feed was not connected as the reply was recorded.
export function outcomeFromTranscript(view: ChatView, messageId: string): ChatOutcome | null {
  const idx = view.messages.findIndex((m) => m.id === messageId && m.role === "user");
  if (idx < 0) return null;
  const msg = view.messages[idx];
  if (msg.status === "failed") return { kind: "failed", error: msg.error || "the agent could not answer" };
  if (msg.status !== "answered") return null;
  const reply = view.messages.slice(idx + 1).find((m) => m.role === "assistant");
  if (!reply) return null;
  return { kind: "replied", replyId: reply.id, content: reply.content, totals: reply.totals };
}
