// A small console on the real API: agents from the read model, events from the live feed.
// It resumes the feed from the last position it saw, so a dropped connection loses nothing.
const $ = (id) => document.getElementById(id);
let lastPosition = null;

async function api(method, path, body) {
  const res = await fetch(path, {
    method, headers: body ? { "Content-Type": "application/json" } : {},
    body: body ? JSON.stringify(body) : undefined,
  });
  const data = res.status === 204 ? null : await res.json();
  if (!res.ok) throw Object.assign(new Error(data.error.message), { detail: data.error });
  return data;
}

async function loadAgents() {
  try {
    const page = await api("GET", "/agents?limit=200");
    const rows = page.items.map((a) => `<tr><td>${esc(a.name)}</td><td>${esc(a.role)}</td><td>${esc(a.provider)}</td>
      <td>${esc(a.model)}</td><td>${a.version}</td><td><button data-id="${a.id}" data-version="${a.version}">Delete</button></td></tr>`);
    $("agents").innerHTML = rows.join("") || `<tr><td colspan="6" class="muted">No agents yet.</td></tr>`;
  } catch (e) {
    $("agents").innerHTML = `<tr><td colspan="6" class="error">${esc(e.message)}</td></tr>`;
  }
}

$("agents").addEventListener("click", async (ev) => {
  const id = ev.target.dataset.id;
  if (!id) return;
  await fetch(`/agents/${id}`, { method: "DELETE", headers: { "If-Match": `"${ev.target.dataset.version}"` } });
  loadAgents();
});

$("create-agent").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const f = new FormData(ev.target);
  const body = { name: f.get("name"), provider: f.get("provider") };
  if (f.get("role")) body.role = f.get("role");
  try {
    await api("POST", "/agents", body);
    $("create-error").textContent = "";
    ev.target.reset();
    loadAgents();
  } catch (e) {
    $("create-error").textContent = e.detail && e.detail.field ? `${e.detail.field}: ${e.message}` : e.message;
  }
});

function connectFeed() {
  const proto = location.protocol === "https:" ? "wss" : "ws";
  const after = lastPosition === null ? "" : `&after=${lastPosition}`;
  const ws = new WebSocket(`${proto}://${location.host}/ws?topics=all${after}`);
  ws.onopen = () => { $("feed-state").textContent = "live"; };
  ws.onmessage = (m) => {
    const msg = JSON.parse(m.data);
    if (msg.position === undefined) return;
    lastPosition = msg.position;
    const li = document.createElement("li");
    li.textContent = `#${msg.position} ${msg.timestamp} ${msg.type} ${msg.stream.id} ${JSON.stringify(msg.data)}`;
    $("events").prepend(li);
    if (msg.type.startsWith("agent.")) loadAgents();
  };
  ws.onclose = () => { $("feed-state").textContent = "reconnecting…"; setTimeout(connectFeed, 1000); };
}

async function health() {
  const res = await fetch("/health/ready").catch(() => null);
  $("health").textContent = res && res.ok ? "ready" : "not ready";
  $("health").className = "pill " + (res && res.ok ? "ok" : "bad");
}

function esc(s) { return String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`); }

loadAgents(); connectFeed(); health(); setInterval(health, 5000);
