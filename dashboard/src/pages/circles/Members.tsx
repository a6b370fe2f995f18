import { useState, type FormEvent } from "react";
import { Link } from "react-router-dom";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { addMember, circleKeys, listAllAgents, MEMBER_ROLES, removeMember, splitList, type Circle } from "../../api/circles";
import { Empty, ErrorBox, Field, Loading } from "../../components/ui";
import { asApiError, inputClass, unplaced } from "./forms";

// Members: the table of a circle's agents with their roles and competencies, and the form that
// adds one (or, for an agent already in, changes its role and competencies).
export function Members({ circle }: { circle: Circle }) {
  const qc = useQueryClient();
  const members = circle.members ?? [];
  const archived = circle.status === "archived";
  const remove = useMutation({
    mutationFn: (agentID: string) => removeMember(circle.name, agentID),
    onSuccess: (c) => qc.setQueryData(circleKeys.one(circle.name), c),
  });
  return (
    <section className="card space-y-3" aria-label="Members">
      <h2 className="font-semibold">Members</h2>
      <ErrorBox error={remove.error} />
      {members.length === 0 ? (
        <Empty>No members yet. A circle needs at least one to start, and two to hold a conversation.</Empty>
      ) : (
        <div className="overflow-x-auto">
          <table className="table">
            <thead>
              <tr>
                <th>Agent</th>
                <th>Role</th>
                <th>Competencies</th>
                <th className="w-0" />
              </tr>
            </thead>
            <tbody>
              {members.map((m) => (
                <tr key={m.agent_id} data-testid="member-row" data-agent={m.agent_name}>
                  <td>
                    {m.agent_exists ? (
                      <Link to={"/agents/" + m.agent_id} className="font-medium text-indigo-700 hover:underline">
                        {m.agent_name}
                      </Link>
                    ) : (
                      <span className="text-slate-500" title="The agent was deleted">
                        {m.agent_name || m.agent_id.slice(0, 8)} (deleted)
                      </span>
                    )}
                    <div className="text-xs text-slate-500">
                      {m.provider} {m.model}
                    </div>
                  </td>
                  <td>{m.role}</td>
                  <td>
                    <div className="flex flex-wrap gap-1">
                      {(m.competencies ?? []).map((c) => (
                        <span key={c} className="pill bg-indigo-50 text-indigo-700">
                          {c}
                        </span>
                      ))}
                    </div>
                  </td>
                  <td>
                    <button
                      type="button"
                      className="btn-secondary"
                      aria-label={`Remove ${m.agent_name}`}
                      disabled={archived || (remove.isPending && remove.variables === m.agent_id)}
                      onClick={() => remove.mutate(m.agent_id)}
                    >
                      Remove
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {!archived && <AddMember circle={circle} />}
    </section>
  );
}

function AddMember({ circle }: { circle: Circle }) {
  const qc = useQueryClient();
  const agents = useQuery({ queryKey: circleKeys.agents, queryFn: listAllAgents });
  const [agentID, setAgentID] = useState("");
  const [role, setRole] = useState("");
  const [competencies, setCompetencies] = useState("");
  const add = useMutation({
    mutationFn: () => addMember(circle.name, { agent_id: agentID, role: role.trim(), competencies: splitList(competencies) }),
    onSuccess: (c) => {
      qc.setQueryData(circleKeys.one(circle.name), c);
      setAgentID("");
      setRole("");
      setCompetencies("");
    },
  });
  const err = asApiError(add.error);
  const memberIDs = new Set((circle.members ?? []).map((m) => m.agent_id));

  // Choosing an agent that is already in shows what it has, so the form edits rather than resets.
  const choose = (id: string) => {
    setAgentID(id);
    const m = circle.members?.find((x) => x.agent_id === id);
    if (m) {
      setRole(m.role);
      setCompetencies((m.competencies ?? []).join(", "));
    }
  };
  const submit = (e: FormEvent) => {
    e.preventDefault();
    add.mutate();
  };

  if (agents.isPending) return <Loading what="Loading your agents" />;
  if (agents.isError) return <ErrorBox error={agents.error} retry={() => agents.refetch()} />;
  if (agents.data.length === 0)
    return (
      <Empty>
        You have no agents to add. <Link to="/agents" className="text-indigo-700 underline">Create one</Link> first.
      </Empty>
    );
  return (
    <form onSubmit={submit} className="space-y-3 border-t border-slate-100 pt-3" aria-label="Add member">
      <div className="grid gap-3 sm:grid-cols-3">
        <Field label="Agent" name="agent_id" error={err}>
          <select className={inputClass(err, "agent_id")} name="agent_id" value={agentID} onChange={(e) => choose(e.target.value)}>
            <option value="">Choose an agent…</option>
            {agents.data.map((a) => (
              <option key={a.id} value={a.id}>
                {a.name}
                {memberIDs.has(a.id) ? " (member)" : ""}
              </option>
            ))}
          </select>
        </Field>
        <Field label="Role" name="role" error={err}>
          <input
            className={inputClass(err, "role")}
            name="member_role"
            list="member-roles"
            value={role}
            onChange={(e) => setRole(e.target.value)}
            placeholder="member"
          />
          <datalist id="member-roles">
            {MEMBER_ROLES.map((r) => (
              <option key={r} value={r} />
            ))}
          </datalist>
        </Field>
        <Field label="Competencies (comma separated)" name="competencies" error={err}>
          <input
            className={inputClass(err, "competencies")}
            name="competencies"
            value={competencies}
            onChange={(e) => setCompetencies(e.target.value)}
            placeholder="research, writing"
          />
        </Field>
      </div>
      {unplaced(add.error, ["agent_id", "role", "competencies"]) && <ErrorBox error={add.error} />}
      <button className="btn" type="submit" disabled={add.isPending}>
        {add.isPending ? "Adding…" : "Add member"}
      </button>
    </form>
  );
}
