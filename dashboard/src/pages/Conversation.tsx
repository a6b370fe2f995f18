import { useCallback, useEffect, useMemo, useState, type FormEvent } from "react";
import { Link, useParams } from "react-router-dom";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { ApiError } from "../api/client";
import {
  circleKeys,
  getConversation,
  listCircles,
  postToConversation,
  stopConversation,
  STRATEGIES,
  type Conversation,
} from "../api/circles";
import { useSession } from "../auth/session";
import { Empty, ErrorBox, Field, LiveBadge, Loading, PageHeader, StatusPill } from "../components/ui";
import { useFeed, type FeedMessage } from "../live/feed";
import { asApiError, inputClass, unplaced } from "./circles/forms";
import {
  applyConversationEvent,
  applyToken,
  buildTranscript,
  streamingAfter,
  type Entry,
  type Streaming,
  type TokenData,
} from "./circles/transcript";

// newer keeps the view with the later stream version.
export function newer(cur: Conversation | undefined, fresh: Conversation): Conversation {
  return cur && cur.id === fresh.id && cur.version > fresh.version ? cur : fresh;
}

export default function ConversationView() {
  const { id = "" } = useParams();
  const qc = useQueryClient();
  const q = useQuery({
    queryKey: circleKeys.conversation(id),
    // A read that started before a live event was folded in can answer an older version.
    queryFn: async () => newer(qc.getQueryData<Conversation>(circleKeys.conversation(id)), await getConversation(id)),
  });
  // The conversation names its circle by id; its live feed is addressed by name.
  const circles = useQuery({ queryKey: circleKeys.list, queryFn: listCircles, enabled: q.isSuccess });
  const circleName = q.data ? circles.data?.find((c) => c.id === q.data.circle_id)?.name : undefined;
  const { state, streams } = useConversationFeed(id, circleName);

  if (q.isPending) return <Loading what="Loading conversation" />;
  if (q.isError)
    return (
      <div className="space-y-3">
        <PageHeader title="Conversation" />
        <ErrorBox error={q.error} retry={q.error instanceof ApiError && q.error.status === 404 ? undefined : () => q.refetch()} />
      </div>
    );
  const conv = q.data;
  return (
    <div className="space-y-4">
      <PageHeader title={conv.topic}>
        <LiveBadge state={state} />
        {conv.status === "running" && <StopButton id={conv.id} />}
      </PageHeader>
      <Header conv={conv} circleName={circleName} />
      {circles.isError && <ErrorBox error={circles.error} retry={() => circles.refetch()} />}
      <Transcript conv={conv} streams={streams} />
      {conv.status === "running" ? (
        <PostForm id={conv.id} />
      ) : (
        conv.summary.length > 0 && (
          <section className="card">
            <h2 className="mb-2 font-semibold">Last word of each participant</h2>
            <ul className="space-y-1 text-sm">
              {conv.summary.map((s, i) => (
                <li key={i} className="whitespace-pre-wrap">
                  {s}
                </li>
              ))}
            </ul>
          </section>
        )
      )}
    </div>
  );
}

// useConversationFeed follows the circle's feed for this conversation: its events are folded
// into the transcript as they come and the tokens of the turn being written grow in place.
function useConversationFeed(id: string, circleName: string | undefined) {
  const qc = useQueryClient();
  const [streams, setStreams] = useState<Streaming[]>([]);

  const onMessage = useCallback(
    (m: FeedMessage) => {
      const key = circleKeys.conversation(id);
      if (m.type === "conversation.token") {
        const tok = m.data as TokenData;
        if (tok?.conversation_id !== id) return;
        setStreams((s) => applyToken(s, tok, qc.getQueryData<Conversation>(key)));
        return;
      }
      if (m.stream?.id !== "conversation-" + id) return;
      const cur = qc.getQueryData<Conversation>(key);
      const next = cur ? applyConversationEvent(cur, m) : null;
      if (next === null) qc.invalidateQueries({ queryKey: key, exact: true });
      else if (next !== cur) qc.setQueryData(key, next);
      // The summary of an ended conversation is made by the server.
      if (m.type === "conversation.ended") qc.invalidateQueries({ queryKey: key, exact: true });
      setStreams((s) => streamingAfter(s, m.type));
    },
    [id, qc],
  );
  const state = useFeed(circleName ? `/ws/circles/${encodeURIComponent(circleName)}` : null, onMessage);

  // The feed starts when it connects; a turn taken between the first read and then is only in
  // a fresh read. Tokens seen before a reconnect may have missed deltas, so they start over.
  useEffect(() => {
    if (state !== "live") return;
    setStreams([]);
    qc.invalidateQueries({ queryKey: circleKeys.conversation(id), exact: true });
  }, [state, id, qc]);

  useEffect(() => setStreams([]), [id]);
  return { state, streams };
}

function Header({ conv, circleName }: { conv: Conversation; circleName?: string }) {
  const strategy = STRATEGIES.find((s) => s.value === conv.strategy)?.label ?? conv.strategy;
  return (
    <section className="card space-y-2 text-sm">
      <div className="flex flex-wrap items-center gap-x-4 gap-y-1">
        <span data-testid="conversation-status">
          <StatusPill status={conv.status} />
        </span>
        <span>
          Turns {conv.turns_taken} / {conv.max_turns}
        </span>
        <span>{strategy}</span>
        {circleName && (
          <span>
            Circle{" "}
            <Link to={"/circles/" + circleName} className="text-indigo-700 hover:underline">
              {circleName}
            </Link>
          </span>
        )}
      </div>
      <div className="flex flex-wrap items-center gap-1" data-testid="participants">
        <span className="text-slate-500">Participants:</span>
        {(conv.participants ?? []).map((p) => (
          <Link key={p.agent_id} to={"/agents/" + p.agent_id} className="pill bg-indigo-50 text-indigo-700 hover:underline" data-participant={p.name}>
            {p.name}
          </Link>
        ))}
      </div>
      {conv.status === "ended" && (
        <div className="rounded-md bg-slate-50 p-2" data-testid="conversation-end-reason">
          Ended: <strong>{conv.end_reason ?? "unknown"}</strong>
          {conv.end_detail && <span className="text-slate-600"> — {conv.end_detail}</span>}
        </div>
      )}
    </section>
  );
}

function Transcript({ conv, streams }: { conv: Conversation; streams: Streaming[] }) {
  const entries = useMemo(() => buildTranscript(conv, streams), [conv, streams]);
  if (entries.length === 0)
    return <Empty>{conv.status === "running" ? "Nobody has spoken yet; the first turn is being written." : "Nobody spoke."}</Empty>;
  return (
    <ol className="space-y-3" aria-label="Transcript">
      {entries.map((e) => (
        <EntryView key={e.key} entry={e} />
      ))}
    </ol>
  );
}

function EntryView({ entry: e }: { entry: Entry }) {
  const me = useSession((s) => s.user?.id);
  switch (e.kind) {
    case "turn": {
      const items = e.turn.context?.items ?? [];
      return (
        <li className="card" data-testid="turn" data-speaker={e.speaker} data-number={e.number}>
          <div className="mb-1 flex items-baseline justify-between gap-2 text-xs text-slate-500">
            <span className="font-semibold text-slate-800">{e.speaker}</span>
            <span>turn {e.number}</span>
          </div>
          <div className="whitespace-pre-wrap break-words text-sm">{e.content}</div>
          {items.length > 0 && (
            <details className="mt-2 text-xs text-slate-500">
              <summary>Recalled {items.length} memories and documents</summary>
              <ul className="mt-1 list-disc pl-5">
                {items.map((it) => (
                  <li key={it.id}>
                    {it.kind}
                    {it.source ? ` · ${it.source}` : ""} · {it.score.toFixed(2)}
                  </li>
                ))}
              </ul>
            </details>
          )}
        </li>
      );
    }
    case "post":
      return (
        <li className="card border-amber-200 bg-amber-50" data-testid="post">
          <div className="mb-1 text-xs font-semibold text-amber-800">{e.author === me ? "You" : "A person"}</div>
          <div className="whitespace-pre-wrap break-words text-sm">{e.content}</div>
        </li>
      );
    case "streaming":
      return (
        <li className="card border-dashed" data-testid="turn-streaming" data-speaker={e.speaker} aria-live="polite">
          <div className="mb-1 flex items-baseline justify-between gap-2 text-xs text-slate-500">
            <span className="font-semibold text-slate-800">{e.speaker}</span>
            <span>writing…</span>
          </div>
          <div className="whitespace-pre-wrap break-words text-sm">
            {e.text}
            <span className="ml-0.5 inline-block h-3 w-1.5 animate-pulse bg-slate-400 align-middle" />
          </div>
        </li>
      );
  }
}

function PostForm({ id }: { id: string }) {
  const qc = useQueryClient();
  const [text, setText] = useState("");
  const post = useMutation({
    mutationFn: () => postToConversation(id, text),
    onSuccess: (c) => {
      qc.setQueryData(circleKeys.conversation(id), c);
      setText("");
    },
  });
  const err = asApiError(post.error);
  const submit = (e: FormEvent) => {
    e.preventDefault();
    post.mutate();
  };
  return (
    <form onSubmit={submit} className="card space-y-2" aria-label="Post">
      <Field label="Say something (the next turn answers it)" name="content" error={err}>
        <textarea className={inputClass(err, "content")} name="post" rows={3} value={text} onChange={(e) => setText(e.target.value)} />
      </Field>
      {unplaced(post.error, ["content"]) && <ErrorBox error={post.error} />}
      <button className="btn" type="submit" disabled={post.isPending || text.trim() === ""}>
        {post.isPending ? "Posting…" : "Post"}
      </button>
    </form>
  );
}

// Only its owner or an admin can read a conversation at all, so whoever sees it may stop it.
function StopButton({ id }: { id: string }) {
  const qc = useQueryClient();
  const stop = useMutation({
    mutationFn: () => stopConversation(id),
    onSuccess: (c) => qc.setQueryData(circleKeys.conversation(id), c),
  });
  return (
    <>
      <button type="button" className="btn-danger" disabled={stop.isPending} onClick={() => stop.mutate()}>
        Stop
      </button>
      {stop.isError && <ErrorBox error={stop.error} />}
    </>
  );
}
