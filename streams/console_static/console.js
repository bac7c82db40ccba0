// Redwall dispatcher console: SVG for the 71 grids (drawn once), one canvas for thousands of moving
// dots (redrawn at most a few times a second), a snapshot at start and live batches over SSE.
"use strict";

const token = new URLSearchParams(location.search).get("token") || "";
const auth = { Authorization: "Bearer " + token };
const LEVEL_COLOUR = { grid: "#29b6f6", community: "#ffca28", street: "#e53935", district: "#ab47bc" };
const PATROL_COLOUR = { on_post: "#43a047", off_post: "#fb8c00", offline: "#9e9e9e" };
const OTHER_COLOUR = "#42a5f5";
const LEVEL_ZH = { grid: "网格", community: "社区", street: "街道", district: "越级" };
const FEED_MAX = 200, INCIDENT_ROWS = 100, FRAME_MS = 250;

const state = { alerts: [], incidents: new Map(), patrol: new Map(), positions: new Map(), role: "read" };
let geo, view, filter = "", search = "", dirty = { overlay: true, feed: true, incidents: true }, frame = null;
const gridCentre = new Map(), gridCommunity = new Map();
const $ = (id) => document.getElementById(id);

async function api(path, options = {}) {
  const response = await fetch(path, { ...options, headers: { ...auth, ...(options.headers || {}) } });
  if (!response.ok) throw new Error(`${path}: HTTP ${response.status}`);
  return response.json();
}

// Equirectangular, with longitude scaled by cos(latitude): true enough over 4 km of a street.
function projection(areas) {
  let minX = Infinity, minY = Infinity, maxX = -Infinity, maxY = -Infinity;
  for (const area of areas) for (const ring of area.rings) for (const [x, y] of ring) {
    minX = Math.min(minX, x); maxX = Math.max(maxX, x); minY = Math.min(minY, y); maxY = Math.max(maxY, y);
  }
  const k = Math.cos(((minY + maxY) / 2) * Math.PI / 180);
  return { minX, maxY, k, w: (maxX - minX) * k, h: maxY - minY };
}
const px = (p, lng) => (lng - p.minX) * p.k;
const py = (p, lat) => p.maxY - lat;

function drawAreas() {
  const svg = $("areas"), p = view;
  svg.setAttribute("viewBox", `0 0 ${p.w} ${p.h}`);
  svg.setAttribute("preserveAspectRatio", "xMidYMid meet");
  const d = (area) => area.rings.map((ring) => "M" + ring.map(([x, y]) => `${px(p, x)},${py(p, y)}`).join("L") + "Z").join("");
  const parts = [];
  for (const g of geo.grids) {
    parts.push(`<path class="grid" data-grid="${g.id}" data-community="${g.parent}" d="${d(g)}"><title>${g.name} ${g.id}</title></path>`);
    const ring = g.rings[0];
    const cx = ring.reduce((s, [x]) => s + x, 0) / ring.length, cy = ring.reduce((s, [, y]) => s + y, 0) / ring.length;
    gridCentre.set(g.id, [cx, cy]);
    gridCommunity.set(g.id, g.parent);
  }
  for (const c of geo.communities) parts.push(`<path class="community" data-community="${c.id}" d="${d(c)}"></path>`);
  svg.innerHTML = parts.join("");
  svg.addEventListener("click", (e) => {
    const community = e.target.dataset && e.target.dataset.community;
    if (community) setFilter(filter === community ? "" : community);
  });
}

function setFilter(community) {
  filter = community;
  $("community").value = community;
  for (const path of $("areas").querySelectorAll("path")) path.classList.toggle("dim", !!filter && path.dataset.community !== filter);
  dirty = { overlay: true, feed: true, incidents: true };
  schedule();
}

// The SVG keeps its aspect ratio inside the box; the canvas must use the very same fit.
function fit(canvas) {
  const box = $("map").getBoundingClientRect(), ratio = window.devicePixelRatio || 1;
  canvas.width = box.width * ratio; canvas.height = box.height * ratio;
  const scale = Math.min(box.width / view.w, box.height / view.h);
  return { ratio, scale, ox: (box.width - view.w * scale) / 2, oy: (box.height - view.h * scale) / 2 };
}

function drawOverlay() {
  const canvas = $("overlay"), f = fit(canvas), ctx = canvas.getContext("2d");
  ctx.setTransform(f.ratio, 0, 0, f.ratio, 0, 0);
  const X = (lng) => f.ox + px(view, lng) * f.scale, Y = (lat) => f.oy + py(view, lat) * f.scale;
  // One path per colour: 2,000 dots cost four fills, not 2,000.
  const byColour = new Map();
  for (const [device, [lat, lng, community]] of state.positions) {
    if (filter && community !== filter) continue;
    const colour = PATROL_COLOUR[state.patrol.get(device)] || OTHER_COLOUR;
    if (!byColour.has(colour)) byColour.set(colour, []);
    byColour.get(colour).push(X(lng), Y(lat));
  }
  for (const [colour, xy] of byColour) {
    ctx.fillStyle = colour; ctx.beginPath();
    for (let i = 0; i < xy.length; i += 2) ctx.rect(xy[i] - 2, xy[i + 1] - 2, 4, 4);
    ctx.fill();
  }
  const now = Date.now();
  for (const incident of state.incidents.values()) {
    if (filter && incident.community !== filter) continue;
    const centre = gridCentre.get(incident.grid);
    if (!centre) continue;
    const jitter = hash(incident.id), x = X(centre[0]) + (jitter % 17) - 8, y = Y(centre[1]) + ((jitter >> 5) % 17) - 8;
    ctx.beginPath(); ctx.arc(x, y, 5, 0, 2 * Math.PI);
    ctx.fillStyle = LEVEL_COLOUR[incident.level] || "#fff"; ctx.fill();
    const used = ageFraction(incident, now);
    ctx.beginPath(); ctx.arc(x, y, 8, -Math.PI / 2, -Math.PI / 2 + 2 * Math.PI * Math.min(used, 1));
    ctx.strokeStyle = used >= 1 ? "#ff1744" : "#ffffffaa"; ctx.lineWidth = 2; ctx.stroke();
  }
}

function hash(text) {
  let h = 0;
  for (let i = 0; i < text.length; i++) h = (h * 31 + text.charCodeAt(i)) >>> 0;
  return h;
}

// Age against the deadline that binds now: acknowledge-by until acknowledged, then resolve-by.
function deadline(incident) {
  return incident.status === "assigned" ? incident.ack_by || incident.resolve_by : incident.resolve_by;
}
function ageFraction(incident, now) {
  const opened = Date.parse(incident.opened_at), due = Date.parse(deadline(incident));
  if (!opened || !due || due <= opened) return 0;
  return (now - opened) / (due - opened);
}
const minutes = (ms) => (ms < 0 ? "-" : "") + Math.round(Math.abs(ms) / 60000) + "m";
const escape = (s) => String(s ?? "").replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" }[c]));

// The console and the worker check this again; here it only greys out what would be refused.
const mayAct = (i) => state.role === "street" || (state.role === "community" && i.community === state.community);

function renderIncidents() {
  const now = Date.now();
  const shown = [...state.incidents.values()].filter((i) => (!filter || i.community === filter)
    && (!search || `${i.id} ${i.grid} ${i.category}`.includes(search)));
  shown.sort((a, b) => ageFraction(b, now) - ageFraction(a, now));
  $("incidents").innerHTML = shown.slice(0, INCIDENT_ROWS).map((i) => {
    const canAct = mayAct(i) ? "" : " disabled";
    const used = ageFraction(i, now), due = deadline(i);
    const cls = used >= 1 ? "over" : used >= 0.75 ? "late" : "";
    return `<li class="level-${i.level}" data-incident="${escape(i.id)}" data-status="${escape(i.status)}">
      <b>${escape(LEVEL_ZH[i.level] || i.level)}</b> ${escape(i.category)} · ${escape(i.grid)} <span class="status">${escape(i.status)}</span>
      <div class="bar"><span class="${cls}" style="width:${Math.min(100, used * 100).toFixed(0)}%"></span></div>
      <div class="meta">${escape(i.id)} · age ${minutes(now - Date.parse(i.opened_at))}${due ? " / deadline " + minutes(Date.parse(due) - Date.parse(i.opened_at)) : ""}</div>
      <button data-action="ack"${canAct}>确认 Ack</button><button data-action="resolve"${canAct}>办结 Resolve</button><button data-action="request_escalation"${canAct}>上报 Escalate</button>
    </li>`;
  }).join("");
  $("incident-count").textContent = shown.length > INCIDENT_ROWS ? `${INCIDENT_ROWS} of ${shown.length}` : String(shown.length);
}

function renderFeed() {
  const shown = state.alerts.filter((a) => !filter || a.community === filter).slice(0, 100);
  $("feed").innerHTML = shown.map((a) => `<li data-id="${escape(a.id)}" class="${a._new ? "new" : ""}">
      <span class="prio-${escape(a.priority)}">${escape(a.title.zh)}</span> <span class="meta">${escape(a.title.en)}</span>
      <div class="meta">${escape(LEVEL_ZH[a.level] || a.level)} · ${escape(a.community || "")} ${escape(a.grid || "")} · ${escape(a.kind)} · ${escape(a.status)} · ${new Date(a.event_time).toLocaleTimeString()}</div>
    </li>`).join("");
  for (const a of state.alerts) delete a._new;
  $("alert-count").textContent = String(shown.length);
}

const stats = (window.redwallStats = { frames: 0, lastMs: 0, maxMs: 0 }); // read by the browser tests

function render() {
  frame = null;
  const started = performance.now();
  if (dirty.overlay) drawOverlay();
  if (dirty.incidents) renderIncidents();
  if (dirty.feed) renderFeed();
  dirty = { overlay: false, feed: false, incidents: false };
  $("counts").textContent = `${state.positions.size} devices · ${state.incidents.size} open`;
  stats.frames += 1; stats.lastMs = performance.now() - started; stats.maxMs = Math.max(stats.maxMs, stats.lastMs);
}

// Batches arrive four times a second at most; drawing is capped at one frame per FRAME_MS.
function schedule() {
  if (frame === null) frame = setTimeout(() => requestAnimationFrame(render), FRAME_MS);
}

function apply(batch, fresh) {
  for (const alert of (batch.alerts || []).slice().reverse()) {
    alert._new = fresh;
    state.alerts.unshift(alert);
  }
  state.alerts.length = Math.min(state.alerts.length, FEED_MAX);
  const incidents = Array.isArray(batch.incidents) ? batch.incidents : Object.values(batch.incidents || {});
  for (const i of incidents) {
    if (i.status === "resolved" || i.status === "closed") state.incidents.delete(i.id);
    else state.incidents.set(i.id, i);
  }
  for (const [device, status] of Object.entries(batch.patrol || {})) state.patrol.set(device, status);
  for (const [device, position] of Object.entries(batch.positions || {})) state.positions.set(device, position);
  dirty.feed ||= (batch.alerts || []).length > 0;
  dirty.incidents ||= incidents.length > 0;
  dirty.overlay = true;
  schedule();
}

function connect() {
  const events = new EventSource("/api/events?token=" + encodeURIComponent(token));
  let opened = false;
  events.addEventListener("hello", async () => {
    $("link").textContent = "live 实时"; $("link").classList.add("live");
    if (opened) { // a reconnect: what happened meanwhile comes with a fresh snapshot
      state.alerts = []; state.incidents.clear();
      apply(await api("/api/snapshot"), false);
    }
    opened = true;
  });
  events.onmessage = (e) => apply(JSON.parse(e.data), true);
  events.onerror = () => { $("link").textContent = "reconnecting…"; $("link").classList.remove("live"); };
}

async function act(button) {
  const row = button.closest("li"), incident = row.dataset.incident, action = button.dataset.action;
  button.disabled = true;
  try {
    const answer = await api(`/api/incidents/${encodeURIComponent(incident)}/actions`, {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ action }),
    });
    toast(`${action} ${incident}: accepted, waiting for the engine (${answer.accepted || "queued"})`);
  } catch (error) {
    toast(`${action} ${incident} failed: ${error.message}`);
    button.disabled = false;
  }
}

function toast(text) {
  const t = $("toast");
  t.textContent = text; t.style.display = "block";
  clearTimeout(t.timer); t.timer = setTimeout(() => (t.style.display = "none"), 4000);
}

const ROLE_ZH = { street: "街道调度 street dispatcher", community: "社区调度 community dispatcher", read: "只读 read-only" };

async function boot() {
  const [geometry, snapshot] = await Promise.all([api("/api/geometry"), api("/api/snapshot")]);
  geo = geometry; view = projection(geo.grids); state.role = snapshot.role; state.community = snapshot.community;
  $("role").textContent = `${ROLE_ZH[snapshot.role]} ${snapshot.dispatcher}${snapshot.community ? " · " + snapshot.community : ""}`;
  for (const c of geo.communities) $("community").insertAdjacentHTML("beforeend", `<option value="${c.id}">${escape(c.name)} ${c.id}</option>`);
  $("community").addEventListener("change", (e) => setFilter(e.target.value));
  $("search").addEventListener("input", (e) => { search = e.target.value.trim(); dirty.incidents = true; schedule(); });
  $("incidents").addEventListener("click", (e) => { if (e.target.dataset.action) act(e.target); });
  drawAreas();
  if (state.community) setFilter(state.community);  // a community dispatcher starts on its own community
  apply(snapshot, false);
  connect();
  window.addEventListener("resize", () => { dirty.overlay = true; schedule(); });
  setInterval(() => { dirty.incidents = dirty.overlay = true; schedule(); }, 5000); // ages move on
  document.body.dataset.ready = "1";
}

boot().catch((error) => { $("link").textContent = "error: " + error.message; });
