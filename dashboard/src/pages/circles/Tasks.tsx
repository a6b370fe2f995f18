import { Fragment, useState, type FormEvent } from "react";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import {
  circleKeys,
  createCircleTask,
  listCircleTasks,
  splitList,
  taskStep,
  type Circle,
  type CircleTask,
  type TaskStep,
  type TaskStepInput,
} from "../../api/circles";
import { Empty, ErrorBox, Field, Loading, StatusPill, when } from "../../components/ui";
import { asApiError, inputClass, unplaced } from "./forms";

type Names = Map<string, string>;

// holder says who a task is with: its assignee, or the member it is offered to.
export function holder(t: CircleTask, names: Names): string {
  const name = (id: string) => names.get(id) ?? id.slice(0, 8);
  if (t.assignee_id) return name(t.assignee_id);
  if (t.offered_to) return `offered to ${name(t.offered_to)}`;
  return "—";
}

// replaceTask puts a task's new view into the list (newer versions only).
export function replaceTask(list: CircleTask[] | undefined, t: CircleTask): CircleTask[] {
  if (!list) return [t];
  const i = list.findIndex((x) => x.id === t.id);
  if (i < 0) return [t, ...list];
  if (list[i].version > t.version) return list;
  const next = list.slice();
  next[i] = t;
  return next;
}

// Tasks: the circle's tasks, most urgent first, each with the steps a person can take on it.
export function Tasks({ circle }: { circle: Circle }) {
  const q = useQuery({ queryKey: circleKeys.tasks(circle.name), queryFn: () => listCircleTasks(circle.name) });
  const names: Names = new Map((circle.members ?? []).map((m) => [m.agent_id, m.agent_name]));
  const [open, setOpen] = useState<string | null>(null);
  return (
    <section className="card space-y-3" aria-label="Tasks">
      <h2 className="font-semibold">Tasks</h2>
      {q.isPending ? (
        <Loading what="Loading tasks" />
      ) : q.isError ? (
        <ErrorBox error={q.error} retry={() => q.refetch()} />
      ) : q.data.length === 0 ? (
        <Empty>No tasks yet. A new task is offered to the member whose competencies fit it best.</Empty>
      ) : (
        <div className="overflow-x-auto">
          <table className="table">
            <thead>
              <tr>
                <th>Title</th>
                <th>Status</th>
                <th>Assignee</th>
                <th>Priority</th>
                <th>Updated</th>
                <th className="w-0" />
              </tr>
            </thead>
            <tbody>
              {q.data.map((t) => (
                <Fragment key={t.id}>
                  <tr data-testid="task-row" data-task={t.title}>
                    <td className="font-medium">{t.title}</td>
                    <td>
                      <StatusPill status={t.status} />
                    </td>
                    <td>{holder(t, names)}</td>
                    <td>{t.priority}</td>
                    <td className="whitespace-nowrap text-xs text-slate-500">{when(t.updated_at)}</td>
                    <td>
                      <button type="button" className="btn-secondary" aria-expanded={open === t.id} onClick={() => setOpen(open === t.id ? null : t.id)}>
                        {open === t.id ? "Close" : "Details"}
                      </button>
                    </td>
                  </tr>
                  {open === t.id && (
                    <tr>
                      <td colSpan={6} className="bg-slate-50">
                        <TaskDetail circle={circle} task={t} names={names} />
                      </td>
                    </tr>
                  )}
                </Fragment>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {circle.status !== "archived" && <CreateTask circle={circle} />}
    </section>
  );
}

function TaskDetail({ circle, task, names }: { circle: Circle; task: CircleTask; names: Names }) {
  const comps = task.required_competencies ?? [];
  return (
    <div className="space-y-3 py-1">
      {task.description && <p className="whitespace-pre-wrap text-sm">{task.description}</p>}
      <dl className="grid gap-x-4 gap-y-1 text-xs sm:grid-cols-4">
        <div>
          <dt className="text-slate-500">Competencies</dt>
          <dd>{comps.length ? comps.join(", ") : "any"}</dd>
        </div>
        <div>
          <dt className="text-slate-500">Review</dt>
          <dd>{task.requires_review ? `required${task.reviewer_id ? ` (${names.get(task.reviewer_id) ?? task.reviewer_id})` : ""}` : "none"}</dd>
        </div>
        <div>
          <dt className="text-slate-500">Iteration</dt>
          <dd>{task.iteration}</dd>
        </div>
        <div>
          <dt className="text-slate-500">Created</dt>
          <dd>{when(task.created_at)}</dd>
        </div>
      </dl>
      {task.result && (
        <div>
          <div className="label">Result</div>
          <pre className="max-h-64 overflow-auto whitespace-pre-wrap rounded border border-slate-200 bg-white p-2 text-xs">{task.result}</pre>
        </div>
      )}
      {circle.status !== "archived" && <TaskSteps circle={circle} task={task} names={names} />}
    </div>
  );
}

// TaskSteps offers the steps the task's status allows. A person takes them on behalf of the
// member the task is with (claim, refuse, submit) or as its reviewer.
function TaskSteps({ circle, task, names }: { circle: Circle; task: CircleTask; names: Names }) {
  const qc = useQueryClient();
  const [routeTo, setRouteTo] = useState("");
  const [reason, setReason] = useState("");
  const [result, setResult] = useState("");
  const [decision, setDecision] = useState<"approve" | "request_changes" | "reject">("approve");
  const [comments, setComments] = useState("");
  const step = useMutation({
    mutationFn: ({ s, body }: { s: TaskStep; body: TaskStepInput }) => taskStep(circle.name, task.id, s, body),
    onSuccess: (t) => {
      qc.setQueryData<CircleTask[]>(circleKeys.tasks(circle.name), (old) => replaceTask(old, t));
      setReason("");
      setResult("");
      setComments("");
    },
  });
  const err = asApiError(step.error);
  const busy = step.isPending;
  const name = (id?: string) => (id ? (names.get(id) ?? id.slice(0, 8)) : "");
  const s = task.status;
  const open = s !== "completed" && s !== "cancelled";
  // A reviewer that is a member reviews as itself; otherwise the person reviews.
  const reviewer = task.reviewer_id && names.has(task.reviewer_id) ? task.reviewer_id : undefined;
  const members = circle.members ?? [];
  const fields = ["agent_id", "reviewer_id", "reason", "result", "decision", "comments"];

  return (
    <div className="space-y-3 border-t border-slate-200 pt-3">
      {(s === "pending" || s === "offered" || s === "blocked") && (
        <div className="flex flex-col gap-2 sm:flex-row sm:items-end">
          <Field label="Offer to" name="agent_id" error={err}>
            <select className={inputClass(err, "agent_id")} name="route_agent_id" value={routeTo} onChange={(e) => setRouteTo(e.target.value)}>
              <option value="">the best fit</option>
              {members.map((m) => (
                <option key={m.agent_id} value={m.agent_id}>
                  {m.agent_name}
                </option>
              ))}
            </select>
          </Field>
          <button type="button" className="btn-secondary" disabled={busy} onClick={() => step.mutate({ s: "route", body: routeTo ? { agent_id: routeTo } : {} })}>
            Route
          </button>
        </div>
      )}
      {s === "offered" && task.offered_to && (
        <div className="flex flex-col gap-2 sm:flex-row sm:items-end">
          <button type="button" className="btn" disabled={busy} onClick={() => step.mutate({ s: "claim", body: { agent_id: task.offered_to } })}>
            Claim as {name(task.offered_to)}
          </button>
          <Field label="Reason to refuse" name="reason" error={err}>
            <input className={inputClass(err, "reason")} name="reason" value={reason} onChange={(e) => setReason(e.target.value)} />
          </Field>
          <button
            type="button"
            className="btn-secondary"
            disabled={busy}
            onClick={() => step.mutate({ s: "refuse", body: { agent_id: task.offered_to, reason: reason.trim() } })}
          >
            Refuse
          </button>
        </div>
      )}
      {s === "in_progress" && task.assignee_id && (
        <div className="space-y-2">
          <Field label="Result" name="result" error={err}>
            <textarea className={inputClass(err, "result")} name="result" rows={3} value={result} onChange={(e) => setResult(e.target.value)} />
          </Field>
          <button type="button" className="btn" disabled={busy} onClick={() => step.mutate({ s: "submit", body: { agent_id: task.assignee_id, result } })}>
            Submit as {name(task.assignee_id)}
          </button>
        </div>
      )}
      {s === "in_review" && (
        <div className="space-y-2">
          <div className="grid gap-2 sm:grid-cols-[12rem_minmax(0,1fr)]">
            <Field label="Decision" name="decision" error={err}>
              <select className={inputClass(err, "decision")} name="decision" value={decision} onChange={(e) => setDecision(e.target.value as typeof decision)}>
                <option value="approve">Approve</option>
                <option value="request_changes">Request changes</option>
                <option value="reject">Reject</option>
              </select>
            </Field>
            <Field label="Comments" name="comments" error={err}>
              <textarea className={inputClass(err, "comments")} name="comments" rows={2} value={comments} onChange={(e) => setComments(e.target.value)} />
            </Field>
          </div>
          <button
            type="button"
            className="btn"
            disabled={busy}
            onClick={() => step.mutate({ s: "review", body: { reviewer_id: reviewer, decision, comments } })}
          >
            Review as {reviewer ? name(reviewer) : "you"}
          </button>
        </div>
      )}
      {open && (
        <button
          type="button"
          className="btn-danger"
          disabled={busy}
          onClick={() => window.confirm(`Cancel the task "${task.title}"?`) && step.mutate({ s: "cancel", body: {} })}
        >
          Cancel task
        </button>
      )}
      {err?.fieldMessage("reviewer_id") && (
        <span className="block text-xs text-rose-600" data-field-error="reviewer_id">
          {err.fieldMessage("reviewer_id")}
        </span>
      )}
      {unplaced(step.error, fields) && <ErrorBox error={step.error} />}
    </div>
  );
}

function CreateTask({ circle }: { circle: Circle }) {
  const qc = useQueryClient();
  const [title, setTitle] = useState("");
  const [description, setDescription] = useState("");
  const [competencies, setCompetencies] = useState("");
  const [priority, setPriority] = useState("");
  const [review, setReview] = useState(true);
  const create = useMutation({
    mutationFn: () =>
      createCircleTask(circle.name, {
        title: title.trim(),
        description: description.trim(),
        required_competencies: splitList(competencies),
        priority: priority.trim() === "" ? undefined : Number(priority),
        requires_review: review,
      }),
    onSuccess: (t) => {
      qc.setQueryData<CircleTask[]>(circleKeys.tasks(circle.name), (old) => replaceTask(old, t));
      qc.invalidateQueries({ queryKey: circleKeys.tasks(circle.name) });
      setTitle("");
      setDescription("");
      setCompetencies("");
      setPriority("");
    },
  });
  const err = asApiError(create.error);
  const submit = (e: FormEvent) => {
    e.preventDefault();
    create.mutate();
  };
  return (
    <form onSubmit={submit} className="space-y-3 border-t border-slate-100 pt-3" aria-label="Create task">
      <h3 className="text-sm font-semibold">New task</h3>
      <div className="grid gap-3 sm:grid-cols-[minmax(0,2fr)_minmax(0,2fr)_6rem]">
        <Field label="Title" name="title" error={err}>
          <input className={inputClass(err, "title")} name="title" value={title} onChange={(e) => setTitle(e.target.value)} />
        </Field>
        <Field label="Competencies (comma separated)" name="required_competencies" error={err}>
          <input
            className={inputClass(err, "required_competencies")}
            name="required_competencies"
            value={competencies}
            onChange={(e) => setCompetencies(e.target.value)}
            placeholder="research"
          />
        </Field>
        <Field label="Priority" name="priority" error={err}>
          <input
            className={inputClass(err, "priority")}
            type="number"
            name="priority"
            min={1}
            max={10}
            value={priority}
            onChange={(e) => setPriority(e.target.value)}
            placeholder="5"
          />
        </Field>
      </div>
      <Field label="Description" name="description" error={err}>
        <textarea className={inputClass(err, "description")} name="description" rows={2} value={description} onChange={(e) => setDescription(e.target.value)} />
      </Field>
      <label className="inline-flex items-center gap-1.5 text-sm">
        <input type="checkbox" name="requires_review" checked={review} onChange={(e) => setReview(e.target.checked)} />
        Needs review before it completes
      </label>
      {unplaced(create.error, ["title", "description", "required_competencies", "priority"]) && <ErrorBox error={create.error} />}
      <div>
        <button className="btn" type="submit" disabled={create.isPending}>
          {create.isPending ? "Creating…" : "Create task"}
        </button>
      </div>
    </form>
  );
}
