// One incident opened: what it is (reports' text, photos, reporter, times), its deadlines, its history
// (who did what, when), the actions the dispatcher may take, and the engine's verdict on them. It stays
// open after an action, whatever becomes of the incident's row, so nothing drops out of view.
"use strict";

import { isStopped, left, leftStopped, pauseLine } from "./clocks.js";
import { $, call, escape, localMinute, mayAct, name, placeName, span, state, view } from "./core.js";
import { urgency } from "./incidents.js";
import { openIncidentTask } from "./presence.js";
import { requestsPart, timeControls } from "./requests.js";
import { limitOf, limitText } from "./worktime.js";

const UNLOCATED = "unlocated";
// seen: the newest summary of the open incident from the feed, kept when a closed one leaves the list.
let loaded = null, pending = null, verdict = null, refetch = null, seen = null;

export async function openDetail(id) {
  if (view.detail !== id) { verdict = null; pending = null; seen = state.incidents.get(id) || null; }
  view.detail = id;
  $("detail").hidden = false;
  const response = await call(`/api/incidents/${encodeURIComponent(id)}`);
  const body = await response.json().catch(() => ({}));
  if (view.detail !== id) return; // another incident was opened meanwhile
  loaded = response.ok ? body : { error: reasons(body) || `HTTP ${response.status}` };
  renderDetail();
}

export function closeDetail() {
  view.detail = null; loaded = null; $("detail").hidden = true;
}

// A live change of the open incident: read it again (at most once a second), and settle a pending verdict.
export function incidentChanged(summary) {
  if (summary.id !== view.detail) return;
  seen = summary;
  settle();
  clearTimeout(refetch);
  refetch = setTimeout(() => view.detail && openDetail(view.detail), 1000);
}

// A verdict still pending (202) is settled by the engine's event for that very action.
function settle() {
  if (pending && seen && seen.action === pending) {
    const summary = seen;
    verdict = summary.last === "action_rejected"
      ? { cls: "refused", text: `✘ 被拒绝 refused：${summary.reason}` }
      : { cls: "done", text: `✔ 已办理 done：${name("incident_event", summary.last)}` };
    pending = null;
  }
}

const reasons = (body) => (body.errors || []).map((e) => `${e.field}: ${e.reason}`).join("; ") || body.error || "";

function verdictOf(status, body) {
  if (status === 200) return { cls: "done", text: `✔ 已办理 done：${name("incident_event", body.verdict)}` };
  if (status === 202) return { cls: "pending", text: "… 已提交，等待引擎答复 pending" };
  if (status === 409) return { cls: "refused", text: `✘ 被拒绝 refused：${reasons(body)}` };
  if (status === 404) return { cls: "refused", text: `✘ 引擎不知道此事件 unknown incident：${reasons(body)}` };
  return { cls: "refused", text: `✘ 未执行 not done (HTTP ${status})：${reasons(body)}` };
}

async function act(id, action, extra = {}) {
  verdict = { cls: "pending", text: "… 发送中 sending" };
  renderDetail();
  const response = await call(`/api/incidents/${encodeURIComponent(id)}/actions`, {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ action, ...extra }),
  });
  const body = await response.json().catch(() => ({}));
  verdict = verdictOf(response.status, body);
  pending = response.status === 202 ? body.accepted || body.action : null;
  settle(); // the event may have come back through the feed before the answer did
  if (view.detail === id) openDetail(id); else renderDetail();
}

function actionLabels() {
  return { ack: `${name("incident_event", "acknowledged")} Ack`, resolve: `${name("incident_event", "resolved")} Resolve`,
           request_escalation: `请求${name("incident_event", "escalated")} Escalate` };
}

// Redrawn with the list; not while the dispatcher picks or types (a redraw would lose it).
export function renderDetail() {
  const typing = document.activeElement && $("detail").contains(document.activeElement)
    && /^(INPUT|SELECT)$/.test(document.activeElement.tagName);
  if (!view.detail || !loaded || typing) return;
  const id = view.detail, live = state.incidents.get(id) || loaded.live || {}, row = loaded.incident || {};
  const i = { ...row, community: row.community_id || live.community, grid: row.grid_id || live.grid, ...live };
  const parts = [`<header><b>${escape(name("level", i.level))}</b> ${escape(name("category", i.category))} ·
      ${escape(placeName(i.community, i.grid))}${courtyardOf(row.courtyard_id)} <button type="button" class="close" aria-label="close">×</button></header>
    <p class="meta">${escape(id)} · ${escape(name("incident_status", i.status))} · ${escape(name("severity", i.severity))}
      · ${escape(name("priority", i.priority))}</p>`];
  if (loaded.error) parts.push(`<p class="refused">${escape(loaded.error)}</p>`);
  parts.push(deadlines(i), actions(i), taskButton(i), requestsPart(i, mayAct(i)));
  if (verdict) parts.push(`<p class="verdict ${verdict.cls}" role="status">${escape(verdict.text)}</p>`);
  parts.push(reports(loaded.reports || [], i), history(loaded.events || []));
  const chosen = $("place-owner") && $("place-owner").value; // a redraw keeps the place being picked
  $("detail").innerHTML = parts.join("");
  $("detail").dataset.incident = id;
  if (chosen && $("place-owner")) $("place-owner").value = chosen;
}

function deadlines(i) {
  const now = Date.now(), u = urgency(i, now), missed = i.missed || {};
  const limit = (kind) => (limitOf(i, kind) ? ` <span class="meta">（${escape(limitText(limitOf(i, kind)))}）</span>` : "");
  const line = (kind, at) => {
    if (isStopped(i)) return `<li>${escape(name("deadline", kind))}${limit(kind)} ${leftStopped(i, kind)}</li>`;
    if (!at) return "";
    const t = Date.parse(at), late = u.over && u.over.kind === kind;
    const state_ = late ? `<span class="mark">${escape(name("incident_event", "deadline_missed"))} ${span(now - t)}</span>`
      : t > now && (kind === "resolve" || i.status === "assigned") ? left(i, kind, t, now) : "";
    const chased = missed[kind] ? ` · 已督办 chased ${localMinute(missed[kind])}` : "";
    return `<li>${escape(name("deadline", kind))}${limit(kind)} ${localMinute(at)} ${state_}${chased}</li>`;
  };
  return `<h3>时限 Deadlines</h3><ul class="deadlines">
    <li>${escape(name("incident_event", "opened"))} ${localMinute(i.opened_at)}</li>
    ${i.pause ? `<li class="pause">${pauseLine(i)}</li>` : ""}
    ${i.status === "assigned" ? line("acknowledge", i.ack_by) : ""}${line("resolve", i.resolve_by)}</ul>`;
}

function actions(i) {
  if (i.status !== "assigned" && i.status !== "acknowledged") return "";
  if (!mayAct(i)) return `<p class="meta">${escape(name("role", state.role))}：不可操作 this role may not act here</p>`;
  const labels = actionLabels();
  if (i.status !== "assigned") delete labels.ack;
  if (i.community === UNLOCATED) delete labels.request_escalation; // already the street's
  for (const action of Object.keys(labels)) if (!state.actions.includes(action)) delete labels[action];
  const place = i.community === UNLOCATED && state.actions.includes("reassign") ? placeControl() : "";
  return `${place}<div class="actions">${Object.entries(labels).map(
    ([action, label]) => `<button type="button" data-action="${action}">${escape(label)}</button>`).join("")}</div>
    ${timeControls(i)}`;
}

// A worker sent to the incident's point (its newest report's): the form opens over the map, where the
// detail's redraws cannot wipe it.
function taskButton(i) {
  const first = (loaded.reports || [])[0];
  if (!first || !mayAct(i) || state.role === "read") return "";
  return `<div class="actions"><button type="button" data-action="task">派发任务 Assign a task</button></div>`;
}

// An unlocated incident is placed in a community or one of its grids (reassign with owner); the engine then
// closes it here and opens it there.
function placeControl() {
  const options = state.geo.communities.map((c) => [`<option value="${escape(c.id)}">${escape(c.name)} ${escape(c.id)}</option>`,
    ...state.geo.grids.filter((g) => g.parent === c.id).map((g) =>
      `<option value="${escape(g.id)}">— ${escape(g.name)} ${escape(g.id)}</option>`)].join("")).join("");
  return `<div class="place"><label>派发到 Place in <select id="place-owner">${options}</select></label>
    <button type="button" data-action="reassign">派发 Place</button></div>`;
}

function reports(list, i) {
  const items = list.map((r) => `<li><div>${localMinute(r.event_time)} · ${escape(r.reporter || r.device_id)}
      ${r.reporter_role_name ? `（${escape(r.reporter_role_name)}）` : ""}
      ${r.reporter ? `<span class="meta">${escape(r.device_id)}</span>` : ""}</div>
    <div class="meta">${escape(name("category", r.category))} · ${escape(name("severity", r.severity))} ·
      ${escape(placeName(i.community, r.grid_id))} · ${r.lat.toFixed(5)}, ${r.lng.toFixed(5)}
      ${r.accuracy != null ? `±${Math.round(r.accuracy)} m` : ""} · 收到 ${localMinute(r.received_at)}</div>
    <p class="text">${escape(r.text)}</p>${photos(r.photos)}</li>`).join("");
  const count = `${list.length} / ${i.reports || i.report_count || list.length}`;
  return `<h3>上报 Reports <small>${count}</small></h3><ol class="reports">${items}</ol>`;
}

function photos(refs) {
  if (!refs || !refs.length) return "";
  return `<div class="photos">${refs.map((ref, n) => /^https?:\/\//.test(ref)
    ? `<a href="${escape(ref)}" target="_blank" rel="noopener noreferrer">照片 photo ${n + 1}</a>`
    : `<span>照片 photo ${n + 1}: ${escape(ref)}</span>`).join(" ")}</div>`;
}

// Who: a roster name (a phone), a dispatcher and its role, or `system` (the rules).
function who(e) {
  const device = e.actor_name ? ` <span class="meta">${escape(e.actor)}</span>` : "";
  const role = e.actor_role ? `（${escape(name("role", e.actor_role))}）` : "";
  return `${escape(e.actor_name || e.actor)}${device}${role}`;
}

function history(events) {
  const moved = (e) => e.from_level && e.to_level && e.from_level !== e.to_level
    ? ` · ${escape(name("level", e.from_level))} → ${escape(name("level", e.to_level))}` : "";
  const items = events.map((e) => `<li class="ev-${escape(e.kind)}"><b>${escape(name("incident_event", e.kind))}</b>
      ${localMinute(e.event_time)} · ${who(e)}${moved(e)}
      <div class="meta">${escape(e.reason)}</div></li>`).join("");
  return `<h3>经过 History</h3><ol class="history">${items}</ol>`;
}

export function setupDetail(closed) {
  $("detail").addEventListener("click", (e) => {
    const button = e.target.closest("button");
    if (!button) return;
    if (button.classList.contains("close")) { closeDetail(); closed(); return; }
    const id = $("detail").dataset.incident, action = button.dataset.action;
    if (action === "task") {
      const live = state.incidents.get(id) || {};
      openIncidentTask(id, `${name("category", live.category)} · ${placeName(live.community, live.grid)}`, loaded.reports[0]);
    } else if (action === "reassign") act(id, action, { owner: $("place-owner").value });
    else if (action === "pause") act(id, action, { pause_reason: $("pause-reason").value, reason: $("pause-text").value });
    else if (action === "extend") act(id, action, { limit: $("extend-limit").value.trim() });
    else if (action === "return") act(id, action, { unit: $("return-unit").value.trim() });
    else if (action === "approve" || action === "deny") act(id, action, { request: button.dataset.request });
    else if (action) act(id, action);
  });
}

// The courtyard (院落) the incident's first report lies in, by the geometry's name; nothing when in none.
function courtyardOf(id) {
  const y = id && (state.geo.courtyards || []).find((c) => c.id === id);
  return y ? ` · ${escape(y.name)}` : "";
}
