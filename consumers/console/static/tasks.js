// The 任务 view: open tasks to a person (GET /api/tasks, read again every 10 s while the view is open), and on
// demand those made in the last 24 h whatever became of them; late ones first: what, who, where, status, the arrival and completion deadlines with the time left (or 超时 and
// for how long), 未经定位确认 for one marked done with no arrival confirmed by GPS. A task opened shows its
// events and refusals, and 撤销 for a community or street dispatcher.
"use strict";

import { $, api, call, escape, localMinute, name, span, state, streetLevel } from "./core.js";

const REFRESH_MS = 10000, DAY_MS = 24 * 3600 * 1000;
const tasks = { list: [], timer: null, open: null };

const closed = (t) => t.status === "done" || t.status === "cancelled";

// The deadlines still binding: arrive until arrived, done until done; a deadline the book marked late stays so.
export function taskDues(t) {
  if (closed(t)) return [];
  const found = [];
  if (!t.arrived_at) found.push({ kind: "arrive", at: Date.parse(t.arrive_by) });
  found.push({ kind: "done", at: Date.parse(t.done_by) });
  return found;
}

export function isLate(t, now) {
  const late = t.late || {};
  return !!(late.arrive || late.done) || taskDues(t).some((d) => d.at <= now);
}

function dueCell(t, kind, now) {
  const at = Date.parse(kind === "arrive" ? t.arrive_by : t.done_by);
  const binding = taskDues(t).some((d) => d.kind === kind);
  const met = kind === "arrive" ? t.arrived_at : t.done_at;
  const said = met ? `✓ ${localMinute(met)}`
    : !binding ? "" : at <= now ? `<span class="mark">${escape(name("task_event", "late"))} ${span(now - at)}</span>`
      : `剩余 ${span(at - now)}`;
  return `<td class="clock"><div>${said}</div><div class="meta">${escape(name("task_deadline", kind))} ${localMinute(at)}</div></td>`;
}

function row(t, now) {
  const late = isLate(t, now), unconfirmed = t.unconfirmed === "yes";
  const flags = [late ? `<span class="mark">${escape(name("task_event", "late"))}</span>` : "",
    unconfirmed ? `<span class="mark unconfirmed">未经定位确认</span>` : ""].join(" ");
  return `<tr data-task="${escape(t.id)}"${late ? ' class="overdue"' : ""}${late ? " data-late" : ""}${unconfirmed ? " data-unconfirmed" : ""}>
    <td><b>${escape(name("task_kind", t.kind))}</b> ${flags}<div class="meta">${escape(t.id)} · ${localMinute(t.created_at)}</div>
      <div class="content">${escape(t.note)}</div></td>
    <td>${escape(t.worker || "")} <div class="meta">${escape(t.device)}</div></td>
    <td>${escape(t.courtyard_name || t.grid_name || "")}<div class="meta">${escape(t.courtyard || t.grid || "")}</div></td>
    <td class="nowrap">${escape(name("task_status", t.status))}</td>
    ${dueCell(t, "arrive", now)}${dueCell(t, "done", now)}</tr>`;
}

// Late first (the earliest deadline first), then by the nearest deadline.
export function orderedTasks(list, now) {
  const first = (t) => Math.min(...taskDues(t).map((d) => d.at), Infinity);
  return list.slice().sort((a, b) => (isLate(b, now) - isLate(a, now)) || (first(a) - first(b)) || (a.id < b.id ? -1 : 1));
}

export function renderTasks() {
  if ($("tasks").hidden) return;
  const now = Date.now(), list = orderedTasks(tasks.list, now);
  $("tasks-list").innerHTML = list.map((t) => row(t, now)).join("")
    || `<tr><td colspan="6">没有待办任务 No open task</td></tr>`;
  $("tasks-count").textContent = `${list.length}`;
}

async function refresh() {
  try {
    const query = $("tasks-closed").checked ? { status: "all", since: localMinute(Date.now() - DAY_MS) } : { status: "open" };
    tasks.list = (await api(`/api/tasks?${new URLSearchParams(query)}`)).tasks;
    $("tasks-toggle").querySelector(".n").textContent = String(tasks.list.filter((t) => !closed(t)).length);
    renderTasks();
  } catch (error) {
    $("tasks-count").textContent = `not refreshed: ${error.message}`;
  }
}

async function openTask(id) {
  tasks.open = id;
  const response = await call(`/api/tasks/${encodeURIComponent(id)}`);
  const body = await response.json().catch(() => ({}));
  if (tasks.open !== id) return;
  $("task-detail").hidden = false;
  $("task-detail").dataset.task = id;
  $("task-detail").innerHTML = response.ok ? detail(body) : `<p class="refused">HTTP ${response.status}</p>`;
}

const mayCancel = (t) => !closed(t) && (streetLevel()
  || (state.role === "community" && t.community === state.community));

function detail(body) {
  const t = body.task, events = (body.events || []).map((e) => `<li><b>${escape(name("task_event", e.event))}</b>
    ${localMinute(e.when)} · ${escape(e.actor)}<div class="meta">${escape(e.reason || "")}</div></li>`).join("");
  const refusals = (body.refusals || []).map((r) => `<li>${localMinute(r.at || r.when)} · ${escape(r.reason || "")}</li>`).join("");
  const cancel = mayCancel(t) ? `<div class="place"><input id="task-cancel-reason" maxlength="500" placeholder="撤销原因 why">
    <button type="button" data-do="cancel">${escape(name("task_event", "cancelled"))} Cancel</button></div>` : "";
  return `<header><b>${escape(name("task_kind", t.kind))}</b> ${escape(t.worker || t.device)} · ${escape(name("task_status", t.status))}
      <button type="button" class="close" aria-label="close">×</button></header>
    <p class="text">${escape(t.note)}</p>${cancel}<p id="task-cancelled" role="status"></p>
    <h3>经过 History</h3><ol class="history">${events}</ol>${refusals ? `<h3>${escape(name("task_event", "refused"))} Refused</h3><ol>${refusals}</ol>` : ""}`;
}

async function cancel() {
  const id = tasks.open, reason = $("task-cancel-reason").value.trim();
  const response = await call(`/api/tasks/${encodeURIComponent(id)}/cancel`, {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ reason }),
  });
  const body = await response.json().catch(() => ({}));
  $("task-cancelled").className = `verdict ${response.ok ? "done" : "refused"}`;
  $("task-cancelled").textContent = response.ok ? "✔ 已提交撤销 cancel sent"
    : `✘ 未撤销 (HTTP ${response.status})：${(body.errors || []).map((e) => `${e.field}: ${e.reason}`).join("; ")}`;
  refresh();
}

export function setupTasks() {
  const panel = $("tasks");
  $("tasks-toggle").addEventListener("click", () => {
    panel.hidden = !panel.hidden;
    clearInterval(tasks.timer);
    if (!panel.hidden) { refresh(); tasks.timer = setInterval(refresh, REFRESH_MS); }
  });
  $("tasks-closed").addEventListener("change", refresh);
  $("tasks-list").addEventListener("click", (e) => {
    const tr = e.target.closest("tr[data-task]");
    if (tr) openTask(tr.dataset.task);
  });
  $("task-detail").addEventListener("click", (e) => {
    const button = e.target.closest("button");
    if (button && button.classList.contains("close")) { tasks.open = null; $("task-detail").hidden = true; }
    else if (button && button.dataset.do === "cancel") cancel();
  });
}
