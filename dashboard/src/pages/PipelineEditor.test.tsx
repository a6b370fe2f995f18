import { act, fireEvent, screen, waitFor, within } from "@testing-library/react";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import type { Pipeline, PipelineSpec } from "../api/pipelines";
import PipelineEditor from "./PipelineEditor";
import { draftReducer, loadDraft } from "./pipelines/draft";
import { configTemplate, layoutSpec, mapFieldErrors, minimalSpec, nodeDepths, placeNew, uniqueNodeId } from "./pipelines/graph";
import { browserShims, renderAt, stubFetch } from "./pipelines/testutil";

const realFetch = globalThis.fetch;
beforeAll(browserShims);
afterEach(() => {
  globalThis.fetch = realFetch;
});

const spec = (nodes: [string, string][], edges: [string, string][] = []): PipelineSpec => ({
  name: "p",
  nodes: nodes.map(([id, type]) => ({ id, type, config: {} })),
  edges: edges.map(([from, to]) => ({ from, to })),
});

describe("field errors on the graph", () => {
  it("sends nodes[i]… to node i, edges[j]… to edge j, and the rest to the graph", () => {
    const m = mapFieldErrors([
      { field: "nodes[2].config.url", message: "must be a URI" },
      { field: "nodes[2].retry.max_attempts", message: "too many" },
      { field: "nodes[0]", message: "a merge node needs at least 2 incoming edges (has 1)" },
      { field: "nodes[10].id", message: "is required" },
      { field: "edges[1].condition", message: "does not parse" },
      { field: "edges", message: "cycle: a -> b -> a" },
      { field: "name", message: "is required" },
      { field: "nodes", message: "a pipeline needs at least one node" },
    ]);
    expect(m.nodes.get(2)).toEqual([
      { path: "config.url", field: "nodes[2].config.url", message: "must be a URI" },
      { path: "retry.max_attempts", field: "nodes[2].retry.max_attempts", message: "too many" },
    ]);
    expect(m.nodes.get(0)?.[0].path).toBe("");
    expect(m.nodes.get(10)?.[0].path).toBe("id");
    expect(m.edges.get(1)).toEqual([{ path: "condition", field: "edges[1].condition", message: "does not parse" }]);
    expect(m.graph.map((e) => e.field)).toEqual(["edges", "name", "nodes"]);
  });

  it("keeps paths inside a config that start with an index", () => {
    const m = mapFieldErrors([{ field: "nodes[3].config[0]", message: "x" }]);
    expect(m.nodes.get(3)?.[0].path).toBe("config[0]");
  });
});

describe("layout", () => {
  it("gives each node the length of the longest path to it", () => {
    const s = spec(
      [["t", "trigger"], ["a", "agent"], ["b", "agent"], ["m", "merge"]],
      [["t", "a"], ["t", "b"], ["a", "b"], ["a", "m"], ["b", "m"]],
    );
    expect(nodeDepths(s)).toEqual([0, 1, 2, 3]);
  });

  it("lays out left to right by depth, stacking a column in spec order", () => {
    const s = spec([["t", "trigger"], ["a", "agent"], ["b", "agent"], ["z", "delay"]], [["t", "a"], ["t", "b"]]);
    const l = layoutSpec(s);
    expect(l[0]).toEqual({ x: 0, y: 0 });
    expect(l[1].x).toBe(l[2].x);
    expect(l[1].x).toBeGreaterThan(0);
    expect(l[2].y).toBeGreaterThan(l[1].y);
    // An unconnected node is an entry of its own.
    expect(l[3]).toEqual({ x: 0, y: l[1].y + (l[2].y - l[1].y) });
  });

  it("still lays out a graph with a cycle or dangling edges", () => {
    const s = spec([["a", "agent"], ["b", "agent"], ["c", "agent"]], [["a", "b"], ["b", "c"], ["c", "b"], ["x", "a"]]);
    const d = nodeDepths(s);
    expect(d).toHaveLength(3);
    expect(d.every((n) => Number.isFinite(n))).toBe(true);
    expect(d[0]).toBe(0);
  });

  it("places a new node in a free column", () => {
    expect(placeNew([])).toEqual({ x: 0, y: 0 });
    expect(placeNew([{ x: 0, y: 40 }, { x: 260, y: 10 }]).x).toBeGreaterThan(260);
  });
});

describe("draft", () => {
  it("follows a renamed node in its edges, and drops a deleted node's edges", () => {
    let d = loadDraft(spec([["t", "trigger"], ["a", "agent"], ["b", "agent"]], [["t", "a"], ["a", "b"]]));
    d = draftReducer(d, { type: "updateNode", index: 1, patch: { id: "ask" } });
    expect(d.spec.edges).toEqual([{ from: "t", to: "ask" }, { from: "ask", to: "b" }]);
    d = draftReducer(d, { type: "removeNodes", keys: [d.keys[1]] });
    expect(d.spec.nodes.map((n) => n.id)).toEqual(["t", "b"]);
    expect(d.spec.edges).toEqual([]);
    expect(d.edgeKeys).toEqual([]);
  });

  it("refuses a duplicate edge and keeps positions of nodes a JSON edit keeps", () => {
    let d = loadDraft(spec([["t", "trigger"], ["a", "agent"]], [["t", "a"]]));
    d = draftReducer(d, { type: "addEdge", edge: { from: "t", to: "a" } });
    expect(d.spec.edges).toHaveLength(1);
    d = draftReducer(d, { type: "move", key: d.keys[1], pos: { x: 999, y: 7 } });
    const kept = d.keys[1];
    d = draftReducer(d, { type: "replace", spec: spec([["a", "agent"], ["n", "delay"]]) });
    expect(d.keys[0]).toBe(kept);
    expect(d.pos[kept]).toEqual({ x: 999, y: 7 });
    expect(d.pos[d.keys[1]]).toBeDefined();
  });

  it("proposes free ids and config templates from the schema", () => {
    expect(uniqueNodeId(spec([["agent1", "agent"]]), "agent")).toBe("agent2");
    expect(
      configTemplate({
        required: ["agent_id", "prompt", "seconds", "action"],
        properties: { agent_id: { type: "string" }, prompt: { type: "string" }, seconds: { type: "integer", minimum: 0 }, action: { enum: ["http_request", "noop"] } },
      }),
    ).toEqual({ agent_id: "", prompt: "", seconds: 0, action: "http_request" });
    expect(configTemplate(undefined)).toEqual({});
    expect(minimalSpec("x").nodes).toEqual([{ id: "start", type: "trigger", config: {} }]);
  });
});

const pipeline = (over: Partial<Pipeline> = {}): Pipeline => ({
  id: "p1",
  owner: "u1",
  name: "Digest",
  description: "",
  spec: {
    name: "Digest",
    nodes: [
      { id: "start", type: "trigger", config: {} },
      { id: "ask", type: "agent", config: { agent_id: "", prompt: "hi" } },
      { id: "post", type: "action", config: { action: "noop" } },
    ],
    edges: [
      { from: "start", to: "ask" },
      { from: "ask", to: "post", condition: "input.ok" },
    ],
    timeout_sec: 3600,
    cancel_grace_sec: 30,
  },
  spec_version: 2,
  node_count: 3,
  edge_count: 2,
  version: 2,
  created_at: "2027-01-01T00:00:00Z",
  updated_at: "2027-01-02T00:00:00Z",
  ...over,
});

const nodeTypes = {
  items: [
    { type: "agent", config_schema: { required: ["agent_id", "prompt"], properties: { agent_id: { type: "string" }, prompt: { type: "string" } } } },
    { type: "delay", config_schema: { required: ["seconds"], properties: { seconds: { type: "integer", minimum: 0 } } } },
    { type: "trigger", config_schema: { properties: { kind: { enum: ["manual"] } } } },
  ],
};

function routes(extra: Record<string, unknown> = {}) {
  return {
    "GET /pipelines/p1": { body: pipeline(), headers: { ETag: '"2"' } },
    "GET /pipelines/node-types": { body: nodeTypes },
    "GET /pipelines/p1/runs": {
      body: { items: [{ id: "r1", pipeline_id: "p1", pipeline_version: 2, status: "completed", started_at: "2027-01-02T00:00:00Z", duration_ms: 1500, input: {}, cancel_forced: false, timeout_sec: 3600, owner: "u1", started_by: "u1", version: 5 }] },
    },
    ...extra,
  } as Parameters<typeof stubFetch>[0];
}

const open = () => renderAt("/pipelines/p1", "/pipelines/:id", <PipelineEditor />);

describe("PipelineEditor", () => {
  it("draws the graph, lists the runs and adds a node of the chosen type", async () => {
    stubFetch(routes());
    open();
    expect((await screen.findByTestId("node-start")).textContent).toContain("trigger");
    expect(screen.getByTestId("node-ask").textContent).toContain("agent");
    expect(screen.getByTestId("node-post")).toBeTruthy();
    const run = await screen.findByRole("link", { name: /2027|1\/2/ });
    expect(run.getAttribute("href")).toBe("/pipelines/p1/runs/r1");
    expect(screen.getAllByTestId("edge-row")).toHaveLength(2);

    await waitFor(() => expect(screen.getByRole("option", { name: "delay" })).toBeTruthy());
    fireEvent.change(document.querySelector('select[name="node_type"]')!, { target: { value: "delay" } });
    fireEvent.click(screen.getByRole("button", { name: "Add node" }));
    expect((await screen.findByTestId("node-delay1")).textContent).toContain("delay");
  });

  it("shows validation errors on the nodes and edges at fault, and graph errors above", async () => {
    const { calls } = stubFetch(
      routes({
        "POST /pipelines/validate": {
          body: {
            valid: false,
            errors: [
              { field: "nodes[1].config.agent_id", message: "must be a uuid" },
              { field: "edges[1].condition", message: "unexpected token" },
              { field: "edges", message: "cycle: ask -> post -> ask" },
            ],
          },
        },
      }),
    );
    open();
    await screen.findByTestId("node-ask");
    fireEvent.click(screen.getByRole("button", { name: "Validate" }));
    const badge = await screen.findByTestId("node-error");
    expect(badge.textContent).toContain("config.agent_id: must be a uuid");
    expect(within(screen.getByTestId("node-ask")).getByTestId("node-error")).toBe(badge);
    expect(within(screen.getByTestId("node-start")).queryByTestId("node-error")).toBeNull();
    expect(screen.getByTestId("graph-errors").textContent).toContain("cycle: ask -> post -> ask");
    expect(screen.getByTestId("edge-error").textContent).toContain("unexpected token");
    const sent = calls.find((c) => c.url === "/pipelines/validate");
    expect((sent?.body as PipelineSpec).nodes).toHaveLength(3);
  });

  it("saves with If-Match and says so on a conflict", async () => {
    const { calls } = stubFetch(routes({ "PUT /pipelines/p1": { status: 409, body: { error: { code: "version_conflict", message: "the stream was changed by someone else" } } } }));
    open();
    await screen.findByTestId("node-ask");
    fireEvent.click(screen.getByRole("button", { name: "Save" }));
    expect((await screen.findByTestId("save-conflict")).textContent).toContain("409");
    const put = calls.find((c) => c.method === "PUT");
    expect(put?.headers["If-Match"]).toBe('"2"');
    expect((put?.body as PipelineSpec).edges[1]).toEqual({ from: "ask", to: "post", condition: "input.ok" });
  });

  it("applies the JSON tab to the graph", async () => {
    stubFetch(routes());
    open();
    await screen.findByTestId("node-ask");
    fireEvent.click(screen.getByRole("tab", { name: "JSON" }));
    const box = document.querySelector('textarea[name="spec-json"]') as HTMLTextAreaElement;
    expect(JSON.parse(box.value).nodes).toHaveLength(3);
    const next = { name: "Digest", nodes: [{ id: "begin", type: "trigger", config: {} }, { id: "wait", type: "delay", config: { seconds: 5 } }], edges: [{ from: "begin", to: "wait" }] };
    fireEvent.change(box, { target: { value: JSON.stringify(next) } });
    fireEvent.click(screen.getByRole("button", { name: "Apply JSON" }));
    expect((await screen.findByTestId("node-wait")).textContent).toContain("delay");
    expect(screen.queryByTestId("node-ask")).toBeNull();
  });

  it("starts a run with the input and opens it", async () => {
    const { calls } = stubFetch(routes({ "POST /pipelines/p1/runs": { status: 202, body: { id: "r9", pipeline_id: "p1", status: "running" } } }));
    open();
    await screen.findByTestId("node-ask");
    fireEvent.change(document.querySelector('textarea[name="input"]')!, { target: { value: '{"topic": "news"}' } });
    await act(async () => {
      fireEvent.click(screen.getByRole("button", { name: "Run" }));
    });
    await waitFor(() => expect(screen.getByTestId("location").textContent).toContain("/pipelines/p1/runs/r9"));
    expect(calls.find((c) => c.method === "POST" && c.url === "/pipelines/p1/runs")?.body).toEqual({ input: { topic: "news" } });
  });

  it("edits a selected node in the side panel", async () => {
    stubFetch(routes());
    open();
    fireEvent.click(await screen.findByTestId("node-ask"));
    const panel = await screen.findByTestId("node-panel");
    expect(within(panel).getByText(/Config schema of agent/)).toBeTruthy();
    fireEvent.change(panel.querySelector('input[name="node_id"]')!, { target: { value: "writer" } });
    expect(await screen.findByTestId("node-writer")).toBeTruthy();
    // The edges follow the rename.
    expect(screen.getAllByTestId("edge-row")[0].textContent).toContain("writer");
  });

  it("shows the error when the pipeline cannot be loaded", async () => {
    stubFetch({ "GET /pipelines/p1": { status: 404, body: { error: { code: "not_found", message: "pipeline not found" } } } });
    open();
    expect((await screen.findByRole("alert")).textContent).toContain("pipeline not found");
  });
});
