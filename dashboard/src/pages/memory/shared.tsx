import { useQuery } from "@tanstack/react-query";
import { ApiError } from "../../api/client";
import { listAgents, listCircles, SCOPES, type Scope } from "../../api/memory";
import { ErrorBox, Field } from "../../components/ui";

export const asApiError = (e: unknown) => (e instanceof ApiError ? e : null);

// FormError shows what the fields of a form do not: any error that is not about one of them.
export function FormError({ error, fields }: { error: unknown; fields: string[] }) {
  if (!error) return null;
  const api = asApiError(error);
  if (api && api.fields.length > 0 && api.fields.every((f) => fields.some((n) => f.field === n || f.field.startsWith(n + ".") || f.field.startsWith(n + "[")))) return null;
  return <ErrorBox error={error} />;
}

// The agents the caller may use (a member's own, everything for an admin).
export function useAgents() {
  return useQuery({ queryKey: ["agents", "memory-picker"], queryFn: listAgents });
}

// ScopePicker chooses who shares an item: the scope, and for any but global the id of the
// agent, circle, conversation or project (pickers for the first two, an id for the others).
export function ScopePicker({
  scope,
  scopeId,
  onScope,
  onScopeId,
  error,
}: {
  scope: Scope;
  scopeId: string;
  onScope: (s: Scope) => void;
  onScopeId: (id: string) => void;
  error: ApiError | null;
}) {
  const agents = useAgents();
  const circles = useQuery({ queryKey: ["circles", "memory-picker"], queryFn: listCircles, enabled: scope === "circle" });
  const pick = (q: { data?: { id: string; name: string }[]; isPending: boolean; isError: boolean }, one: string, many: string) => (
    <select className={`input ${error?.fieldMessage("scope_id") ? "input-error" : ""}`} name="scope_id" value={scopeId} onChange={(e) => onScopeId(e.target.value)}>
      <option value="">{q.isError ? `Could not load ${many}` : q.isPending ? "Loading…" : q.data?.length ? `Choose ${one}` : `No ${many} yet`}</option>
      {q.data?.map((a) => (
        <option key={a.id} value={a.id}>
          {a.name}
        </option>
      ))}
    </select>
  );
  return (
    <div className="grid gap-3 sm:grid-cols-2">
      <Field label="Scope" name="scope" error={error}>
        <select
          className={`input ${error?.fieldMessage("scope") ? "input-error" : ""}`}
          name="scope"
          value={scope}
          onChange={(e) => {
            onScope(e.target.value as Scope);
            onScopeId("");
          }}
        >
          {SCOPES.map((s) => (
            <option key={s} value={s}>
              {s}
            </option>
          ))}
        </select>
      </Field>
      {scope !== "global" && (
        <Field label={`${scope} id`} name="scope_id" error={error}>
          {scope === "agent" ? (
            pick(agents, "an agent", "agents")
          ) : scope === "circle" ? (
            pick(circles, "a circle", "circles")
          ) : (
            <input
              className={`input font-mono ${error?.fieldMessage("scope_id") ? "input-error" : ""}`}
              name="scope_id"
              value={scopeId}
              onChange={(e) => onScopeId(e.target.value)}
              placeholder={`${scope} UUID`}
              autoComplete="off"
            />
          )}
        </Field>
      )}
    </div>
  );
}
