import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { render } from "@testing-library/react";
import type { ReactElement } from "react";
import { MemoryRouter, Route, Routes } from "react-router-dom";
import { vi } from "vitest";
import type { Agent } from "../../api/agents";

// Test helpers shared by the Agents pages' tests (not a test file itself).

export function agent(over: Partial<Agent> = {}): Agent {
  return {
    id: "11111111-1111-4111-8111-111111111111",
    name: "Ada",
    role: "assistant",
    provider: "offline",
    model: "offline-1",
    personality: { traits: ["curious"], communication_style: "", temperature: 0.7, max_tokens: 1024 },
    system_prompt: "",
    tools: [],
    version: 1,
    created_at: "2025-01-01T00:00:00Z",
    updated_at: "2025-01-01T00:00:00Z",
    position: 1,
    created_by: "u1",
    ...over,
  };
}

export const catalog = {
  providers: [
    { name: "openai", display_name: "OpenAI", models: [{ id: "gpt-4o-mini", display_name: "GPT-4o mini" }] },
    { name: "offline", display_name: "Offline (no model)", local: true, models: [{ id: "offline-1", display_name: "Offline echo model" }] },
  ],
};

export const json = (body: unknown, status = 200, headers: Record<string, string> = {}) =>
  new Response(body === null ? null : JSON.stringify(body), { status, headers: { "Content-Type": "application/json", ...headers } });

type Handler = (init: RequestInit | undefined) => Response | Promise<Response>;

// stubFetch answers "METHOD /path" (query string ignored) from handlers and records the calls.
export function stubFetch(handlers: Record<string, Handler>) {
  const fn = vi.fn(async (input: RequestInfo | URL, init?: RequestInit) => {
    const url = String(input).split("?")[0];
    const key = `${init?.method ?? "GET"} ${url}`;
    const h = handlers[key];
    if (!h) return json({ error: { code: "not_found", message: `no stub for ${key}` } }, 404);
    return h(init);
  });
  globalThis.fetch = fn as unknown as typeof fetch;
  return fn;
}

export function renderWith(ui: ReactElement, path = "/", route?: string) {
  const qc = new QueryClient({ defaultOptions: { queries: { retry: false }, mutations: { retry: false } } });
  return render(
    <QueryClientProvider client={qc}>
      <MemoryRouter initialEntries={[path]}>
        {route ? (
          <Routes>
            <Route path={route} element={ui} />
            <Route path="*" element={<div data-testid="elsewhere" />} />
          </Routes>
        ) : (
          ui
        )}
      </MemoryRouter>
    </QueryClientProvider>,
  );
}
