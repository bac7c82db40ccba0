// 派发任务: a task for one worker to a courtyard or a point (an incident's, whose id goes with it). The
// candidates come from GET /api/tasks/candidates, on-post nearest first, the first chosen; the limits are
// optional (empty: the rules' defaults of config/tasks.toml, shown as placeholders when the answer carries them
// as `limits` {kind: {arrive, done}} and `radius_m`).
"use strict";

import { $, call, escape, localMinute, name, state } from "./core.js";

let where = null, defaults = {};

const reasons = (body) => (body.errors || []).map((e) => `${e.field}: ${e.reason}`).join("; ") || "";

export async function openTaskForm(container, target) {
  where = target;
  container.innerHTML = `<p class="meta">… 读取候选人 reading candidates</p>`;
  const query = target.courtyard ? { courtyard: target.courtyard }
    : { lat: target.location.lat, lng: target.location.lng };
  const response = await call(`/api/tasks/candidates?${new URLSearchParams(query)}`);
  const body = await response.json().catch(() => ({}));
  if (where !== target) return; // another form was opened meanwhile
  container.innerHTML = response.ok ? form(body, target)
    : `<p class="refused">${escape(reasons(body) || `HTTP ${response.status}`)}</p>`;
}

function candidates(list) {
  if (!list.length) return `<p class="refused">此处无可派人员 nobody to send here</p>`;
  const rows = list.map((c, n) => `<tr><td><input type="radio" name="task-device" value="${escape(c.device)}"
      aria-label="${escape(c.name || c.device)}"${n === 0 ? " checked" : ""}></td>
    <td>${escape(c.name || "")} <span class="meta">${escape(c.device)}</span></td>
    <td>${escape(name("worker_role", c.role))}</td><td>${escape(name("patrol_status", c.status || "unknown"))}</td>
    <td>${c.distance_m == null ? "" : `${Math.round(c.distance_m)} m`}</td><td>${localMinute(c.fix_time)}</td></tr>`);
  return `<table class="candidates"><thead><tr><th></th><th>人员 Worker</th><th>角色 Role</th><th>状态 Status</th>
    <th>距离 Distance</th><th>定位 Fix</th></tr></thead><tbody>${rows.join("")}</tbody></table>`;
}

function form(body, target) {
  const kinds = Object.entries(state.names.task_kind || {});
  const chosen = target.courtyard ? "visit_courtyard" : "verify_report";
  defaults = body;
  const radius = target.courtyard ? "" : `<label>半径 Radius <input id="task-radius" size="5" inputmode="numeric"
      placeholder="${escape(body.radius_m || "默认")}"> m</label>`;
  return `<h3>派发任务 Assign a task ${target.incident ? `<small>${escape(target.incident)}</small>` : ""}</h3>
    ${candidates(body.candidates || [])}
    <div class="place"><label>任务 Kind <select id="task-kind">${kinds.map(([code, zh]) =>
      `<option value="${escape(code)}"${code === chosen ? " selected" : ""}>${escape(zh)}</option>`).join("")}</select></label>
      <label>${escape(name("task_deadline", "arrive"))} <input id="task-arrive" size="6" placeholder="${hint(chosen, "arrive")}"></label>
      <label>${escape(name("task_deadline", "done"))} <input id="task-done" size="6" placeholder="${hint(chosen, "done")}"></label>
      ${radius}</div>
    <textarea id="task-note" maxlength="2000" rows="2" placeholder="要做什么 what to do"></textarea>
    <div class="actions"><button type="button" id="task-send">${escape(name("task_event", "created"))} Send</button></div>
    <p id="task-verdict" role="status"></p>`;
}

const hint = (kind, deadline) => escape(((defaults.limits || {})[kind] || {})[deadline] || "默认");

// The body as the contract writes it: what is left empty is left out, for the rules' defaults.
export function taskBody() {
  const chosen = document.querySelector("input[name='task-device']:checked");
  const body = { kind: $("task-kind").value, device: chosen ? chosen.value : "", note: $("task-note").value.trim() };
  if (where.courtyard) body.courtyard = where.courtyard;
  else body.location = where.location;
  for (const [field, id] of [["arrive_within", "task-arrive"], ["done_within", "task-done"]]) {
    if ($(id).value.trim()) body[field] = $(id).value.trim();
  }
  if ($("task-radius") && $("task-radius").value.trim()) body.radius_m = Number($("task-radius").value.trim());
  if (where.incident) body.incident = where.incident;
  if (where.report) body.report = where.report;
  return body;
}

async function send() {
  const verdict = $("task-verdict");
  verdict.className = "verdict pending"; verdict.textContent = "… 发送中 sending";
  const response = await call("/api/tasks", {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(taskBody()),
  });
  const body = await response.json().catch(() => ({}));
  const done = response.status === 202 || response.status === 200;
  verdict.className = `verdict ${done ? "done" : "refused"}`;
  verdict.textContent = done ? `✔ 已派发 sent：${body.task || ""}`
    : `✘ 未派发 not sent (HTTP ${response.status})：${reasons(body)}`;
}

document.addEventListener("click", (e) => {
  if (e.target.id === "task-send") send();
});
document.addEventListener("change", (e) => { // another kind, other default limits
  if (e.target.id !== "task-kind") return;
  $("task-arrive").placeholder = hint(e.target.value, "arrive");
  $("task-done").placeholder = hint(e.target.value, "done");
});
