import { ApiError } from "../../api/client";
import type { Agent, AgentInput, Persona } from "../../api/agents";

// The agent form keeps every field as the text the person typed; the API decides what is valid
// and says so per field, so nothing here second-guesses it beyond turning text into JSON types.
export interface AgentFormValues {
  persona: string;
  name: string;
  role: string;
  provider: string;
  model: string;
  temperature: string;
  traits: string;
  communication_style: string;
  max_tokens: string;
  system_prompt: string;
  tools: string;
}

export const emptyForm: AgentFormValues = {
  persona: "",
  name: "",
  role: "",
  provider: "offline",
  model: "",
  temperature: "",
  traits: "",
  communication_style: "",
  max_tokens: "",
  system_prompt: "",
  tools: "",
};

// The API's field names for the form's inputs, where their errors are shown.
export const fieldOf: Record<keyof AgentFormValues, string> = {
  persona: "persona",
  name: "name",
  role: "role",
  provider: "provider",
  model: "model",
  temperature: "personality.temperature",
  traits: "personality.traits",
  communication_style: "personality.communication_style",
  max_tokens: "personality.max_tokens",
  system_prompt: "system_prompt",
  tools: "tools",
};

// parseList reads a comma separated list ("curious, calm") and drops empty entries, so a
// trailing comma is not a validation error.
export function parseList(text: string): string[] {
  return text
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");
}

export const formatList = (items: string[] | null | undefined) => (items ?? []).join(", ");

// parseNumber keeps an unparsable entry as NaN-free undefined: an empty box means "not given".
export function parseNumber(text: string): number | undefined {
  const t = text.trim();
  if (t === "") return undefined;
  const n = Number(t);
  return Number.isFinite(n) ? n : undefined;
}

export function valuesFromAgent(a: Agent): AgentFormValues {
  return {
    persona: "",
    name: a.name,
    role: a.role,
    provider: a.provider,
    model: a.model,
    temperature: String(a.personality?.temperature ?? ""),
    traits: formatList(a.personality?.traits),
    communication_style: a.personality?.communication_style ?? "",
    max_tokens: a.personality?.max_tokens ? String(a.personality.max_tokens) : "",
    system_prompt: a.system_prompt ?? "",
    tools: formatList(a.tools),
  };
}

export function valuesFromPersona(p: Persona, current: AgentFormValues): AgentFormValues {
  const s = p.spec;
  return {
    ...current,
    persona: p.id,
    name: current.name || p.display_name,
    role: s.role,
    temperature: String(s.personality.temperature),
    traits: formatList(s.personality.traits),
    communication_style: s.personality.communication_style,
    max_tokens: String(s.personality.max_tokens),
    system_prompt: s.system_prompt,
    tools: formatList(s.tools),
  };
}

// createBody sends what was filled in and leaves the rest to the server's defaults (or the
// persona's). The name is always sent without a persona, so that a missing one is reported at
// the field rather than silently defaulted.
export function createBody(v: AgentFormValues): AgentInput {
  const body: AgentInput = {};
  if (v.persona) body.persona = v.persona;
  if (v.name.trim() !== "" || !v.persona) body.name = v.name;
  if (v.role.trim() !== "") body.role = v.role;
  body.provider = v.provider;
  if (v.model.trim() !== "") body.model = v.model;
  const personality: AgentInput["personality"] = {};
  const temperature = parseNumber(v.temperature);
  if (temperature !== undefined) personality.temperature = temperature;
  if (v.traits.trim() !== "") personality.traits = parseList(v.traits);
  if (v.communication_style.trim() !== "") personality.communication_style = v.communication_style;
  const maxTokens = parseNumber(v.max_tokens);
  if (maxTokens !== undefined) personality.max_tokens = maxTokens;
  if (Object.keys(personality).length > 0) body.personality = personality;
  if (v.system_prompt.trim() !== "") body.system_prompt = v.system_prompt;
  if (v.tools.trim() !== "") body.tools = parseList(v.tools);
  return body;
}

const sameList = (a: string[], b: string[]) => a.length === b.length && a.every((x, i) => x === b[i]);

// patchBody sends only what changed, so the agent.updated event names just those fields and a
// concurrent edit of another field is not overwritten with a stale value.
export function patchBody(a: Agent, v: AgentFormValues): AgentInput {
  const body: AgentInput = {};
  if (v.name !== a.name) body.name = v.name;
  if (v.role !== a.role) body.role = v.role;
  if (v.provider !== a.provider) body.provider = v.provider;
  // Switching provider without touching the model lets the server pick the new provider's
  // default, instead of keeping a model name the new provider cannot serve.
  const modelTouched = v.model !== a.model;
  if (modelTouched && v.model.trim() !== "") body.model = v.model;
  const p = a.personality ?? { traits: [], communication_style: "", temperature: 0, max_tokens: 0 };
  const personality: AgentInput["personality"] = {};
  const temperature = parseNumber(v.temperature);
  if (temperature !== undefined && temperature !== p.temperature) personality.temperature = temperature;
  const traits = parseList(v.traits);
  if (!sameList(traits, p.traits ?? [])) personality.traits = traits;
  if (v.communication_style !== (p.communication_style ?? "")) personality.communication_style = v.communication_style;
  const maxTokens = parseNumber(v.max_tokens);
  if (maxTokens !== undefined && maxTokens !== p.max_tokens) personality.max_tokens = maxTokens;
  if (Object.keys(personality).length > 0) body.personality = personality;
  if (v.system_prompt !== (a.system_prompt ?? "")) body.system_prompt = v.system_prompt;
  const tools = parseList(v.tools);
  if (!sameList(tools, a.tools ?? [])) body.tools = tools;
  return body;
}

const fieldMatches = (field: string, name: string) => field === name || field.startsWith(name + ".") || field.startsWith(name + "[");

// unplaced reports whether an error still needs a general message because not all of it is
// shown next to one of the form's fields.
export function unplaced(error: unknown, fields: string[]): boolean {
  if (!error) return false;
  if (!(error instanceof ApiError) || error.fields.length === 0) return true;
  return error.fields.some((f) => !fields.some((n) => fieldMatches(f.field, n)));
}

export const isVersionConflict = (e: unknown) => e instanceof ApiError && (e.code === "version_conflict" || e.status === 412);
