import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { getMemory, memoryKeys, parseTags, remember, type MemoryAnswer, type RememberInput, type Scope } from "../../api/memory";
import { ErrorBox, Field } from "../../components/ui";
import { asApiError, FormError, ScopePicker } from "./shared";

const FIELDS = ["content", "scope", "scope_id", "agent_id", "importance", "tags", "expires_at"];

// Stores a memory; it is found by its words at once and by its meaning once the embedding
// job has run, which the confirmation follows.
export function RememberForm() {
  const [content, setContent] = useState("");
  const [scope, setScope] = useState<Scope>("global");
  const [scopeId, setScopeId] = useState("");
  const [importance, setImportance] = useState("0.5");
  const [tags, setTags] = useState("");
  const [expires, setExpires] = useState("");
  const qc = useQueryClient();
  const save = useMutation<MemoryAnswer, Error, RememberInput>({
    mutationFn: remember,
    onSuccess: (a) => {
      qc.setQueryData(memoryKeys.item(a.memory.id), a);
      qc.invalidateQueries({ queryKey: memoryKeys.stats });
      setContent("");
      setTags("");
      setExpires("");
    },
  });
  const err = asApiError(save.error);
  const cls = (name: string) => `input ${err?.fieldMessage(name) ? "input-error" : ""}`;

  const submit = (e: FormEvent) => {
    e.preventDefault();
    // An unparsable date is sent as it is, for the API to say what is wrong with it.
    const at = expires ? new Date(expires) : null;
    save.mutate({
      content,
      scope,
      scope_id: scope === "global" ? undefined : scopeId || undefined,
      tags: parseTags(tags),
      importance: importance === "" ? 0 : Number(importance),
      expires_at: at ? (isNaN(at.getTime()) ? expires : at.toISOString()) : undefined,
    });
  };

  return (
    <section className="card space-y-3" aria-label="Remember">
      <h2 className="font-semibold">Remember</h2>
      <form onSubmit={submit} className="space-y-3" noValidate>
        <Field label="Content" name="content" error={err}>
          <textarea className={cls("content")} name="content" rows={4} value={content} onChange={(e) => setContent(e.target.value)} placeholder="Something worth remembering" />
        </Field>
        <ScopePicker scope={scope} scopeId={scopeId} onScope={setScope} onScopeId={setScopeId} error={err} />
        <div className="grid gap-3 sm:grid-cols-2">
          <Field label="Importance (0–1)" name="importance" error={err}>
            <input className={cls("importance")} name="importance" type="number" step="0.05" min={0} max={1} value={importance} onChange={(e) => setImportance(e.target.value)} />
          </Field>
          <Field label="Expires (optional)" name="expires_at" error={err}>
            <input className={cls("expires_at")} name="expires_at" type="datetime-local" value={expires} onChange={(e) => setExpires(e.target.value)} />
          </Field>
        </div>
        <Field label="Tags (comma separated)" name="tags" error={err}>
          <input className={cls("tags")} name="tags" value={tags} onChange={(e) => setTags(e.target.value)} placeholder="customer, billing" autoComplete="off" />
        </Field>
        <button type="submit" className="btn" disabled={save.isPending}>
          {save.isPending ? "Remembering…" : "Remember"}
        </button>
        <FormError error={save.error} fields={FIELDS} />
      </form>
      {save.data && <Remembered id={save.data.memory.id} />}
    </section>
  );
}

function Remembered({ id }: { id: string }) {
  const q = useQuery({
    queryKey: memoryKeys.item(id),
    queryFn: () => getMemory(id),
    // The vector is computed by a job: look again until it is recorded.
    refetchInterval: (query) => (query.state.data?.embedding === "pending" ? 1500 : false),
  });
  if (q.isError) return <ErrorBox error={q.error} />;
  const a = q.data;
  if (!a) return null;
  return (
    <div role="status" className="rounded-md border border-emerald-200 bg-emerald-50 p-2 text-xs text-emerald-900" data-testid="remembered" data-embedding={a.embedding}>
      Remembered in the {a.memory.scope} scope (importance {a.memory.importance}).{" "}
      {a.embedding === "done" ? (
        <>Embedded by <code>{a.memory.embedding_model}</code>: found by meaning too.</>
      ) : (
        <>Embedding pending: found by its words until then.</>
      )}
    </div>
  );
}
