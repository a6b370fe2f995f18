import { useInfiniteQuery, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { Link } from "react-router-dom";
import { agentKeys, createAgent, getCatalog, getPersonas, listAgents, type Agent } from "../api/agents";
import { isAdmin, useSession } from "../auth/session";
import { Empty, ErrorBox, LiveBadge, Loading, PageHeader, when } from "../components/ui";
import { useFeed, type FeedMessage } from "../live/feed";
import { AgentForm } from "./agents/AgentForm";
import { flattenPages, rememberAgent, type AgentPages } from "./agents/cache";
import { createBody, emptyForm, type AgentFormValues } from "./agents/form";

export default function Agents() {
  const user = useSession((s) => s.user);
  const admin = isAdmin(user);
  const qc = useQueryClient();
  const list = useInfiniteQuery({
    queryKey: agentKeys.list,
    queryFn: ({ pageParam }) => listAgents(pageParam),
    initialPageParam: undefined as string | undefined,
    getNextPageParam: (last) => last.next_cursor || undefined,
  });
  // Members may not follow the "agents" topic (it carries everyone's); their list is refreshed
  // by their own writes instead.
  const feed = useFeed(admin ? "/ws?topics=agents" : null, (m: FeedMessage) => {
    if (m.type.startsWith("agent.")) qc.invalidateQueries({ queryKey: agentKeys.list });
  });
  const agents = flattenPages(list.data as AgentPages | undefined);

  return (
    <div className="space-y-6">
      <PageHeader title="Agents">{admin && <LiveBadge state={feed} />}</PageHeader>
      <section className="card">
        {list.isPending ? (
          <Loading what="Loading agents" />
        ) : list.isError ? (
          <ErrorBox error={list.error} retry={() => list.refetch()} />
        ) : agents.length === 0 ? (
          <Empty>No agents yet. Create the first one below.</Empty>
        ) : (
          <AgentTable agents={agents} />
        )}
        {list.hasNextPage && (
          <button className="btn-secondary mt-3" onClick={() => list.fetchNextPage()} disabled={list.isFetchingNextPage}>
            {list.isFetchingNextPage ? "Loading…" : "Load more"}
          </button>
        )}
        {list.isFetchNextPageError && <ErrorBox error={list.error} />}
      </section>
      <CreateAgent />
    </div>
  );
}

function AgentTable({ agents }: { agents: Agent[] }) {
  return (
    <div className="overflow-x-auto">
      <table className="table" aria-label="Agents">
        <thead>
          <tr>
            <th>Name</th>
            <th>Role</th>
            <th>Provider</th>
            <th>Model</th>
            <th>Version</th>
            <th className="hidden sm:table-cell">Created</th>
          </tr>
        </thead>
        <tbody>
          {agents.map((a) => (
            <tr key={a.id} data-agent-id={a.id}>
              <td>
                <Link data-testid="agent-link" to={"/agents/" + a.id} className="font-medium text-indigo-700 hover:underline">
                  {a.name}
                </Link>
              </td>
              <td>{a.role}</td>
              <td>{a.provider}</td>
              <td className="break-all">{a.model}</td>
              <td>{a.version}</td>
              <td className="hidden whitespace-nowrap text-slate-500 sm:table-cell">{when(a.created_at)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function CreateAgent() {
  const qc = useQueryClient();
  const [values, setValues] = useState<AgentFormValues>(emptyForm);
  const [created, setCreated] = useState<Agent | null>(null);
  const catalog = useQuery({ queryKey: agentKeys.catalog, queryFn: getCatalog, staleTime: 5 * 60_000 });
  const personas = useQuery({ queryKey: agentKeys.personas, queryFn: getPersonas, staleTime: 5 * 60_000 });
  const create = useMutation({
    mutationFn: () => createAgent(createBody(values)),
    onSuccess: ({ data, etag }) => {
      rememberAgent(qc, data, etag);
      setCreated(data);
      setValues(emptyForm);
    },
  });

  return (
    <section className="card" aria-labelledby="create-agent">
      <h2 id="create-agent" className="mb-3 text-lg font-semibold">
        New agent
      </h2>
      {catalog.isError && <ErrorBox error={catalog.error} retry={() => catalog.refetch()} />}
      <AgentForm
        label="Create agent"
        values={values}
        onChange={(v) => {
          setValues(v);
          setCreated(null);
        }}
        onSubmit={() => create.mutate()}
        error={create.error}
        catalog={catalog.data}
        personas={personas.data}
        submitLabel="Create agent"
        busy={create.isPending}
      >
        {created && (
          <span role="status" className="text-sm text-emerald-700">
            Created <Link to={"/agents/" + created.id} className="font-medium underline">{created.name}</Link>.
          </span>
        )}
      </AgentForm>
    </section>
  );
}
