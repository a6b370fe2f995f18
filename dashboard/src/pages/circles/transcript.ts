import type { Conversation, HumanMessage, Turn } from "../../api/circles";

// A conversation's transcript as the page shows it: the recorded turns, people's posts where
// they were made, and the turn being written, growing from the streamed tokens until the
// recorded turn replaces it.

// Streaming is the text a speaker is writing, gathered from conversation.token deltas.
export interface Streaming {
  speaker_id: string;
  text: string;
}

export interface TokenData {
  conversation_id: string;
  speaker_id: string;
  delta: string;
}

// applyToken adds a delta to its speaker's text. Tokens travel apart from the log's events, so
// the last deltas of a turn can arrive after the turn itself; no strategy lets a speaker take
// two turns in a row, so a token from the last recorded speaker is such a straggler.
export function applyToken(streams: Streaming[], tok: TokenData, conv: Conversation | undefined): Streaming[] {
  if (!conv || conv.status !== "running" || !tok.delta) return streams;
  const last = conv.turns[conv.turns.length - 1];
  if (last && last.speaker_id === tok.speaker_id) return streams;
  const i = streams.findIndex((s) => s.speaker_id === tok.speaker_id);
  if (i < 0) return [...streams, { speaker_id: tok.speaker_id, text: tok.delta }];
  const next = streams.slice();
  next[i] = { ...next[i], text: next[i].text + tok.delta };
  return next;
}

// streamingAfter drops the texts being written once the conversation moves on: a recorded
// turn replaces its own, a person's post makes the worker write the turn again (the old text is
// discarded), and an end stops all writing.
export function streamingAfter(streams: Streaming[], eventType: string): Streaming[] {
  switch (eventType) {
    case "conversation.turn_taken":
    case "conversation.message_posted":
    case "conversation.ended":
      return streams.length ? [] : streams;
  }
  return streams;
}

export interface ConversationEvent {
  type: string;
  data: any;
  stream?: { id: string; type: string; version: number };
}

// applyConversationEvent folds one event of the conversation's stream into the view read from
// GET /conversations/:id. It returns the same view for an event it already shows, and null when
// an event is missing in between (or is one it cannot fold): then the view is read again.
export function applyConversationEvent(conv: Conversation, m: ConversationEvent): Conversation | null {
  const v = m.stream?.version;
  if (!v) return null;
  if (v <= conv.version) return conv;
  if (v !== conv.version + 1) return null;
  switch (m.type) {
    case "conversation.turn_taken": {
      const turn = m.data?.turn as Turn | undefined;
      if (!turn || turn.number !== conv.turns.length + 1) return null;
      const turns = [...conv.turns, turn];
      return { ...conv, turns, turns_taken: turns.length, version: v };
    }
    case "conversation.message_posted": {
      const msg = m.data?.message as HumanMessage | undefined;
      if (!msg) return null;
      const messages = conv.messages.some((x) => x.id === msg.id) ? conv.messages : [...conv.messages, msg];
      return { ...conv, messages, version: v };
    }
    case "conversation.ended":
      return { ...conv, status: "ended", end_reason: m.data?.reason, end_detail: m.data?.detail, version: v };
  }
  return null;
}

export type Entry =
  | { kind: "turn"; key: string; number: number; speaker_id: string; speaker: string; content: string; turn: Turn }
  | { kind: "post"; key: string; author: string; content: string }
  | { kind: "streaming"; key: string; speaker_id: string; speaker: string; text: string };

// buildTranscript interleaves turns and posts: a post made after n turns comes before turn n+1
// (which answers it); the texts being written come last.
export function buildTranscript(conv: Conversation, streams: Streaming[] = []): Entry[] {
  const names = new Map((conv.participants ?? []).map((p) => [p.agent_id, p.name]));
  const nameOf = (id: string) => names.get(id) ?? id.slice(0, 8);
  const turns = [...conv.turns].sort((a, b) => a.number - b.number);
  const posts = conv.messages.map((m, i) => ({ m, i })).sort((a, b) => a.m.after_turn - b.m.after_turn || a.i - b.i);
  const out: Entry[] = [];
  let p = 0;
  const postsBefore = (turnNumber: number) => {
    for (; p < posts.length && posts[p].m.after_turn < turnNumber; p++) {
      const m = posts[p].m;
      out.push({ kind: "post", key: "post-" + m.id, author: m.author, content: m.content });
    }
  };
  for (const t of turns) {
    postsBefore(t.number);
    out.push({ kind: "turn", key: "turn-" + t.number, number: t.number, speaker_id: t.speaker_id, speaker: nameOf(t.speaker_id), content: t.content, turn: t });
  }
  postsBefore(Infinity);
  for (const s of streams) {
    out.push({ kind: "streaming", key: "streaming-" + s.speaker_id, speaker_id: s.speaker_id, speaker: nameOf(s.speaker_id), text: s.text });
  }
  return out;
}
