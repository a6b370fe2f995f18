import { useCallback, useEffect, useRef } from "react";
import { useQueryClient, type QueryKey } from "@tanstack/react-query";

// Read models are built after the event is in the log, and the live feed follows the log: an
// event can reach the browser before the list it changes has caught up. So a refetch after an
// event is checked against the stream version the event produced, and repeated (with backoff)
// until the read model shows it.

export type Versions = Record<string, number>;

// want records that stream must be seen at version (or later).
export function want(wanted: Versions, stream: string, version: number): Versions {
  return (wanted[stream] ?? 0) >= version ? wanted : { ...wanted, [stream]: version };
}

// pending is what the data (stream id → version it shows) does not show yet.
export function pending(have: Versions, wanted: Versions): Versions {
  const out: Versions = {};
  for (const [stream, v] of Object.entries(wanted)) if ((have[stream] ?? 0) < v) out[stream] = v;
  return out;
}

// streamVersions maps views carrying id and version to their streams' versions.
export function streamVersions(prefix: string, views: { id: string; version: number }[] | undefined | null): Versions {
  const out: Versions = {};
  for (const v of views ?? []) out[`${prefix}-${v.id}`] = v.version;
  return out;
}

const MAX_TRIES = 6;

// useCatchUp returns a function to call with each event's stream and version: it refetches the
// query (bursts of events share one refetch) until the data shows them all, giving up after a
// few tries so that an item the list does not include (past its limit) cannot loop for ever.
export function useCatchUp<T>(queryKey: QueryKey, versionsOf: (data: T) => Versions) {
  const qc = useQueryClient();
  const wanted = useRef<Versions>({});
  const tries = useRef(0);
  const timer = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);
  const key = useRef(queryKey);
  key.current = queryKey;
  const read = useRef(versionsOf);
  read.current = versionsOf;

  useEffect(() => () => clearTimeout(timer.current), []);

  const run = useCallback(async () => {
    await qc.refetchQueries({ queryKey: key.current, exact: true });
    const data = qc.getQueryData<T>(key.current);
    if (data !== undefined) wanted.current = pending(read.current(data), wanted.current);
    if (Object.keys(wanted.current).length === 0) {
      tries.current = 0;
      return;
    }
    if (++tries.current >= MAX_TRIES) {
      wanted.current = {};
      tries.current = 0;
      return;
    }
    timer.current = setTimeout(run, 150 * 2 ** tries.current);
  }, [qc]);

  return useCallback(
    (stream: string, version: number) => {
      wanted.current = want(wanted.current, stream, version);
      tries.current = 0;
      clearTimeout(timer.current);
      timer.current = setTimeout(run, 60);
    },
    [run],
  );
}

// Who is writing in each of a circle's running conversations, for the conversation list.
export interface WritingState {
  [conversation: string]: { speaker?: string; last?: string };
}

// writingOnToken notes a token's speaker, unless it is the last recorded speaker (a straggling
// token of its recorded turn: nobody speaks twice in a row).
export function writingOnToken(w: WritingState, conversation: string, speaker: string): WritingState {
  const c = w[conversation] ?? {};
  if (c.last === speaker || c.speaker === speaker) return w;
  return { ...w, [conversation]: { ...c, speaker } };
}

// writingOnEvent follows the conversation's events: a recorded turn ends its writing, a post
// makes the turn be written again, an end stops it all.
export function writingOnEvent(w: WritingState, conversation: string, type: string, data: any): WritingState {
  const c = w[conversation] ?? {};
  switch (type) {
    case "conversation.turn_taken":
      return { ...w, [conversation]: { last: data?.turn?.speaker_id } };
    case "conversation.message_posted":
      return c.speaker ? { ...w, [conversation]: { last: c.last } } : w;
    case "conversation.ended": {
      if (!(conversation in w)) return w;
      const { [conversation]: _gone, ...rest } = w;
      return rest;
    }
  }
  return w;
}
