import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { agentKeys, forgetMemory, recallAgentMemories, rememberForAgent, type MemoryItem } from "../../api/agents";
import { ApiError } from "../../api/client";
import { Empty, ErrorBox, Field, Loading, when } from "../../components/ui";
import { parseList, parseNumber, unplaced } from "./form";

// The agent's memories. The API has no plain listing of memories, only recall (POST
// /memory/search, which needs a query), so this panel searches as the agent and shows what it
// remembered in this visit alongside.
export function MemoryPanel({ agentId }: { agentId: string }) {
  const [draft, setDraft] = useState("");
  const [ownOnly, setOwnOnly] = useState(true);
  const [query, setQuery] = useState("");
  const [added, setAdded] = useState<MemoryItem[]>([]);
  const qc = useQueryClient();
  const recall = useQuery({
    queryKey: [...agentKeys.memories(agentId), query, ownOnly],
    queryFn: () => recallAgentMemories(agentId, query, ownOnly),
    enabled: query !== "",
  });
  const forget = useMutation({
    mutationFn: forgetMemory,
    onSuccess: (_, id) => {
      setAdded((xs) => xs.filter((m) => m.id !== id));
      qc.invalidateQueries({ queryKey: agentKeys.memories(agentId) });
    },
  });
  const search = (e: FormEvent) => {
    e.preventDefault();
    setQuery(draft.trim());
  };
  const found = recall.data?.items ?? [];

  return (
    <section className="card space-y-4" aria-label="Memories">
      <h2 className="text-lg font-semibold">Memories</h2>
      <form onSubmit={search} className="flex flex-col gap-2 sm:flex-row sm:items-end" role="search">
        <label className="block flex-1">
          <span className="label">Search</span>
          <input className="input" name="query" type="search" value={draft} onChange={(e) => setDraft(e.target.value)} placeholder="What does the agent remember about…" />
        </label>
        <label className="flex items-center gap-1 text-sm text-slate-600">
          <input type="checkbox" name="own_only" checked={ownOnly} onChange={(e) => setOwnOnly(e.target.checked)} />
          only its own
        </label>
        <button className="btn-secondary" type="submit" disabled={draft.trim() === ""}>
          Search
        </button>
      </form>
      {forget.error != null && <ErrorBox error={forget.error} />}
      {query === "" ? (
        <p className="text-sm text-slate-500">Search to see what this agent remembers{ownOnly ? "" : " and can recall from its circles and its owner"}.</p>
      ) : recall.isPending ? (
        <Loading what="Searching memories" />
      ) : recall.isError ? (
        <ErrorBox error={recall.error} retry={() => recall.refetch()} />
      ) : found.length === 0 ? (
        <Empty>Nothing found for “{query}”.</Empty>
      ) : (
        <MemoryList items={found} onForget={(id) => forget.mutate(id)} busy={forget.isPending} />
      )}
      {added.length > 0 && (
        <div>
          <h3 className="label">Remembered just now</h3>
          <MemoryList items={added} onForget={(id) => forget.mutate(id)} busy={forget.isPending} />
        </div>
      )}
      <RememberForm
        agentId={agentId}
        onRemembered={(m) => {
          setAdded((xs) => [m, ...xs]);
          qc.invalidateQueries({ queryKey: agentKeys.memories(agentId) });
        }}
      />
    </section>
  );
}

function MemoryList({ items, onForget, busy }: { items: (MemoryItem & { score?: number })[]; onForget: (id: string) => void; busy: boolean }) {
  return (
    <ul className="divide-y divide-slate-100" aria-label="Memory items">
      {items.map((m) => (
        <li key={m.id} className="py-2" data-memory-id={m.id}>
          <p className="whitespace-pre-wrap break-words text-sm">{m.content}</p>
          <div className="mt-1 flex flex-wrap items-center gap-1.5 text-xs text-slate-500">
            <span className="pill bg-amber-100 text-amber-800" title="importance">
              importance {m.importance.toFixed(2)}
            </span>
            {(m.tags ?? []).map((t) => (
              <span key={t} className="pill bg-slate-100 text-slate-700">
                #{t}
              </span>
            ))}
            <span>{m.scope}</span>
            <span>· {when(m.created_at)}</span>
            {m.score !== undefined && <span>· score {m.score.toFixed(3)}</span>}
            <button className="ml-auto text-rose-600 hover:underline disabled:opacity-50" onClick={() => onForget(m.id)} disabled={busy}>
              Forget
            </button>
          </div>
        </li>
      ))}
    </ul>
  );
}

function RememberForm({ agentId, onRemembered }: { agentId: string; onRemembered: (m: MemoryItem) => void }) {
  const [content, setContent] = useState("");
  const [tags, setTags] = useState("");
  const [importance, setImportance] = useState("");
  const remember = useMutation({
    mutationFn: () => rememberForAgent(agentId, { content, tags: parseList(tags), importance: parseNumber(importance) }),
    onSuccess: (r) => {
      onRemembered(r.memory);
      setContent("");
      setTags("");
      setImportance("");
    },
  });
  const apiErr = remember.error instanceof ApiError ? remember.error : null;
  const cls = (f: string) => `input${apiErr?.fieldMessage(f) ? " input-error" : ""}`;
  const submit = (e: FormEvent) => {
    e.preventDefault();
    remember.mutate();
  };
  return (
    <form onSubmit={submit} noValidate aria-label="Remember" className="space-y-2 border-t border-slate-100 pt-3">
      <h3 className="label">Remember something</h3>
      <Field label="Content" name="content" error={apiErr}>
        <textarea className={cls("content")} name="content" rows={2} value={content} onChange={(e) => setContent(e.target.value)} />
      </Field>
      <div className="grid grid-cols-1 gap-2 sm:grid-cols-2">
        <Field label="Tags (comma separated)" name="tags" error={apiErr}>
          <input className={cls("tags")} name="tags" value={tags} onChange={(e) => setTags(e.target.value)} />
        </Field>
        <Field label="Importance (0 to 1)" name="importance" error={apiErr}>
          <input className={cls("importance")} name="importance" type="number" step="any" inputMode="decimal" value={importance} onChange={(e) => setImportance(e.target.value)} placeholder="0.5" />
        </Field>
      </div>
      {unplaced(remember.error, ["content", "tags", "importance"]) && <ErrorBox error={remember.error} />}
      <button className="btn-secondary" type="submit" disabled={remember.isPending}>
        Remember
      </button>
    </form>
  );
}
