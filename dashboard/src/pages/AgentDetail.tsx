import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useCallback, useEffect, useReducer, useState } from "react";
import { Link, useNavigate, useParams } from "react-router-dom";
import { agentKeys, deleteAgent, getAgent, getCatalog, getUsage, updateAgent, type Agent, type Catalog, type Usage } from "../api/agents";
import { ApiError } from "../api/client";
import { Empty, ErrorBox, LiveBadge, Loading, PageHeader, when } from "../components/ui";
import { useFeed, type FeedMessage } from "../live/feed";
import { AgentForm } from "./agents/AgentForm";
import { actionOf, chatReducer, initialChat } from "./agents/chat";
import { ChatPanel } from "./agents/ChatPanel";
import { isVersionConflict, patchBody, valuesFromAgent, type AgentFormValues } from "./agents/form";
import { MemoryPanel } from "./agents/MemoryPanel";
import { ToolsPanel } from "./agents/ToolsPanel";
import { forgetAgent, rememberAgent } from "./agents/cache";

export default function AgentDetail() {
  const { id = "" } = useParams();
  // A new agent is a new page: its chat and forms must not carry over.
  return <AgentView key={id} id={id} />;
}

function AgentView({ id }: { id: string }) {
  const qc = useQueryClient();
  const navigate = useNavigate();
  const agent = useQuery({ queryKey: agentKeys.one(id), queryFn: () => getAgent(id) });
  const catalog = useQuery({ queryKey: agentKeys.catalog, queryFn: getCatalog, staleTime: 5 * 60_000 });
  const usage = useQuery({ queryKey: agentKeys.usage(id), queryFn: () => getUsage(id), enabled: agent.isSuccess });
  const [chat, dispatch] = useReducer(chatReducer, initialChat);
  const [deletedElsewhere, setDeletedElsewhere] = useState(false);

  const onFeed = useCallback(
    (m: FeedMessage) => {
      const action = actionOf(m);
      if (action) dispatch(action);
      if (m.type === "chat.replied" || m.type === "chat.failed") qc.invalidateQueries({ queryKey: agentKeys.usage(id) });
      if (m.type === "agent.updated") qc.invalidateQueries({ queryKey: agentKeys.one(id), exact: true });
      if (m.type === "agent.deleted") setDeletedElsewhere(true);
      if (m.type.startsWith("memory.")) qc.invalidateQueries({ queryKey: agentKeys.memories(id) });
    },
    [qc, id],
  );
  const feed = useFeed(agent.isSuccess && !deletedElsewhere ? `/ws/agents/${encodeURIComponent(id)}` : null, onFeed);

  const remove = useMutation({
    mutationFn: () => deleteAgent(id, agent.data!.etag),
    onSuccess: () => {
      forgetAgent(qc, id);
      navigate("/agents");
    },
  });

  if (agent.isPending) return <Loading what="Loading agent" />;
  if (agent.isError) {
    return (
      <div className="space-y-3">
        <PageHeader title="Agent" />
        <ErrorBox error={agent.error} retry={agent.error instanceof ApiError && agent.error.status === 404 ? undefined : () => agent.refetch()} />
        <Link to="/agents" className="text-sm text-indigo-700 underline">
          Back to agents
        </Link>
      </div>
    );
  }
  const a = agent.data.data;

  return (
    <div className="space-y-4">
      <PageHeader title={a.name}>
        <LiveBadge state={feed} />
        <button
          className="btn-danger"
          disabled={remove.isPending || deletedElsewhere}
          onClick={() => {
            if (window.confirm(`Delete the agent “${a.name}”? Its chats stay in the log, but it can no longer answer.`)) remove.mutate();
          }}
        >
          Delete
        </button>
      </PageHeader>
      <AgentSummary agent={a} usage={usage.data} />
      {deletedElsewhere && (
        <div role="alert" className="rounded-md border border-amber-200 bg-amber-50 p-3 text-sm text-amber-900">
          This agent has just been deleted.{" "}
          <Link to="/agents" className="underline">
            Back to agents
          </Link>
        </div>
      )}
      {remove.error != null && <DeleteError error={remove.error} reload={() => (remove.reset(), agent.refetch())} />}
      <div className="grid grid-cols-1 gap-4 lg:grid-cols-3">
        <div className="min-w-0 lg:col-span-2">
          <ChatPanel agentId={id} chat={chat} dispatch={dispatch} feed={feed} disabled={deletedElsewhere} />
        </div>
        <div className="min-w-0 space-y-4">
          <ToolsPanel tools={a.tools} catalog={catalog.data} />
          <UsageCard usage={usage.data} error={usage.error} />
        </div>
      </div>
      <MemoryPanel agentId={id} />
      <EditAgent agent={a} etag={agent.data.etag} catalog={catalog.data} reload={() => agent.refetch()} />
    </div>
  );
}

function DeleteError({ error, reload }: { error: unknown; reload: () => void }) {
  if (!isVersionConflict(error)) return <ErrorBox error={error} />;
  return <ErrorBox error={new Error("The agent changed after this page loaded it; reload it, check, then delete again.")} retry={reload} />;
}

function AgentSummary({ agent, usage }: { agent: Agent; usage?: Usage }) {
  const traits = agent.personality?.traits ?? [];
  return (
    <dl className="card grid grid-cols-2 gap-x-4 gap-y-2 text-sm sm:grid-cols-4" aria-label="Agent">
      <Item label="Role" value={agent.role} />
      <Item label="Provider" value={agent.provider} />
      <Item label="Model" value={agent.model} />
      <Item label="Version" value={String(agent.version)} />
      <Item label="Temperature" value={String(agent.personality?.temperature ?? "—")} />
      <Item label="Traits" value={traits.length ? traits.join(", ") : "—"} />
      <Item label="Updated" value={when(agent.updated_at)} />
      <Item label="Cost so far" value={usage ? `$${usage.cost_usd.toFixed(4)}` : "—"} />
    </dl>
  );
}

function Item({ label, value }: { label: string; value: string }) {
  return (
    <div className="min-w-0">
      <dt className="label">{label}</dt>
      <dd className="break-words" data-field={label.toLowerCase()}>
        {value}
      </dd>
    </div>
  );
}

function UsageCard({ usage, error }: { usage?: Usage; error: unknown }) {
  return (
    <section className="card" aria-label="Usage">
      <h2 className="mb-2 text-lg font-semibold">Usage</h2>
      {error ? (
        <ErrorBox error={error} />
      ) : !usage ? (
        <Loading what="Loading usage" />
      ) : usage.model_calls === 0 ? (
        <Empty>No model calls yet.</Empty>
      ) : (
        <dl className="grid grid-cols-2 gap-2 text-sm">
          <Item label="Model calls" value={String(usage.model_calls)} />
          <Item label="Tool calls" value={String(usage.tool_calls)} />
          <Item label="Input tokens" value={usage.input_tokens.toLocaleString()} />
          <Item label="Output tokens" value={usage.output_tokens.toLocaleString()} />
        </dl>
      )}
    </section>
  );
}

const same = (a: AgentFormValues, b: AgentFormValues) => JSON.stringify(a) === JSON.stringify(b);

// EditAgent edits from the version it was opened at: If-Match carries that version, so a change
// made meanwhile by someone else is a 409 to resolve, not something silently overwritten. While
// nothing is typed, it follows the agent's newest version instead.
function EditAgent({ agent, etag, catalog, reload }: { agent: Agent; etag: string; catalog?: Catalog; reload: () => Promise<unknown> }) {
  const qc = useQueryClient();
  const [base, setBase] = useState({ values: valuesFromAgent(agent), etag, agent });
  const [values, setValues] = useState(base.values);
  const [saved, setSaved] = useState(false);
  const dirty = !same(values, base.values);

  useEffect(() => {
    if (agent.version === base.agent.version || dirty) return;
    const next = { values: valuesFromAgent(agent), etag, agent };
    setBase(next);
    setValues(next.values);
    // Only a new version of the agent should move the form along.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [agent.version]);

  const save = useMutation({
    mutationFn: (patch: ReturnType<typeof patchBody>) => updateAgent(agent.id, patch, base.etag),
    onSuccess: ({ data, etag }) => {
      rememberAgent(qc, data, etag);
      const next = { values: valuesFromAgent(data), etag, agent: data };
      setBase(next);
      setValues(next.values);
      setSaved(true);
    },
  });
  const conflict = isVersionConflict(save.error);

  const reloadLatest = async () => {
    await reload();
    const fresh = qc.getQueryData<{ data: Agent; etag: string }>(agentKeys.one(agent.id));
    if (fresh) {
      const next = { values: valuesFromAgent(fresh.data), etag: fresh.etag, agent: fresh.data };
      setBase(next);
      setValues(next.values);
    }
    save.reset();
  };

  return (
    <section className="card" aria-labelledby="edit-agent">
      <h2 id="edit-agent" className="mb-3 text-lg font-semibold">
        Settings
      </h2>
      {conflict && (
        <div role="alert" data-testid="version-conflict" className="mb-3 rounded-md border border-amber-200 bg-amber-50 p-3 text-sm text-amber-900">
          Someone else changed this agent after you started editing version {base.agent.version}. Reload it to see their change (your unsaved
          edits will be replaced), then edit again.
          <div className="mt-2">
            <button className="btn-secondary" type="button" onClick={reloadLatest}>
              Reload
            </button>
          </div>
        </div>
      )}
      <AgentForm
        label="Edit agent"
        values={values}
        onChange={(v) => {
          setValues(v);
          setSaved(false);
        }}
        onSubmit={() => {
          const patch = patchBody(base.agent, values);
          // Nothing changed: no request, no new version.
          if (Object.keys(patch).length === 0) setSaved(true);
          else save.mutate(patch);
        }}
        error={conflict ? null : save.error}
        catalog={catalog}
        submitLabel="Save"
        busy={save.isPending}
      >
        {dirty && (
          <button
            type="button"
            className="btn-secondary"
            onClick={() => {
              setValues(base.values);
              save.reset();
            }}
          >
            Discard changes
          </button>
        )}
        {saved && !dirty && (
          <span role="status" className="text-sm text-emerald-700">
            Saved (version {base.agent.version}).
          </span>
        )}
      </AgentForm>
    </section>
  );
}
