import { api, type Page } from "./client";

// The JSON of the circle, task and conversation views (projections/circles.go,
// projections/circletasks.go, projections/conversations.go, httpapi/conversations.go).
export type CircleStatus = "created" | "running" | "stopped" | "archived";

export interface CircleMember {
  agent_id: string;
  role: string;
  competencies: string[] | null;
  joined_at: string;
  agent_name: string;
  provider: string;
  model: string;
  agent_role: string;
  agent_exists: boolean;
}

export interface Circle {
  id: string;
  name: string;
  description: string;
  owner: string;
  status: CircleStatus | string;
  version: number;
  created_at: string;
  updated_at: string;
  // Only a single circle (GET /circles/:name) carries its members.
  members?: CircleMember[];
}

export interface CircleTask {
  id: string;
  circle_id: string;
  project_id?: string;
  title: string;
  description: string;
  required_competencies: string[] | null;
  priority: number;
  requires_review: boolean;
  status: string;
  offered_to?: string;
  assignee_id?: string;
  reviewer_id?: string;
  iteration: number;
  result: string;
  owner: string;
  version: number;
  created_at: string;
  updated_at: string;
}

export interface Participant {
  agent_id: string;
  name: string;
}

export interface ConversationSummary {
  id: string;
  circle_id: string;
  owner: string;
  topic: string;
  strategy: string;
  participants: Participant[] | null;
  status: string;
  turns_taken: number;
  max_turns: number;
  posts: number;
  end_reason?: string;
  end_detail?: string;
  version: number;
  created_at: string;
  updated_at: string;
}

export interface Turn {
  number: number;
  speaker_id: string;
  content: string;
  context?: { block: string; items: { id: string; kind: string; source?: string; score: number }[] | null; tokens: number };
}

export interface HumanMessage {
  id: string;
  author: string;
  content: string;
  after_turn: number;
}

export interface Conversation {
  id: string;
  circle_id: string;
  topic: string;
  strategy: string;
  participants: Participant[] | null;
  status: string;
  turns_taken: number;
  max_turns: number;
  end_reason?: string;
  end_detail?: string;
  turns: Turn[];
  messages: HumanMessage[];
  summary: string[];
  version: number;
  created_at: string;
}

// The turn strategies POST /conversations accepts (domain.TurnStrategies), in its order.
export const STRATEGIES = [
  { value: "round_robin", label: "Round robin" },
  { value: "mention_based", label: "Mention based" },
  { value: "free_form", label: "Free form" },
  { value: "facilitator_led", label: "Facilitator led" },
  { value: "model_selected", label: "Model selected" },
] as const;

// The member roles a circle accepts (domain.MemberRoles).
export const MEMBER_ROLES = ["lead", "member", "specialist", "reviewer", "observer"] as const;

export interface AgentSummary {
  id: string;
  name: string;
  role: string;
  provider: string;
  model: string;
}

const enc = encodeURIComponent;

export const circleKeys = {
  list: ["circles"] as const,
  one: (name: string) => ["circle", name] as const,
  conversations: (name: string) => ["circle", name, "conversations"] as const,
  tasks: (name: string) => ["circle", name, "tasks"] as const,
  conversation: (id: string) => ["conversation", id] as const,
  agents: ["agents", "all"] as const,
};

export const listCircles = async () => (await api<Page<Circle>>("/circles?limit=500")).items;
export const getCircle = (name: string) => api<Circle>(`/circles/${enc(name)}`);
export const createCircle = (body: { name: string; description: string }) => api<Circle>("/circles", { method: "POST", body });

export const addMember = (name: string, body: { agent_id: string; role: string; competencies: string[] }) =>
  api<Circle>(`/circles/${enc(name)}/members`, { method: "POST", body });
export const removeMember = (name: string, agentID: string) =>
  api<Circle>(`/circles/${enc(name)}/members/${enc(agentID)}`, { method: "DELETE" });
export const circleAction = (name: string, action: "start" | "stop" | "archive") =>
  api<Circle>(`/circles/${enc(name)}/${action}`, { method: "POST" });

export const listCircleConversations = async (name: string) =>
  (await api<Page<ConversationSummary>>(`/circles/${enc(name)}/conversations`)).items;
export const listCircleTasks = async (name: string) => (await api<Page<CircleTask>>(`/circles/${enc(name)}/tasks`)).items;

export interface TaskInput {
  title: string;
  description: string;
  required_competencies: string[];
  priority?: number;
  requires_review: boolean;
}
export const createCircleTask = (name: string, body: TaskInput) =>
  api<CircleTask>(`/circles/${enc(name)}/tasks`, { method: "POST", body });

export type TaskStep = "route" | "claim" | "refuse" | "submit" | "review" | "cancel";
export interface TaskStepInput {
  agent_id?: string;
  reviewer_id?: string;
  result?: string;
  reason?: string;
  decision?: "approve" | "request_changes" | "reject";
  comments?: string;
}
export const taskStep = (name: string, taskID: string, step: TaskStep, body: TaskStepInput) =>
  api<CircleTask>(`/circles/${enc(name)}/tasks/${enc(taskID)}/${step}`, { method: "POST", body });

export interface ConversationInput {
  circle: string;
  participants: string[];
  topic: string;
  initial_prompt?: string;
  max_turns?: number;
  strategy: string;
  facilitator_id?: string;
  time_limit_seconds?: number;
}
export const startConversation = (body: ConversationInput) => api<Conversation>("/conversations", { method: "POST", body });
export const getConversation = (id: string) => api<Conversation>(`/conversations/${enc(id)}`);
export const postToConversation = (id: string, content: string) =>
  api<Conversation>(`/conversations/${enc(id)}/messages`, { method: "POST", body: { content } });
export const stopConversation = (id: string) => api<Conversation>(`/conversations/${enc(id)}/stop`, { method: "POST" });

// listAllAgents follows the cursor: /agents pages at most 200, and a member picker that
// silently left agents out would be wrong. It stops at 2000, far past any one person's agents.
export async function listAllAgents(): Promise<AgentSummary[]> {
  const out: AgentSummary[] = [];
  let cursor: string | undefined;
  do {
    const page = await api<Page<AgentSummary>>(`/agents?limit=200${cursor ? `&cursor=${enc(cursor)}` : ""}`);
    out.push(...page.items);
    cursor = page.next_cursor;
  } while (cursor && out.length < 2000);
  return out;
}

// splitList turns "a, b,,c " into ["a","b","c"]: how competencies are typed in one input.
export function splitList(s: string): string[] {
  return s
    .split(",")
    .map((x) => x.trim())
    .filter((x) => x !== "");
}
