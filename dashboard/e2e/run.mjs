// The console's end-to-end suite: playwright-core drives Debian's Chromium (never a downloaded
// browser) against a real server and database started by dashboard/e2e_test.go, which passes
// BASE_URL, CHROMIUM, ADMIN_EMAIL, ADMIN_PASSWORD and SCREENSHOTS (a folder for the pictures of
// the main pages). Each step names what a person does; the first failure stops the suite with
// a screenshot of the page as it was.
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { chromium } from "playwright-core";

const base = required("BASE_URL");
const shots = required("SCREENSHOTS");
mkdirSync(shots, { recursive: true });

function required(name) {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set`);
  return v;
}

const browser = await chromium.launch({
  executablePath: required("CHROMIUM"),
  headless: true,
  // Without the background-networking flags Chromium tries to reach Google at start, which a
  // closed network refuses.
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"],
});
const context = await browser.newContext({ viewport: { width: 1280, height: 860 } });
// Generous: CI runs the server under the race detector beside other test packages.
context.setDefaultTimeout(40000);
const page = await context.newPage();
page.on("dialog", (d) => d.accept()); // confirmations (delete, archive) are accepted
const problems = [];
page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
page.on("console", (m) => {
  // A 4xx the suite provokes on purpose is logged by the browser as a failed resource.
  if (m.type() === "error" && !/status of 4\d\d/.test(m.text())) problems.push(`console error: ${m.text()}`);
});

let n = 0;
async function step(name, fn) {
  n++;
  const started = Date.now();
  try {
    await fn();
    if (problems.length) throw new Error(problems.join("\n"));
    console.log(`ok ${n} - ${name} (${Date.now() - started} ms)`);
  } catch (e) {
    console.log(`not ok ${n} - ${name}\n${e.stack || e}`);
    await page.screenshot({ path: join(shots, `failure-${n}.png`), fullPage: true }).catch(() => {});
    await browser.close();
    process.exit(1);
  }
}

async function shot(name) {
  await page.waitForTimeout(150); // let the last render settle
  await page.screenshot({ path: join(shots, `${name}.png`), fullPage: true });
}

// go opens a page of the console. Pages load lazily and the router keeps the previous page on
// screen meanwhile, so when the caller names a button of the new page, go waits for it: typing
// into a field of the old page would be a test bug, not a console one.
async function go(hash, ready) {
  await page.goto(`${base}/#${hash}`);
  if (ready) await page.getByRole("button", { name: ready, exact: true }).first().waitFor();
}

// api calls the server from the page with the session's token, for the setup a test is not about.
async function api(method, path, body) {
  return page.evaluate(async ([method, path, body]) => {
    const session = JSON.parse(localStorage.getItem("gathering.session") || "{}").state || {};
    const res = await fetch(path, { method, headers: { "Content-Type": "application/json", Authorization: `Bearer ${session.access}` },
      body: body ? JSON.stringify(body) : undefined });
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text}`);
    return text ? JSON.parse(text) : null;
  }, [method, path, body]);
}

await step("log in", async () => {
  await page.goto(`${base}/`);
  await page.fill('input[name="email"]', required("ADMIN_EMAIL"));
  await page.fill('input[name="password"]', "not the password");
  await page.click('button[type="submit"]');
  await page.getByRole("alert").waitFor(); // a wrong password is refused, in words
  await page.fill('input[name="password"]', required("ADMIN_PASSWORD"));
  await page.click('button[type="submit"]');
  await page.getByRole("heading", { name: /Welcome/ }).waitFor();
  await page.getByTestId("health").getByText("ready").waitFor();
  await shot("overview");
});

await step("the session survives a reload", async () => {
  await page.reload();
  await page.getByRole("heading", { name: /Welcome/ }).waitFor();
});

let agentId;
await step("create an agent, with the API's field error shown at the field first", async () => {
  await go("/agents", "Create agent");
  await page.fill('input[name="name"]', "Ada");
  await page.selectOption('select[name="provider"]', "openai");
  await page.fill('input[name="model"]', "gpt-4o-mini");
  await page.fill('input[name="temperature"]', "7");
  await page.getByRole("button", { name: "Create agent" }).click();
  await page.locator('[data-field-error*="temperature"]').waitFor();
  await page.fill('input[name="temperature"]', "0.3");
  await page.getByRole("button", { name: "Create agent" }).click();
  const link = page.getByTestId("agent-link").filter({ hasText: "Ada" });
  await link.waitFor();
  agentId = (await link.getAttribute("href")).split("/").pop();
  await shot("agents");
});

await step("chat with the agent and watch the answer stream in", async () => {
  await go(`/agents/${agentId}`, "Send");
  await page.fill('textarea[name="message"]', "Hi Ada, how are you?");
  await page.getByRole("button", { name: "Send" }).click();
  // The answer grows word by word before it is recorded.
  const streaming = page.getByTestId("chat-streaming");
  await streaming.waitFor();
  await page.waitForFunction(() => {
    const el = document.querySelector('[data-testid="chat-streaming"]');
    return el && el.textContent && el.textContent.split(/\s+/).filter(Boolean).length >= 2;
  });
  const partial = (await streaming.textContent()) ?? "";
  if (partial.includes("token by token.")) throw new Error("the answer arrived whole, not streamed: " + partial);
  await page.getByTestId("chat-message").filter({ hasText: "Hello from Ada, streamed token by token." }).waitFor();
  await shot("agent-chat");
});

let circleName = "release-crew";
await step("follow a circle conversation live", async () => {
  const bob = await api("POST", "/agents", { name: "Bob", provider: "openai", model: "gpt-4o-mini" });
  await go("/circles", "Create circle");
  await page.fill('input[name="name"]', circleName);
  await page.getByRole("button", { name: "Create circle" }).click();
  await page.getByTestId("circle-link").filter({ hasText: circleName }).click();
  for (const id of [agentId, bob.id]) {
    await page.selectOption('select[name="agent_id"]', id);
    await page.getByRole("button", { name: "Add member" }).click();
    await page.getByText(id === agentId ? "Ada" : "Bob", { exact: true }).first().waitFor();
  }
  await page.getByRole("button", { name: "Start", exact: true }).click();
  await page.waitForFunction(() => document.querySelector('[data-testid="circle-status"]')?.textContent?.includes("running"));
  await page.fill('input[name="topic"]', "The Friday release");
  await page.fill('input[name="max_turns"]', "2");
  for (const box of await page.locator('input[name="participants"]').all()) {
    if (!(await box.isChecked())) await box.check();
  }
  await page.getByRole("button", { name: "Start conversation" }).click();
  await page.waitForURL(/#\/conversations\//);
  await page.getByTestId("turn").nth(1).waitFor({ timeout: 30000 });
  const speakers = await page.getByTestId("turn").evaluateAll((els) => els.map((e) => e.getAttribute("data-speaker")));
  if (speakers.length !== 2 || speakers[0] === speakers[1]) throw new Error(`turns by ${speakers}`);
  await page.getByTestId("turn").filter({ hasText: "we ship on Friday" }).waitFor();
  await page.waitForFunction(() => document.querySelector('[data-testid="conversation-status"]')?.textContent?.trim() !== "running");
  await shot("conversation");
  await go(`/circles/${circleName}`);
  await page.getByText("The Friday release").first().waitFor();
  await shot("circle");
});

await step("remember something and find it by searching memory", async () => {
  await go("/memory", "Remember");
  await page.fill('textarea[name="content"]', "The deploy key rotates every Monday at nine.");
  await page.getByRole("button", { name: "Remember" }).click();
  await page.fill('input[name="query"]', "when does the deploy key rotate");
  // Embedding runs as a job: the item may take a moment to be found.
  for (let i = 0; ; i++) {
    await page.getByRole("button", { name: "Search" }).click();
    try {
      await page.getByTestId("memory-result").filter({ hasText: "deploy key" }).first().waitFor({ timeout: 2000 });
      break;
    } catch (e) {
      if (i >= 10) throw e;
    }
  }
  const score = await page.getByTestId("memory-score").first().textContent();
  if (!/\d\.\d{3}/.test(score ?? "")) throw new Error(`score ${score}`);
  await shot("memory");
});

let pipelineId;
await step("run a pipeline and watch its nodes complete", async () => {
  const p = await api("POST", "/pipelines", {
    name: "greeting",
    nodes: [
      { id: "start", type: "trigger" },
      { id: "shape", type: "transform", config: { mapping: { who: "input.name" } } },
      { id: "greet", type: "transform", config: { template: "Hello {{input.who}}!" } },
    ],
    edges: [{ from: "start", to: "shape" }, { from: "shape", to: "greet" }],
  });
  pipelineId = p.id;
  await go(`/pipelines/${pipelineId}`);
  await page.getByTestId("node-greet").waitFor();
  await shot("pipeline-editor");
  await page.fill('textarea[name="input"]', '{"name": "Ada"}');
  await page.getByRole("button", { name: "Run", exact: true }).click();
  await page.waitForURL(/#\/pipelines\/.+\/runs\//);
  await page.waitForFunction(() => document.querySelector('[data-testid="run-status"]')?.textContent?.trim() === "completed");
  const statuses = await page.getByTestId("run-node").evaluateAll((els) => els.map((e) => e.getAttribute("data-status")));
  if (statuses.length !== 3 || statuses.some((s) => s !== "completed")) throw new Error(`node statuses ${statuses}`);
  await page.getByText("Hello Ada!").first().waitFor();
  await shot("pipeline-run");
});

await step("validation errors show on the node at fault", async () => {
  await go(`/pipelines/${pipelineId}`);
  await page.getByTestId("node-greet").waitFor();
  await page.getByRole("tab", { name: /JSON/ }).or(page.getByRole("button", { name: /JSON/ })).first().click();
  await page.fill('textarea[name="spec-json"]', JSON.stringify({
    name: "greeting",
    nodes: [{ id: "start", type: "trigger" }, { id: "wait", type: "delay", config: { seconds: -1 } }],
    edges: [{ from: "start", to: "wait" }],
  }));
  await page.getByRole("button", { name: "Apply JSON" }).click();
  await page.getByRole("button", { name: "Validate" }).click();
  await page.getByTestId("node-wait").getByTestId("node-error").waitFor();
  await shot("pipeline-validation");
});

await step("schedule an action and see it on the calendar", async () => {
  await go("/schedules", "Create schedule");
  await page.fill('input[name="name"]', "hourly digest");
  await page.selectOption('select[name="type"]', "interval");
  await page.fill('input[name="interval_sec"]', "30");
  await page.selectOption('select[name="action"]', "send_notification");
  await page.fill('textarea[name="action_config"]', '{"url": "https://example.com/hook", "message": "digest"}');
  await page.getByRole("button", { name: "Create schedule" }).click();
  await page.locator('[data-field-error="interval_sec"]').waitFor(); // below the 60 s minimum
  await page.fill('input[name="interval_sec"]', "3600");
  await page.getByRole("button", { name: "Create schedule" }).click();
  await page.getByText("hourly digest").first().waitFor();
  await shot("schedules");
  await go("/calendar");
  await page.getByText("hourly digest").first().waitFor();
  await shot("calendar");
});

await step("explore the event log and verify the audit chain", async () => {
  await go("/events", "Verify audit chain");
  await page.getByTestId("event-row").first().waitFor();
  await page.getByTestId("event-row").first().click();
  await page.getByRole("button", { name: "Verify audit chain" }).click();
  await page.getByTestId("audit-result").getByText(/intact/i).waitFor();
  await shot("events");
});

await step("edit a file in a project's workspace, commit it, and use the terminal", async () => {
  const project = await api("POST", "/projects", { name: "website", display_name: "Website" });
  await page.evaluate(async (id) => {
    const session = JSON.parse(localStorage.getItem("gathering.session") || "{}").state || {};
    const res = await fetch(`/workspace/${id}/file?path=README.md`, { method: "PUT", headers: { Authorization: `Bearer ${session.access}` },
      body: "# Website\n" });
    if (!res.ok) throw new Error(`seed file: ${res.status}`);
  }, project.id);
  await go(`/projects/${project.id}/workspace`);
  await page.locator('[data-testid="ws-tree-item"][data-path="README.md"]').click();
  const editor = page.getByTestId("ws-editor");
  await editor.getByText("# Website").first().waitFor();
  await editor.locator(".monaco-editor textarea").first().focus();
  await page.keyboard.press("Control+End");
  await page.keyboard.type("Built by agents.");
  await page.getByTestId("ws-save").click();
  await page.waitForFunction(async (id) => {
    const session = JSON.parse(localStorage.getItem("gathering.session") || "{}").state || {};
    const res = await fetch(`/workspace/${id}/file?path=README.md`, { headers: { Authorization: `Bearer ${session.access}` } });
    return (await res.json()).content.includes("Built by agents.");
  }, project.id);
  await page.getByRole("button", { name: /Initialize repository/i }).click();
  await page.locator('[data-testid="ws-git-file"][data-path="README.md"]').first().waitFor();
  await page.getByRole("button", { name: /^Stage all$|^Stage$/ }).first().click();
  await page.locator('textarea[name="commit_message"], input[name="commit_message"]').first().fill("First page");
  await page.getByTestId("ws-commit").click();
  await page.getByText("First page").first().waitFor();
  await page.getByRole("button", { name: /Open terminal/i }).click();
  const terminal = page.getByTestId("ws-terminal");
  await page.getByText("connected", { exact: true }).waitFor(); // the shell is up before we type
  await terminal.locator(".xterm").first().waitFor();
  await terminal.locator(".xterm").first().click();
  await page.keyboard.type("echo hi-$((6*7))\n");
  await page.waitForFunction(() => document.querySelector('[data-testid="ws-terminal"]')?.textContent?.includes("hi-42"));
  await shot("workspace");
});

await step("the console works at phone width", async () => {
  await page.setViewportSize({ width: 390, height: 844 });
  await go("/");
  await page.getByRole("heading", { name: /Welcome/ }).waitFor();
  await page.getByRole("button", { name: "Menu" }).click();
  await page.locator("nav").getByRole("link", { name: "Pipelines" }).click();
  await page.getByText("greeting").first().waitFor();
  await shot("phone-pipelines");
  await page.setViewportSize({ width: 1280, height: 860 });
});

await step("log out", async () => {
  await go("/");
  await page.getByRole("button", { name: "Log out" }).click();
  await page.locator('input[name="email"]').waitFor();
  await page.reload();
  await page.locator('input[name="email"]').waitFor();
});

await browser.close();
console.log(`all ${n} steps passed`);
