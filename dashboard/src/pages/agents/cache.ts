import type { InfiniteData, QueryClient } from "@tanstack/react-query";
import { agentKeys, type Agent } from "../../api/agents";
import type { Page } from "../../api/client";

// The agent caches: the list (pages in creation order) and each agent with its ETag.
export type AgentPages = InfiniteData<Page<Agent>, string | undefined>;

// flattenPages lists every loaded agent once: an agent added to the cache by a write may come
// back again in a later page.
export function flattenPages(data: AgentPages | undefined): Agent[] {
  const seen = new Set<string>();
  const out: Agent[] = [];
  for (const page of data?.pages ?? []) {
    for (const a of page.items ?? []) {
      if (seen.has(a.id)) continue;
      seen.add(a.id);
      out.push(a);
    }
  }
  return out;
}

// putAgent writes an agent the API just returned into the cached list (the list is in creation
// order, so a new one goes at the end), replacing any older copy.
export function putAgent(data: AgentPages | undefined, agent: Agent): AgentPages | undefined {
  if (!data) return data;
  let found = false;
  const pages = data.pages.map((p) => ({
    ...p,
    items: p.items.map((a) => {
      if (a.id !== agent.id) return a;
      found = true;
      return agent;
    }),
  }));
  if (!found && pages.length > 0) {
    const last = pages[pages.length - 1];
    pages[pages.length - 1] = { ...last, items: [...last.items, agent] };
  }
  return { ...data, pages };
}

export function dropAgent(data: AgentPages | undefined, id: string): AgentPages | undefined {
  if (!data) return data;
  return { ...data, pages: data.pages.map((p) => ({ ...p, items: p.items.filter((a) => a.id !== id) })) };
}

// rememberAgent is what every write of an agent does to the caches: the API answers a write
// with the agent as the read model now shows it, so the console shows it without a refetch.
export function rememberAgent(qc: QueryClient, agent: Agent, etag: string) {
  qc.setQueryData<AgentPages>(agentKeys.list, (d) => putAgent(d, agent));
  qc.setQueryData(agentKeys.one(agent.id), { data: agent, etag });
  refreshOtherLists(qc);
}

export function forgetAgent(qc: QueryClient, id: string) {
  qc.setQueryData<AgentPages>(agentKeys.list, (d) => dropAgent(d, id));
  qc.removeQueries({ queryKey: agentKeys.one(id) });
  refreshOtherLists(qc);
}

// Other pages keep their own lists of agents under ["agents", ...] (pickers); they are
// refetched, while this page's list was just written and needs no round trip.
function refreshOtherLists(qc: QueryClient) {
  qc.invalidateQueries({ queryKey: ["agents"], predicate: (q) => q.queryKey[1] !== agentKeys.list[1] });
}
