import { act, fireEvent, screen, waitFor } from "@testing-library/react";
import { afterEach, describe, expect, it } from "vitest";
import Pipelines from "./Pipelines";
import { renderAt, stubFetch } from "./pipelines/testutil";

const realFetch = globalThis.fetch;
afterEach(() => {
  globalThis.fetch = realFetch;
});

const open = () => renderAt("/pipelines", "/pipelines", <Pipelines />);

describe("Pipelines", () => {
  it("lists pipelines linking to their editor", async () => {
    stubFetch({
      "GET /pipelines": {
        body: { items: [{ id: "p1", name: "Digest", description: "daily", node_count: 3, spec_version: 4, updated_at: "2027-01-02T00:00:00Z" }] },
      },
    });
    open();
    const link = await screen.findByRole("link", { name: "Digest" });
    expect(link.getAttribute("href")).toBe("/pipelines/p1");
    const row = screen.getByTestId("pipeline-row");
    expect(row.textContent).toContain("3");
    expect(row.textContent).toContain("v4");
  });

  it("says when there are none", async () => {
    stubFetch({ "GET /pipelines": { body: { items: [] } } });
    open();
    expect((await screen.findByText(/No pipelines yet/)).textContent).toContain("New pipeline");
  });

  it("creates a minimal pipeline with the name asked, then opens its editor", async () => {
    const { calls } = stubFetch({
      "GET /pipelines": { body: { items: [] } },
      "POST /pipelines": { status: 201, body: { id: "p7", name: "Fresh" } },
    });
    open();
    fireEvent.click(await screen.findByRole("button", { name: "New pipeline" }));
    fireEvent.change(document.querySelector('input[name="name"]')!, { target: { value: "Fresh" } });
    await act(async () => {
      fireEvent.click(screen.getByRole("button", { name: "Create pipeline" }));
    });
    await waitFor(() => expect(screen.getByTestId("location").textContent).toBe("/pipelines/p7"));
    expect(calls.find((c) => c.method === "POST")?.body).toMatchObject({
      name: "Fresh",
      nodes: [{ id: "start", type: "trigger", config: {} }],
      edges: [],
    });
  });

  it("shows the API's complaint about the name at the field", async () => {
    stubFetch({
      "GET /pipelines": { body: { items: [] } },
      "POST /pipelines": { status: 400, body: { error: { code: "invalid", message: "1 problem in the pipeline", fields: [{ field: "name", message: "is required" }] } } },
    });
    open();
    fireEvent.click(await screen.findByRole("button", { name: "New pipeline" }));
    fireEvent.change(document.querySelector('input[name="name"]')!, { target: { value: " " } });
    fireEvent.submit(document.querySelector('form[aria-label="New pipeline"]')!);
    await waitFor(() => expect(document.querySelector('[data-field-error="name"]')?.textContent).toBe("is required"));
  });
});
