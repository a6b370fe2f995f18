import { fireEvent, screen, waitFor, within } from "@testing-library/react";
import { afterEach, describe, expect, it } from "vitest";
import { ApiError } from "../api/client";
import Agents from "./Agents";
import { flattenPages, putAgent, type AgentPages } from "./agents/cache";
import { agent, catalog, json, renderWith, stubFetch } from "./agents/testutil";
import { createBody, emptyForm, parseList, parseNumber, patchBody, unplaced, valuesFromAgent } from "./agents/form";

const realFetch = globalThis.fetch;
afterEach(() => {
  globalThis.fetch = realFetch;
});

describe("agent form helpers", () => {
  it("parses comma separated lists, dropping blanks", () => {
    expect(parseList(" curious, calm ,, precise,")).toEqual(["curious", "calm", "precise"]);
    expect(parseList("")).toEqual([]);
  });

  it("reads numbers, treating an empty box as not given", () => {
    expect(parseNumber("0.3")).toBe(0.3);
    expect(parseNumber(" ")).toBeUndefined();
    expect(parseNumber("abc")).toBeUndefined();
    expect(parseNumber("0")).toBe(0);
  });

  it("builds a create body with only what was filled in", () => {
    expect(createBody({ ...emptyForm, name: "Ada", temperature: "0.2", traits: "curious, calm" })).toEqual({
      name: "Ada",
      provider: "offline",
      personality: { temperature: 0.2, traits: ["curious", "calm"] },
    });
    // Without a persona an empty name is still sent, so the API reports it at the field.
    expect(createBody(emptyForm)).toEqual({ name: "", provider: "offline" });
    expect(createBody({ ...emptyForm, persona: "analyst" })).toEqual({ persona: "analyst", provider: "offline" });
  });

  it("patches only what changed, and lets a new provider pick its default model", () => {
    const a = agent();
    const v = valuesFromAgent(a);
    expect(patchBody(a, v)).toEqual({});
    expect(patchBody(a, { ...v, name: "Bea", traits: "curious, bold" })).toEqual({ name: "Bea", personality: { traits: ["curious", "bold"] } });
    expect(patchBody(a, { ...v, provider: "openai" })).toEqual({ provider: "openai" });
    expect(patchBody(a, { ...v, provider: "openai", model: "gpt-4o" })).toEqual({ provider: "openai", model: "gpt-4o" });
    expect(patchBody(a, { ...v, temperature: "1.5" })).toEqual({ personality: { temperature: 1.5 } });
  });

  it("knows when an error is not all shown at the fields", () => {
    const placed = new ApiError(400, { error: { code: "invalid", message: "x", fields: [{ field: "personality.traits[1]", message: "duplicate" }] } });
    const other = new ApiError(400, { error: { code: "invalid", message: "x", fields: [{ field: "persona", message: "unknown" }] } });
    expect(unplaced(placed, ["name", "personality.traits"])).toBe(false);
    expect(unplaced(other, ["name"])).toBe(true);
    expect(unplaced(new Error("boom"), ["name"])).toBe(true);
    expect(unplaced(null, ["name"])).toBe(false);
  });

  it("adds a written agent to the cached list once", () => {
    const a = agent();
    const b = agent({ id: "b", name: "Bea" });
    const data: AgentPages = { pages: [{ items: [a] }], pageParams: [undefined] };
    const added = putAgent(data, b)!;
    expect(flattenPages(added).map((x) => x.name)).toEqual(["Ada", "Bea"]);
    const renamed = putAgent(added, { ...b, name: "Bee" })!;
    expect(flattenPages(renamed).map((x) => x.name)).toEqual(["Ada", "Bee"]);
    expect(flattenPages({ pages: [{ items: [a] }, { items: [a, b] }], pageParams: [undefined, "c"] })).toHaveLength(2);
  });
});

describe("Agents page", () => {
  it("lists agents with links, shows API field errors at the field, and adds a created agent", async () => {
    const created = agent({ id: "22222222-2222-4222-8222-222222222222", name: "Bea", version: 1 });
    let posts = 0;
    const fetchMock = stubFetch({
      "GET /agents": () => json({ items: [agent()] }),
      "GET /catalog": () => json(catalog),
      "GET /personas": () => json({ personas: [] }),
      "POST /agents": () => {
        posts++;
        if (posts === 1) {
          return json(
            {
              error: {
                code: "invalid",
                message: "personality.temperature: must be between 0 and 2 (got 5)",
                field: "personality.temperature",
                fields: [{ field: "personality.temperature", message: "must be between 0 and 2 (got 5)" }],
              },
            },
            400,
          );
        }
        return json(created, 201, { ETag: '"1"', Location: "/agents/" + created.id });
      },
    });
    const { container } = renderWith(<Agents />);

    const link = await screen.findByTestId("agent-link");
    expect(link.textContent).toBe("Ada");
    expect(link.getAttribute("href")).toBe("/agents/11111111-1111-4111-8111-111111111111");

    const provider = container.querySelector<HTMLSelectElement>('select[name="provider"]')!;
    await waitFor(() => expect(within(provider).getAllByRole("option").map((o) => (o as HTMLOptionElement).value)).toEqual(["openai", "offline"]));
    expect(provider.value).toBe("offline");

    fireEvent.change(container.querySelector('input[name="name"]')!, { target: { value: "Bea" } });
    fireEvent.change(container.querySelector('input[name="temperature"]')!, { target: { value: "5" } });
    fireEvent.change(container.querySelector('input[name="traits"]')!, { target: { value: "kind, quick" } });
    fireEvent.click(screen.getByRole("button", { name: "Create agent" }));

    const err = await waitFor(() => {
      const el = container.querySelector('[data-field-error="personality.temperature"]');
      expect(el).not.toBeNull();
      return el!;
    });
    expect(err.textContent).toContain("between 0 and 2");
    expect(container.querySelector('input[name="temperature"]')!.className).toContain("input-error");
    const firstBody = JSON.parse(String(fetchMock.mock.calls.find((c) => c[1]?.method === "POST")![1]!.body));
    expect(firstBody).toEqual({ name: "Bea", provider: "offline", personality: { temperature: 5, traits: ["kind", "quick"] } });

    fireEvent.change(container.querySelector('input[name="temperature"]')!, { target: { value: "0.5" } });
    fireEvent.click(screen.getByRole("button", { name: "Create agent" }));
    await waitFor(() => expect(screen.getAllByTestId("agent-link").map((l) => l.textContent)).toEqual(["Ada", "Bea"]));
    expect(container.querySelector("[data-field-error]")).toBeNull();
    // Read-your-writes: the POST's answer is shown, the list is not fetched again.
    expect(fetchMock.mock.calls.filter((c) => String(c[0]).startsWith("/agents?"))).toHaveLength(1);
  });

  it("shows the empty and the error states", async () => {
    stubFetch({
      "GET /agents": () => json({ items: [] }),
      "GET /catalog": () => json(catalog),
      "GET /personas": () => json({ personas: [] }),
    });
    renderWith(<Agents />);
    expect(await screen.findByText(/No agents yet/)).toBeTruthy();
  });

  it("shows a failed list with a retry", async () => {
    stubFetch({
      "GET /agents": () => json({ error: { code: "internal", message: "database is down" } }, 500),
      "GET /catalog": () => json(catalog),
      "GET /personas": () => json({ personas: [] }),
    });
    renderWith(<Agents />);
    expect(await screen.findByText("database is down")).toBeTruthy();
    expect(screen.getByRole("button", { name: "Try again" })).toBeTruthy();
  });
});
