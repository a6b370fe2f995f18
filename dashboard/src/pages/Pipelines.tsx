import { useInfiniteQuery, useMutation, useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { Link, useNavigate } from "react-router-dom";
import { ApiError } from "../api/client";
import { pipelinesApi } from "../api/pipelines";
import { Empty, ErrorBox, Field, Loading, PageHeader, when } from "../components/ui";
import { minimalSpec } from "./pipelines/graph";

// The pipelines the caller owns (all of them for an admin), and the way to start a new one.
export default function Pipelines() {
  const [creating, setCreating] = useState(false);
  const list = useInfiniteQuery({
    queryKey: ["pipelines"],
    queryFn: ({ pageParam }) => pipelinesApi.list(pageParam || undefined),
    initialPageParam: "",
    getNextPageParam: (p) => p.next_cursor,
  });
  const items = list.data?.pages.flatMap((p) => p.items) ?? [];

  return (
    <div className="space-y-4">
      <PageHeader title="Pipelines">
        {!creating && (
          <button className="btn" onClick={() => setCreating(true)}>
            New pipeline
          </button>
        )}
      </PageHeader>
      {creating && <NewPipeline onCancel={() => setCreating(false)} />}
      {list.isPending ? (
        <Loading what="Loading pipelines" />
      ) : list.isError ? (
        <ErrorBox error={list.error} retry={() => list.refetch()} />
      ) : items.length === 0 ? (
        <Empty>No pipelines yet. Create one with New pipeline.</Empty>
      ) : (
        <div className="card overflow-x-auto p-0">
          <table className="table">
            <thead>
              <tr>
                <th>Name</th>
                <th>Nodes</th>
                <th>Version</th>
                <th>Updated</th>
              </tr>
            </thead>
            <tbody>
              {items.map((p) => (
                <tr key={p.id} data-testid="pipeline-row" data-pipeline={p.id}>
                  <td>
                    <Link className="font-medium text-indigo-700 hover:underline" to={`/pipelines/${p.id}`}>
                      {p.name}
                    </Link>
                    {p.description && <div className="text-xs text-slate-500">{p.description}</div>}
                  </td>
                  <td>{p.node_count}</td>
                  <td>v{p.spec_version}</td>
                  <td>{when(p.updated_at)}</td>
                </tr>
              ))}
            </tbody>
          </table>
          {list.hasNextPage && (
            <div className="p-2">
              <button className="btn-secondary" disabled={list.isFetchingNextPage} onClick={() => list.fetchNextPage()}>
                {list.isFetchingNextPage ? "Loading…" : "Load more"}
              </button>
            </div>
          )}
        </div>
      )}
    </div>
  );
}

// NewPipeline asks for a name and creates the smallest valid pipeline, a single trigger, to be
// built further in the editor.
function NewPipeline({ onCancel }: { onCancel: () => void }) {
  const navigate = useNavigate();
  const queryClient = useQueryClient();
  const [name, setName] = useState("");
  const create = useMutation({
    mutationFn: (n: string) => pipelinesApi.create(minimalSpec(n)),
    onSuccess: (p) => {
      queryClient.invalidateQueries({ queryKey: ["pipelines"] });
      navigate(`/pipelines/${p.id}`);
    },
  });
  const apiErr = create.error instanceof ApiError ? create.error : null;
  const submit = (e: FormEvent) => {
    e.preventDefault();
    create.mutate(name.trim());
  };
  return (
    <form onSubmit={submit} className="card flex flex-col gap-3 sm:flex-row sm:items-end" aria-label="New pipeline">
      <div className="flex-1">
        <Field label="Name of the new pipeline" name="name" error={apiErr}>
          <input className="input" name="name" value={name} autoFocus required onChange={(e) => setName(e.target.value)} />
        </Field>
      </div>
      <div className="flex gap-2">
        <button className="btn" type="submit" disabled={create.isPending}>
          {create.isPending ? "Creating…" : "Create pipeline"}
        </button>
        <button className="btn-secondary" type="button" onClick={onCancel}>
          Cancel
        </button>
      </div>
      {create.isError && !apiErr?.fieldMessage("name") && <ErrorBox error={create.error} />}
    </form>
  );
}
