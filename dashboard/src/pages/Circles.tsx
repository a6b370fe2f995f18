import { useState, type FormEvent } from "react";
import { Link } from "react-router-dom";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { circleKeys, createCircle, getCircle, listCircles, type Circle } from "../api/circles";
import { useSession } from "../auth/session";
import { Empty, ErrorBox, Field, Loading, PageHeader, StatusPill } from "../components/ui";
import { asApiError, inputClass, unplaced } from "./circles/forms";

// GET /circles lists circles without their members, so each row's count is one more read. Rows
// past this many show none: the read budget (120 a minute) is worth more than those counts.
const COUNTED_ROWS = 25;

export function ownerLabel(owner: string, me: string | undefined): string {
  return owner === me ? "you" : owner;
}

export function sortByName(circles: Circle[]): Circle[] {
  return [...circles].sort((a, b) => a.name.localeCompare(b.name));
}

export default function Circles() {
  const q = useQuery({ queryKey: circleKeys.list, queryFn: listCircles });
  return (
    <div className="space-y-6">
      <PageHeader title="Circles" />
      <CreateCircle />
      <section className="card">
        <h2 className="mb-3 font-semibold">Your circles</h2>
        {q.isPending ? (
          <Loading what="Loading circles" />
        ) : q.isError ? (
          <ErrorBox error={q.error} retry={() => q.refetch()} />
        ) : q.data.length === 0 ? (
          <Empty>No circles yet. Create one above, then add agents to it.</Empty>
        ) : (
          <CircleTable circles={q.data} />
        )}
      </section>
    </div>
  );
}

function CircleTable({ circles }: { circles: Circle[] }) {
  const me = useSession((s) => s.user?.id);
  return (
    <div className="overflow-x-auto">
      <table className="table">
        <thead>
          <tr>
            <th>Name</th>
            <th>Status</th>
            <th>Members</th>
            <th>Owner</th>
            <th>Updated</th>
          </tr>
        </thead>
        <tbody>
          {circles.map((c, i) => (
            <tr key={c.id} data-circle={c.name}>
              <td>
                <Link data-testid="circle-link" to={"/circles/" + c.name} className="font-medium text-indigo-700 hover:underline">
                  {c.name}
                </Link>
                {c.description && <div className="max-w-md truncate text-xs text-slate-500">{c.description}</div>}
              </td>
              <td>
                <StatusPill status={c.status} />
              </td>
              {/* The list's view leaves members out; a circle's own view has them. */}
              <td>
                {c.members ? (
                  c.members.length
                ) : i < COUNTED_ROWS ? (
                  <MemberCount name={c.name} />
                ) : (
                  <span className="text-slate-400" title="Open the circle to see its members">
                    —
                  </span>
                )}
              </td>
              <td className="text-xs text-slate-600">{ownerLabel(c.owner, me)}</td>
              <td className="whitespace-nowrap text-xs text-slate-500">{new Date(c.updated_at).toLocaleDateString()}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

// MemberCount reads one circle to count its members. It shares the circle page's query, so
// opening the circle afterwards shows it at once.
function MemberCount({ name }: { name: string }) {
  const q = useQuery({ queryKey: circleKeys.one(name), queryFn: () => getCircle(name), staleTime: 60_000 });
  if (q.isPending) return <span className="text-slate-400">…</span>;
  if (q.isError) return <span className="text-slate-400" title={(q.error as Error).message}>?</span>;
  return <span data-members={q.data.members?.length ?? 0}>{q.data.members?.length ?? 0}</span>;
}

function CreateCircle() {
  const qc = useQueryClient();
  const [name, setName] = useState("");
  const [description, setDescription] = useState("");
  const m = useMutation({
    mutationFn: createCircle,
    onSuccess: (c) => {
      qc.setQueryData<Circle[]>(circleKeys.list, (old) => sortByName([...(old ?? []).filter((x) => x.id !== c.id), c]));
      qc.setQueryData(circleKeys.one(c.name), c);
      qc.invalidateQueries({ queryKey: circleKeys.list });
      setName("");
      setDescription("");
    },
  });
  const err = asApiError(m.error);
  const submit = (e: FormEvent) => {
    e.preventDefault();
    m.mutate({ name: name.trim(), description: description.trim() });
  };
  return (
    <form onSubmit={submit} className="card space-y-3" aria-label="Create circle">
      <h2 className="font-semibold">New circle</h2>
      <div className="grid gap-3 sm:grid-cols-[minmax(0,1fr)_minmax(0,2fr)]">
        <Field label="Name" name="name" error={err}>
          <input
            className={inputClass(err, "name")}
            name="name"
            value={name}
            onChange={(e) => setName(e.target.value)}
            placeholder="research-team"
            autoComplete="off"
          />
        </Field>
        <Field label="Description" name="description" error={err}>
          <input
            className={inputClass(err, "description")}
            name="description"
            value={description}
            onChange={(e) => setDescription(e.target.value)}
            placeholder="What this circle works on"
          />
        </Field>
      </div>
      <p className="text-xs text-slate-500">Lowercase letters, digits, - and _; the name is the circle's address and cannot change.</p>
      {unplaced(m.error, ["name", "description"]) && <ErrorBox error={m.error} />}
      <button className="btn" type="submit" disabled={m.isPending}>
        {m.isPending ? "Creating…" : "Create circle"}
      </button>
    </form>
  );
}
