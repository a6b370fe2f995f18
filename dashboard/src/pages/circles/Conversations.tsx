import { useState, type FormEvent } from "react";
import { Link, useNavigate } from "react-router-dom";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import {
  circleKeys,
  listCircleConversations,
  startConversation,
  STRATEGIES,
  type Circle,
  type ConversationInput,
} from "../../api/circles";
import { Empty, ErrorBox, Field, Loading, StatusPill, when } from "../../components/ui";
import { asApiError, inputClass, unplaced } from "./forms";
import type { WritingState } from "./live";

// ConversationList: the circle's conversations, newest first, with who is writing right now.
export function ConversationList({ circle, writing }: { circle: Circle; writing: WritingState }) {
  const q = useQuery({ queryKey: circleKeys.conversations(circle.name), queryFn: () => listCircleConversations(circle.name) });
  const names = new Map((circle.members ?? []).map((m) => [m.agent_id, m.agent_name]));
  return (
    <section className="card space-y-3" aria-label="Conversations">
      <h2 className="font-semibold">Conversations</h2>
      {q.isPending ? (
        <Loading what="Loading conversations" />
      ) : q.isError ? (
        <ErrorBox error={q.error} retry={() => q.refetch()} />
      ) : q.data.length === 0 ? (
        <Empty>No conversations yet.</Empty>
      ) : (
        <div className="overflow-x-auto">
          <table className="table">
            <thead>
              <tr>
                <th>Topic</th>
                <th>Status</th>
                <th>Turns</th>
                <th>End reason</th>
                <th>Started</th>
              </tr>
            </thead>
            <tbody>
              {q.data.map((c) => {
                const speaker = writing[c.id]?.speaker;
                return (
                  <tr key={c.id} data-testid="conversation-row" data-conversation={c.id}>
                    <td>
                      <Link data-testid="conversation-link" to={"/conversations/" + c.id} className="font-medium text-indigo-700 hover:underline">
                        {c.topic}
                      </Link>
                      <div className="text-xs text-slate-500">
                        {STRATEGIES.find((s) => s.value === c.strategy)?.label ?? c.strategy} ·{" "}
                        {(c.participants ?? []).map((p) => p.name).join(", ")}
                      </div>
                    </td>
                    <td>
                      <StatusPill status={c.status} />
                      {c.status === "running" && speaker && (
                        <div className="mt-1 text-xs text-slate-500">{names.get(speaker) ?? "someone"} is writing…</div>
                      )}
                    </td>
                    <td className="whitespace-nowrap">
                      {c.turns_taken} / {c.max_turns}
                      {c.posts > 0 && <div className="text-xs text-slate-500">{c.posts} posts</div>}
                    </td>
                    <td title={c.end_detail}>
                      {c.end_reason ?? "—"}
                      {c.end_detail && <div className="text-xs text-slate-500">{c.end_detail}</div>}
                    </td>
                    <td className="whitespace-nowrap text-xs text-slate-500">{when(c.created_at)}</td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

const FORM_FIELDS = ["topic", "max_turns", "strategy", "participants", "facilitator_id", "initial_prompt", "time_limit_seconds"];

// StartConversation starts a conversation among chosen members and opens it.
export function StartConversation({ circle }: { circle: Circle }) {
  const qc = useQueryClient();
  const navigate = useNavigate();
  const members = (circle.members ?? []).filter((m) => m.agent_exists);
  const [topic, setTopic] = useState("");
  const [maxTurns, setMaxTurns] = useState("10");
  const [strategy, setStrategy] = useState<string>("round_robin");
  const [facilitator, setFacilitator] = useState("");
  const [chosen, setChosen] = useState<string[]>([]);
  const [prompt, setPrompt] = useState("");
  const [timeLimit, setTimeLimit] = useState("");
  const start = useMutation({
    mutationFn: (body: ConversationInput) => startConversation(body),
    onSuccess: (c) => {
      qc.setQueryData(circleKeys.conversation(c.id), c);
      qc.invalidateQueries({ queryKey: circleKeys.conversations(circle.name) });
      navigate("/conversations/" + c.id);
    },
  });
  const err = asApiError(start.error);
  const running = circle.status === "running";

  const toggle = (id: string, on: boolean) =>
    // Kept in the members' order: round robin speaks in the order of the participants.
    setChosen((cur) => members.map((m) => m.agent_id).filter((x) => (x === id ? on : cur.includes(x))));
  const submit = (e: FormEvent) => {
    e.preventDefault();
    const body: ConversationInput = { circle: circle.name, participants: chosen, topic: topic.trim(), strategy };
    if (maxTurns.trim() !== "") body.max_turns = Number(maxTurns);
    if (prompt.trim() !== "") body.initial_prompt = prompt.trim();
    if (timeLimit.trim() !== "") body.time_limit_seconds = Number(timeLimit);
    if (strategy === "facilitator_led") body.facilitator_id = facilitator;
    start.mutate(body);
  };

  return (
    <form onSubmit={submit} className="card space-y-3" aria-label="Start conversation">
      <h2 className="font-semibold">Start a conversation</h2>
      {!running && <p className="text-sm text-amber-700">The circle is {circle.status}: start it to hold conversations.</p>}
      <Field label="Topic" name="topic" error={err}>
        <input className={inputClass(err, "topic")} name="topic" value={topic} onChange={(e) => setTopic(e.target.value)} placeholder="What should they discuss?" />
      </Field>
      <div className="grid gap-3 sm:grid-cols-3">
        <Field label="Max turns" name="max_turns" error={err}>
          <input
            className={inputClass(err, "max_turns")}
            type="number"
            name="max_turns"
            min={1}
            max={200}
            value={maxTurns}
            onChange={(e) => setMaxTurns(e.target.value)}
          />
        </Field>
        <Field label="Strategy" name="strategy" error={err}>
          <select className={inputClass(err, "strategy")} name="strategy" value={strategy} onChange={(e) => setStrategy(e.target.value)}>
            {STRATEGIES.map((s) => (
              <option key={s.value} value={s.value}>
                {s.label}
              </option>
            ))}
          </select>
        </Field>
        <Field label="Time limit (seconds, optional)" name="time_limit_seconds" error={err}>
          <input
            className={inputClass(err, "time_limit_seconds")}
            type="number"
            name="time_limit_seconds"
            min={0}
            max={86400}
            value={timeLimit}
            onChange={(e) => setTimeLimit(e.target.value)}
            placeholder="none"
          />
        </Field>
      </div>
      <fieldset>
        <legend className="label">Participants</legend>
        {members.length === 0 ? (
          <p className="text-sm text-slate-500">Add members to the circle first.</p>
        ) : (
          <div className="flex flex-wrap gap-x-4 gap-y-1">
            {members.map((m) => (
              <label key={m.agent_id} className="inline-flex items-center gap-1.5 text-sm">
                <input
                  type="checkbox"
                  name="participants"
                  value={m.agent_id}
                  checked={chosen.includes(m.agent_id)}
                  onChange={(e) => toggle(m.agent_id, e.target.checked)}
                />
                {m.agent_name}
              </label>
            ))}
          </div>
        )}
        {err?.fieldMessage("participants") && (
          <span className="mt-1 block text-xs text-rose-600" data-field-error="participants">
            {err.fieldMessage("participants")}
          </span>
        )}
      </fieldset>
      {strategy === "facilitator_led" && (
        <Field label="Facilitator" name="facilitator_id" error={err}>
          <select className={inputClass(err, "facilitator_id")} name="facilitator_id" value={facilitator} onChange={(e) => setFacilitator(e.target.value)}>
            <option value="">Choose a participant…</option>
            {members
              .filter((m) => chosen.includes(m.agent_id))
              .map((m) => (
                <option key={m.agent_id} value={m.agent_id}>
                  {m.agent_name}
                </option>
              ))}
          </select>
        </Field>
      )}
      <Field label="Opening prompt (optional)" name="initial_prompt" error={err}>
        <textarea className={inputClass(err, "initial_prompt")} name="initial_prompt" rows={2} value={prompt} onChange={(e) => setPrompt(e.target.value)} />
      </Field>
      {unplaced(start.error, FORM_FIELDS) && <ErrorBox error={start.error} />}
      <button className="btn" type="submit" disabled={start.isPending || !running}>
        {start.isPending ? "Starting…" : "Start conversation"}
      </button>
    </form>
  );
}
