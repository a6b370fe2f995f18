// A small console on the real API: log in, then agents from the read model and events from the
// live feed. The session survives a reload (tokens in localStorage), an expired access token is
// refreshed once, and the feed resumes from the last position it saw, so nothing is missed.
const $ = (id) => document.getElementById(id);
let lastPosition = null;
let feed = null;

const session = {
  get access() { return localStorage.getItem("access_token"); },
  get refresh() { return localStorage.getItem("refresh_token"); },
  save(t) {
    localStorage.setItem("access_token", t.access_token);
    localStorage.setItem("refresh_token", t.refresh_token);
    localStorage.setItem("user", JSON.stringify(t.user));
  },
  clear() { ["access_token", "refresh_token", "user"].forEach((k) => localStorage.removeItem(k)); },
  get user() { return JSON.parse(localStorage.getItem("user") || "null"); },
};

async function refreshTokens() {
  if (!session.refresh) return false;
  const res = await fetch("/auth/refresh", { method: "POST", headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ refresh_token: session.refresh }) });
  if (!res.ok) return false;
  session.save(await res.json());
  return true;
}

async function api(method, path, body, headers = {}, retried = false) {
  const res = await fetch(path, {
    method, body: body ? JSON.stringify(body) : undefined,
    headers: { ...(body ? { "Content-Type": "application/json" } : {}), Authorization: `Bearer ${session.access}`, ...headers },
  });
  if (res.status === 401 && !retried && await refreshTokens()) return api(method, path, body, headers, true);
  if (res.status === 401) { showLogin(); throw new Error("Your session ended; log in again."); }
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
  try { await api("DELETE", `/agents/${id}`, null, { "If-Match": `"${ev.target.dataset.version}"` }); } catch (e) { alert(e.message); }
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

$("login").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const f = new FormData(ev.target);
  const res = await fetch("/auth/login", { method: "POST", headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ email: f.get("email"), password: f.get("password") }) });
  const data = await res.json();
  if (!res.ok) { $("login-error").textContent = data.error.message; return; }
  session.save(data);
  ev.target.reset();
  $("login-error").textContent = "";
  showApp();
});

$("logout").addEventListener("click", async () => {
  await fetch("/auth/logout", { method: "POST", headers: { Authorization: `Bearer ${session.access}` } }).catch(() => {});
  session.clear();
  showLogin();
});

function connectFeed() {
  if (!session.access) return;
  const proto = location.protocol === "https:" ? "wss" : "ws";
  const after = lastPosition === null ? "" : `&after=${lastPosition}`;
  const topics = session.user && session.user.role === "admin" ? "all" : "";
  if (!topics) { $("feed-state").textContent = "the live log is for admins"; return; }
  // Browsers cannot set headers on an upgrade: the token travels as a subprotocol.
  feed = new WebSocket(`${proto}://${location.host}/ws?topics=${topics}${after}`, ["gathering.bearer", session.access]);
  feed.onopen = () => { $("feed-state").textContent = "live"; };
  feed.onmessage = (m) => {
    const msg = JSON.parse(m.data);
    if (msg.position === undefined) return;
    lastPosition = msg.position;
    const li = document.createElement("li");
    li.textContent = `#${msg.position} ${msg.timestamp} ${msg.type} ${msg.stream.id} ${JSON.stringify(msg.data)}`;
    $("events").prepend(li);
    if (msg.type.startsWith("agent.")) loadAgents();
  };
  feed.onclose = async () => {
    feed = null;
    if (!session.access) return;
    $("feed-state").textContent = "reconnecting…";
    await refreshTokens();
    setTimeout(connectFeed, 1000);
  };
}

async function health() {
  const res = await fetch("/health/ready").catch(() => null);
  $("health").textContent = res && res.ok ? "ready" : "not ready";
  $("health").className = "pill " + (res && res.ok ? "ok" : "bad");
}

function showLogin() {
  if (feed) { const f = feed; feed = null; f.onclose = null; f.close(); }
  $("app-view").hidden = true; $("logout").hidden = true; $("login-view").hidden = false; $("who").textContent = "";
}

function showApp() {
  $("login-view").hidden = true; $("app-view").hidden = false; $("logout").hidden = false;
  $("who").textContent = session.user ? `${session.user.email} (${session.user.role})` : "";
  loadAgents(); connectFeed();
}

function esc(s) { return String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`); }

health(); setInterval(health, 5000);
if (session.access) showApp(); else showLogin();
