import type { FormEvent, ReactNode } from "react";
import { ApiError } from "../../api/client";
import type { Catalog, Persona } from "../../api/agents";
import { ErrorBox, Field } from "../../components/ui";
import { fieldOf, unplaced, valuesFromPersona, type AgentFormValues } from "./form";

interface Props {
  values: AgentFormValues;
  onChange: (v: AgentFormValues) => void;
  onSubmit: () => void;
  error: unknown;
  catalog?: Catalog;
  personas?: Persona[];
  submitLabel: string;
  busy: boolean;
  label: string;
  children?: ReactNode;
}

// The create and the edit form: the same fields, with the API's errors under each of them.
// No browser-side min/max/required: the API's rules are the ones that count, and its messages
// are shown where they belong.
export function AgentForm({ values, onChange, onSubmit, error, catalog, personas, submitLabel, busy, label, children }: Props) {
  const apiErr = error instanceof ApiError ? error : null;
  const set = (k: keyof AgentFormValues) => (e: { target: { value: string } }) => onChange({ ...values, [k]: e.target.value });
  const cls = (k: keyof AgentFormValues) => `input${apiErr?.fieldMessage(fieldOf[k]) ? " input-error" : ""}`;
  const providers = catalog?.providers ?? [];
  const known = providers.some((p) => p.name === values.provider);
  const models = providers.find((p) => p.name === values.provider)?.models ?? [];
  const listId = `${label.replace(/\W+/g, "-").toLowerCase()}-models`;
  const submit = (e: FormEvent) => {
    e.preventDefault();
    onSubmit();
  };

  return (
    <form onSubmit={submit} noValidate aria-label={label} className="space-y-3">
      {personas && personas.length > 0 && (
        <Field label="Start from a persona (optional)" name="persona" error={apiErr}>
          <select
            className={cls("persona")}
            name="persona"
            value={values.persona}
            onChange={(e) => {
              const p = personas.find((x) => x.id === e.target.value);
              onChange(p ? valuesFromPersona(p, values) : { ...values, persona: "" });
            }}
          >
            <option value="">None</option>
            {personas.map((p) => (
              <option key={p.id} value={p.id}>
                {p.display_name} — {p.description}
              </option>
            ))}
          </select>
        </Field>
      )}
      <div className="grid grid-cols-1 gap-3 sm:grid-cols-2">
        <Field label="Name" name="name" error={apiErr}>
          <input className={cls("name")} name="name" value={values.name} onChange={set("name")} autoComplete="off" />
        </Field>
        <Field label="Role" name="role" error={apiErr}>
          <input className={cls("role")} name="role" value={values.role} onChange={set("role")} placeholder="assistant" />
        </Field>
        <Field label="Provider" name="provider" error={apiErr}>
          <select className={cls("provider")} name="provider" value={values.provider} onChange={set("provider")}>
            {!known && <option value={values.provider}>{values.provider}</option>}
            {providers.map((p) => (
              <option key={p.name} value={p.name}>
                {p.display_name}
              </option>
            ))}
          </select>
        </Field>
        <Field label="Model" name="model" error={apiErr}>
          <input
            className={cls("model")}
            name="model"
            value={values.model}
            onChange={set("model")}
            list={listId}
            placeholder={models[0] ? `default for the provider (e.g. ${models[0].id})` : "default for the provider"}
            autoComplete="off"
          />
          <datalist id={listId}>
            {models.map((m) => (
              <option key={m.id} value={m.id}>
                {m.display_name}
                {m.deprecated ? ` (${m.deprecated})` : ""}
              </option>
            ))}
          </datalist>
        </Field>
        <Field label="Temperature" name="personality.temperature" error={apiErr}>
          <input className={cls("temperature")} name="temperature" type="number" step="any" inputMode="decimal" value={values.temperature} onChange={set("temperature")} placeholder="0.7" />
        </Field>
        <Field label="Traits (comma separated)" name="personality.traits" error={apiErr}>
          <input className={cls("traits")} name="traits" value={values.traits} onChange={set("traits")} placeholder="curious, concise" />
        </Field>
      </div>
      <details className="rounded-md border border-slate-200 p-3" open={advancedHasError(apiErr)}>
        <summary className="cursor-pointer text-sm font-medium text-slate-600">Prompt, style and tools</summary>
        <div className="mt-3 grid grid-cols-1 gap-3 sm:grid-cols-2">
          <Field label="Communication style" name="personality.communication_style" error={apiErr}>
            <input className={cls("communication_style")} name="communication_style" value={values.communication_style} onChange={set("communication_style")} />
          </Field>
          <Field label="Max tokens" name="personality.max_tokens" error={apiErr}>
            <input className={cls("max_tokens")} name="max_tokens" type="number" step="1" inputMode="numeric" value={values.max_tokens} onChange={set("max_tokens")} placeholder="1024" />
          </Field>
          <div className="sm:col-span-2">
            <Field label="Tools (comma separated)" name="tools" error={apiErr}>
              <input className={cls("tools")} name="tools" value={values.tools} onChange={set("tools")} placeholder="calculator, current_time" />
            </Field>
          </div>
          <div className="sm:col-span-2">
            <Field label="System prompt" name="system_prompt" error={apiErr}>
              <textarea className={cls("system_prompt")} name="system_prompt" rows={4} value={values.system_prompt} onChange={set("system_prompt")} />
            </Field>
          </div>
        </div>
      </details>
      {unplaced(error, Object.values(fieldOf)) && <ErrorBox error={error} />}
      <div className="flex flex-wrap items-center gap-2">
        <button className="btn" type="submit" disabled={busy}>
          {submitLabel}
        </button>
        {children}
      </div>
    </form>
  );
}

function advancedHasError(e: ApiError | null): boolean | undefined {
  if (!e) return undefined;
  return ["personality.communication_style", "personality.max_tokens", "tools", "system_prompt"].some((f) => !!e.fieldMessage(f)) || undefined;
}
