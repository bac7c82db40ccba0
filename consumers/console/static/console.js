// Redwall dispatcher console: a snapshot at start, read again once the live stream (SSE) is open, and live
// batches over it (the session cookie authenticates both), drawn at most once per FRAME_MS. The alert feed
// sits on the first screen.
"use strict";

import { $, api, call, escape, localMinute, name, placeName, setZone, state, view } from "./core.js";
import { incidentChanged, openDetail, renderDetail, setupDetail } from "./detail.js";
import { renderOrders, setupHotline } from "./hotline.js";
import { setupReports } from "./reports.js";
import { openCourtyard, setupPresence } from "./presence.js";
import { renderTasks, setupTasks } from "./tasks.js";
import { setupPatrol } from "./patrol.js";
import { renderIncidents, setupIncidentList } from "./incidents.js";
import { setCalendar } from "./worktime.js";
import { dimAreas, drawAreas, drawLegend, drawOverlay, screenPoint } from "./map.js";

const FEED_MAX = 200, FEED_ROWS = 100, FRAME_MS = 250;
let dirty = { overlay: true, feed: true, incidents: true }, frame = null;

function setFilter(community) {
  view.filter = community; view.page = 0;
  $("community").value = community;
  dimAreas();
  dirty = { overlay: true, feed: true, incidents: true };
  schedule();
}

function renderFeed() {
  const shown = state.alerts.filter((a) => !view.filter || a.community === view.filter).slice(0, FEED_ROWS);
  $("feed").innerHTML = shown.map((a) => `<li data-id="${escape(a.id)}" class="${a._new ? "new" : ""}">
      <span class="prio-${escape(a.priority)}">${escape(a.title.zh)}</span> <span class="meta">${escape(a.title.en)}</span>
      <div class="meta">${localMinute(a.event_time)} · ${escape(name("alert_kind", a.kind))}
        · ${escape(name("alert_status", a.status))} · ${escape(name("level", a.level))}
        · ${escape(placeName(a.community, a.grid))}</div>
    </li>`).join("");
  for (const a of state.alerts) delete a._new;
  $("alert-count").textContent = String(shown.length);
}

const stats = (window.redwallStats = { frames: 0, lastMs: 0, maxMs: 0 }); // read by the browser tests
window.redwall = { drawOverlay, renderIncidents, renderFeed, renderOrders, screenPoint }; // for the browser tests

function render() {
  frame = null;
  const started = performance.now();
  if (dirty.overlay) drawOverlay();
  if (dirty.incidents) { renderIncidents(); renderDetail(); renderOrders(); renderTasks(); } // their clocks move on too
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
    incidentChanged(i);
  }
  for (const [device, status] of Object.entries(batch.patrol || {})) state.patrol.set(device, status);
  for (const [device, position] of Object.entries(batch.positions || {})) state.positions.set(device, position);
  dirty.feed ||= (batch.alerts || []).length > 0;
  dirty.incidents ||= incidents.length > 0;
  dirty.overlay = true;
  schedule();
}

// The cookie goes with the stream: no token in its URL. A stream the console refuses (session over,
// dispatcher revoked) is not retried by the browser; one snapshot call then says whether to sign in again.
// Each time the stream opens (the first time too) the snapshot is read again: boot's was read before the
// stream was subscribed, and an incident opened in between would come in no batch (out of the list until
// it changed again). Batches that arrive while that snapshot loads are held and applied after it, in order:
// each carries what changed after the stream opened, so the newest state wins.
function connect() {
  const events = new EventSource("/api/events");
  let held = null; // batches waiting for the snapshot being read, or null
  events.addEventListener("hello", async () => {
    $("link").textContent = "live 实时"; $("link").classList.add("live");
    held = [];
    try {
      const snapshot = await api("/api/snapshot");
      state.alerts = []; state.incidents.clear();
      apply(snapshot, false);
    } finally {
      // An alert sent while the snapshot was read may be in both: listed once.
      const listed = new Set(state.alerts.map((a) => `${a.id} ${a.status}`));
      for (const batch of held) {
        apply({ ...batch, alerts: (batch.alerts || []).filter((a) => !listed.has(`${a.id} ${a.status}`)) }, true);
      }
      held = null;
    }
  });
  events.onmessage = (e) => {
    const batch = JSON.parse(e.data);
    if (held) held.push(batch);
    else apply(batch, true);
  };
  events.onerror = async () => {
    $("link").textContent = "reconnecting…"; $("link").classList.remove("live");
    if (events.readyState !== EventSource.CLOSED) return;
    const answer = await call("/api/snapshot"); // a 401 goes to the sign-in form
    if (answer.ok) setTimeout(connect, 1000);
  };
}

async function signOut() {
  await call("/signout", { method: "POST" });
  location.assign("/signin");
}

async function boot() {
  const [labels, geometry, snapshot, calendar] = await Promise.all(
    [api("/api/names"), api("/api/geometry"), api("/api/snapshot"), api("/api/calendar")]);
  state.names = labels.names; setZone(labels.timezone); setCalendar(calendar);
  state.geo = geometry;
  for (const c of geometry.communities) state.communities.set(c.id, c);
  for (const g of geometry.grids) state.grids.set(g.id, g);
  Object.assign(state, { role: snapshot.role, dispatcher: snapshot.dispatcher, community: snapshot.community,
    csrf: snapshot.csrf, actions: snapshot.actions || [] });
  const own = snapshot.community ? ` · ${placeName(snapshot.community)}` : "";
  $("role").textContent = `${name("role", snapshot.role)} ${snapshot.role} · ${snapshot.dispatcher}${own}`;
  // In a district the communities come grouped under their streets.
  const option = (c) => `<option value="${escape(c.id)}">${escape(c.name)} ${escape(c.id)}</option>`;
  const streets = geometry.streets || [];
  $("community").insertAdjacentHTML("beforeend", streets.length > 1
    ? streets.map((s) => `<optgroup label="${escape(s.name)}">${
      geometry.communities.filter((c) => c.parent === s.id).map(option).join("")}</optgroup>`).join("")
    : geometry.communities.map(option).join(""));
  $("community").addEventListener("change", (e) => setFilter(e.target.value));
  $("search").addEventListener("input", (e) => {
    view.search = e.target.value.trim(); view.page = 0; dirty.incidents = true; schedule();
  });
  $("signout").addEventListener("click", signOut);
  const open = (id) => { openDetail(id); dirty.incidents = dirty.overlay = true; schedule(); };
  setupIncidentList(open, () => { dirty.incidents = true; schedule(); });
  setupDetail(() => { dirty.incidents = dirty.overlay = true; schedule(); });
  setupHotline(open);
  setupReports();
  setupTasks();
  setupPatrol();
  setupPresence();
  drawAreas(setFilter, openCourtyard);
  drawLegend();
  if (state.community) setFilter(state.community); // a community dispatcher starts on its own community
  apply(snapshot, false);
  connect();
  window.addEventListener("resize", () => { dirty.overlay = true; schedule(); });
  setInterval(() => { dirty.incidents = dirty.overlay = true; schedule(); }, 5000); // deadlines come nearer
  document.body.dataset.ready = "1";
}

boot().catch((error) => { $("link").textContent = "error: " + error.message; });
