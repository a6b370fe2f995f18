import { useMutation, useQuery, useQueryClient, type UseQueryResult } from "@tanstack/react-query";
import { useRef, useState, type FormEvent } from "react";
import { ApiError } from "../../api/client";
import {
  checkUpload,
  formatBytes,
  knowledgeEmbedding,
  listDocuments,
  memoryKeys,
  removeDocument,
  uploadDocument,
  UPLOAD_EXTENSIONS,
  type KnowledgeDocument,
  type MemoryStats,
} from "../../api/memory";
import { Empty, ErrorBox, Field, Loading, when } from "../../components/ui";
import { asApiError, FormError } from "./shared";

// The knowledge base: documents people gave their agents, split into chunks that recall cites.
export function KnowledgePanel({ stats }: { stats: UseQueryResult<MemoryStats> }) {
  const docs = useQuery({
    queryKey: memoryKeys.documents,
    queryFn: listDocuments,
  });
  const qc = useQueryClient();
  const remove = useMutation({
    mutationFn: removeDocument,
    onSuccess: (_, id) => {
      qc.setQueryData<KnowledgeDocument[]>(memoryKeys.documents, (d) => d?.filter((x) => x.id !== id));
      qc.invalidateQueries({ queryKey: memoryKeys.documents });
      qc.invalidateQueries({ queryKey: memoryKeys.stats });
    },
  });
  const emb = knowledgeEmbedding(stats.data);
  return (
    <section className="card space-y-4" aria-label="Knowledge">
      <h2 className="font-semibold">Knowledge</h2>
      <UploadForm />
      {emb.pending > 0 && (
        <div role="status" className="rounded bg-amber-50 p-2 text-xs text-amber-800" data-testid="knowledge-pending">
          {emb.pending} of {emb.total} chunks are waiting for embeddings; they are found by their words meanwhile.
        </div>
      )}
      {docs.isPending ? (
        <Loading what="Loading documents" />
      ) : docs.isError ? (
        <ErrorBox error={docs.error} retry={() => docs.refetch()} />
      ) : docs.data.length === 0 ? (
        <Empty>No documents yet. Upload a .md, .txt or .csv file for your agents to draw on.</Empty>
      ) : (
        <div className="overflow-x-auto">
          <table className="table">
            <thead>
              <tr>
                <th>Title</th>
                <th>Format</th>
                <th>Chunks</th>
                <th>Size</th>
                <th>Embedded</th>
                <th>Added</th>
                <th />
              </tr>
            </thead>
            <tbody>
              {docs.data.map((d) => (
                <tr key={d.id} data-testid="knowledge-document" data-id={d.id}>
                  <td className="break-words font-medium">
                    {d.title}
                    <div className="text-xs font-normal text-slate-500">
                      {d.scope}
                      {d.scope_id ? ` ${d.scope_id}` : ""}
                    </div>
                  </td>
                  <td>{d.format}</td>
                  <td className="tabular-nums">{d.chunks}</td>
                  <td className="whitespace-nowrap tabular-nums">{formatBytes(d.bytes)}</td>
                  <td>
                    <EmbeddedPill pending={emb.pending} loading={stats.isPending} />
                  </td>
                  <td className="whitespace-nowrap text-xs text-slate-600">{when(d.created_at)}</td>
                  <td>
                    <button
                      type="button"
                      className="btn-danger"
                      onClick={() => remove.mutate(d.id)}
                      disabled={remove.isPending && remove.variables === d.id}
                      aria-label={`Remove ${d.title}`}
                    >
                      {remove.isPending && remove.variables === d.id ? "Removing…" : "Remove"}
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {remove.isError && <ErrorBox error={remove.error} />}
    </section>
  );
}

// GET /knowledge says nothing per document about embeddings; the stats say whether every chunk
// is embedded, so a document is "embedded" for sure only when nothing is waiting.
function EmbeddedPill({ pending, loading }: { pending: number; loading: boolean }) {
  if (loading) return <span className="text-xs text-slate-400">…</span>;
  if (pending === 0)
    return (
      <span className="pill bg-emerald-100 text-emerald-800" data-embedded="yes">
        embedded
      </span>
    );
  return (
    <span className="pill bg-amber-100 text-amber-800" data-embedded="unknown" title={`${pending} knowledge chunks are waiting; which documents they belong to is not reported`}>
      in progress
    </span>
  );
}

function UploadForm() {
  const file = useRef<HTMLInputElement>(null);
  const [title, setTitle] = useState("");
  const [local, setLocal] = useState<ApiError | null>(null);
  const qc = useQueryClient();
  const upload = useMutation({
    mutationFn: (f: File) => uploadDocument(f, { title }),
    onSuccess: () => {
      qc.invalidateQueries({ queryKey: memoryKeys.documents });
      qc.invalidateQueries({ queryKey: memoryKeys.stats });
      setTitle("");
      if (file.current) file.current.value = "";
    },
  });
  const err = local ?? asApiError(upload.error);
  const choose = () => {
    upload.reset();
    const f = file.current?.files?.[0];
    setLocal(f ? checkUpload(f) : null);
  };
  const submit = (e: FormEvent) => {
    e.preventDefault();
    upload.reset();
    const f = file.current?.files?.[0];
    const refused = checkUpload(f);
    setLocal(refused);
    if (!refused && f) upload.mutate(f);
  };
  return (
    <form onSubmit={submit} className="grid gap-3 rounded-md border border-slate-200 p-3 sm:grid-cols-[1fr_1fr_auto]" aria-label="Upload a document">
      <Field label="File (.md, .txt, .csv; at most 2 MiB)" name="file" error={err}>
        <input
          ref={file}
          className={`input ${err?.fieldMessage("file") || err?.fieldMessage("content") ? "input-error" : ""}`}
          type="file"
          name="file"
          accept={UPLOAD_EXTENSIONS.join(",")}
          onChange={choose}
        />
      </Field>
      <Field label="Title (optional)" name="title" error={err}>
        <input className={`input ${err?.fieldMessage("title") ? "input-error" : ""}`} name="title" value={title} onChange={(e) => setTitle(e.target.value)} placeholder="the file's name" />
      </Field>
      <div className="flex items-end">
        <button type="submit" className="btn" disabled={upload.isPending}>
          {upload.isPending ? "Uploading…" : "Upload"}
        </button>
      </div>
      {/* The document's content and format are not fields of this form: their errors are the file's. */}
      {err?.fieldMessage("content") && !err.fieldMessage("file") && (
        <span className="text-xs text-rose-600 sm:col-span-3" data-field-error="file">
          {err.fieldMessage("content")}
        </span>
      )}
      {err?.fieldMessage("format") && !err.fieldMessage("file") && (
        <span className="text-xs text-rose-600 sm:col-span-3" data-field-error="file">
          wrong type: {err.fieldMessage("format")}
        </span>
      )}
      <div className="sm:col-span-3">
        <FormError error={local ?? upload.error} fields={["file", "title", "content", "format", "scope", "scope_id"]} />
        {upload.data && (
          <div role="status" className="text-xs text-emerald-700" data-testid="uploaded">
            Added “{upload.data.title}”: {upload.data.chunks} chunks, {formatBytes(upload.data.bytes)}.
          </div>
        )}
      </div>
    </form>
  );
}
