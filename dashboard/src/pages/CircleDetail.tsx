import { useCallback, useEffect, useState } from "react";
import { Link, useParams } from "react-router-dom";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { ApiError } from "../api/client";
import { circleAction, circleKeys, getCircle, type Circle, type CircleTask, type ConversationSummary } from "../api/circles";
import { useSession } from "../auth/session";
import { ErrorBox, LiveBadge, Loading, PageHeader, StatusPill, when } from "../components/ui";
import { useFeed, type FeedMessage } from "../live/feed";
import { ConversationList, StartConversation } from "./circles/Conversations";
import { streamVersions, useCatchUp, writingOnEvent, writingOnToken, type WritingState } from "./circles/live";
import { Members } from "./circles/Members";
import { Tasks } from "./circles/Tasks";

export default function CircleDetail() {
  const { name = "" } = useParams();
  const q = useQuery({ queryKey: circleKeys.one(name), queryFn: () => getCircle(name) });
  const { state, writing } = useCircleFeed(name);

  if (q.isPending) return <Loading what="Loading circle" />;
  if (q.isError)
    return (
      <div className="space-y-3">
        <PageHeader title={name} />
        <ErrorBox error={q.error} retry={q.error instanceof ApiError && q.error.status === 404 ? undefined : () => q.refetch()} />
        <Link to="/circles" className="text-sm text-indigo-700 underline">
          All circles
        </Link>
      </div>
    );
  const circle = q.data;
  return (
    <div className="space-y-6">
      <PageHeader title={circle.name}>
        <LiveBadge state={state} />
      </PageHeader>
      <Overview circle={circle} />
      <Members circle={circle} />
      <div className="grid gap-6 xl:grid-cols-2">
        <ConversationList circle={circle} writing={writing} />
        <StartConversation circle={circle} />
      </div>
      <Tasks circle={circle} />
    </div>
  );
}

// useCircleFeed follows /ws/circles/<name>: each event refreshes what it changed (the circle
// itself, its tasks, its conversations) until the read model shows it, and tokens tell who is
// writing in which conversation.
function useCircleFeed(name: string) {
  const qc = useQueryClient();
  const [writing, setWriting] = useState<WritingState>({});
  const circle = useCatchUp<Circle>(circleKeys.one(name), (c) => ({ ["circle-" + c.id]: c.version }));
  const tasks = useCatchUp<CircleTask[]>(circleKeys.tasks(name), (ts) => streamVersions("circle_task", ts));
  const conversations = useCatchUp<ConversationSummary[]>(circleKeys.conversations(name), (cs) => streamVersions("conversation", cs));

  const onMessage = useCallback(
    (m: FeedMessage) => {
      if (m.type === "conversation.token") {
        const d = m.data as { conversation_id?: string; speaker_id?: string };
        if (d?.conversation_id && d.speaker_id) setWriting((w) => writingOnToken(w, d.conversation_id!, d.speaker_id!));
        return;
      }
      const s = m.stream;
      if (!s || !s.version) return;
      switch (s.type) {
        case "circle":
          circle(s.id, s.version);
          qc.invalidateQueries({ queryKey: circleKeys.list, exact: true });
          break;
        case "circle_task":
          tasks(s.id, s.version);
          break;
        case "conversation": {
          conversations(s.id, s.version);
          const id = s.id.slice("conversation-".length);
          setWriting((w) => writingOnEvent(w, id, m.type, m.data));
          break;
        }
      }
    },
    [qc, circle, tasks, conversations],
  );
  const state = useFeed(name ? `/ws/circles/${encodeURIComponent(name)}` : null, onMessage);

  // The feed starts at the moment it connects: what happened between the first reads and then
  // is only in a fresh read.
  useEffect(() => {
    if (state !== "live") return;
    for (const key of [circleKeys.one(name), circleKeys.tasks(name), circleKeys.conversations(name)]) {
      qc.invalidateQueries({ queryKey: key, exact: true });
    }
  }, [state, name, qc]);

  return { state, writing };
}

function Overview({ circle }: { circle: Circle }) {
  const qc = useQueryClient();
  const me = useSession((s) => s.user?.id);
  const act = useMutation({
    mutationFn: (action: "start" | "stop" | "archive") => circleAction(circle.name, action),
    onSuccess: (c) => {
      qc.setQueryData(circleKeys.one(circle.name), c);
      qc.invalidateQueries({ queryKey: circleKeys.list, exact: true });
    },
  });
  const status = circle.status;
  const archived = status === "archived";
  return (
    <section className="card space-y-3" aria-label="Circle">
      <div className="flex flex-wrap items-center gap-3">
        <span className="text-sm text-slate-500">Status</span>
        <span data-testid="circle-status">
          <StatusPill status={status} />
        </span>
        {!archived && (
          <div className="flex flex-wrap gap-2">
            <button type="button" className="btn" disabled={act.isPending || status === "running"} onClick={() => act.mutate("start")}>
              Start
            </button>
            <button type="button" className="btn-secondary" disabled={act.isPending || status !== "running"} onClick={() => act.mutate("stop")}>
              Stop
            </button>
            <button
              type="button"
              className="btn-danger"
              disabled={act.isPending}
              onClick={() => window.confirm(`Archive ${circle.name}? It cannot be changed afterwards.`) && act.mutate("archive")}
            >
              Archive
            </button>
          </div>
        )}
      </div>
      {circle.description && <p className="text-sm text-slate-700">{circle.description}</p>}
      <dl className="grid gap-x-6 gap-y-1 text-xs text-slate-600 sm:grid-cols-3">
        <div>
          <dt className="inline text-slate-500">Owner </dt>
          <dd className="inline">{circle.owner === me ? "you" : circle.owner}</dd>
        </div>
        <div>
          <dt className="inline text-slate-500">Created </dt>
          <dd className="inline">{when(circle.created_at)}</dd>
        </div>
        <div>
          <dt className="inline text-slate-500">Updated </dt>
          <dd className="inline">{when(circle.updated_at)}</dd>
        </div>
      </dl>
      <ErrorBox error={act.error} />
    </section>
  );
}
