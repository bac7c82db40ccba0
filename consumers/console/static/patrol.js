// The 巡查日报 view: a day's patrol per worker (GET /api/patrol/day): time on duty and on post, the on-post
// share (the lowest first; a click on its heading turns the order), distance walked, grids and courtyards
// visited, reports filed, tasks done (and how many with no arrival confirmed by GPS), the median time to arrive.
"use strict";

import { $, api, escape, localMinute, name, span, state } from "./core.js";

const patrol = { workers: [], ascending: true };

export const share = (w) => (w.on_duty_s > 0 ? w.on_post_s / w.on_duty_s : 0);

function places(list) {
  const names = list.map((p) => p.name || p.id).join("、");
  return `<span title="${escape(names)}">${list.length}</span>`;
}

function row(w) {
  const unconfirmed = w.tasks_unconfirmed ? ` <span class="mark unconfirmed">未经定位确认 ${w.tasks_unconfirmed}</span>` : "";
  return `<tr data-device="${escape(w.device)}"><td>${escape(w.name || "")} <span class="meta">${escape(w.device)}</span></td>
    <td>${escape(name("worker_role", w.role))}</td><td>${escape((state.grids.get(w.grid) || {}).name || w.grid || "")}</td>
    <td>${span(w.on_duty_s * 1000)}</td><td>${span(w.on_post_s * 1000)}</td>
    <td class="share">${Math.round(share(w) * 100)}%</td><td>${(w.distance_m / 1000).toFixed(1)} km</td>
    <td>${places(w.grids || [])}</td><td>${places(w.courtyards || [])}</td><td>${w.reports}</td>
    <td>${w.tasks_done}${unconfirmed}</td><td>${w.arrive_median_s == null ? "—" : span(w.arrive_median_s * 1000)}</td></tr>`;
}

function render() {
  const sign = patrol.ascending ? 1 : -1;
  const list = patrol.workers.slice().sort((a, b) => sign * (share(a) - share(b)) || (a.device < b.device ? -1 : 1));
  $("patrol-list").innerHTML = list.map(row).join("") || `<tr><td colspan="12">当日无巡查记录 No patrol that day</td></tr>`;
  $("patrol-sort").textContent = patrol.ascending ? "▲" : "▼";
}

async function refresh() {
  try {
    const day = await api(`/api/patrol/day?${new URLSearchParams({ date: $("patrol-date").value })}`);
    patrol.workers = day.workers;
    $("patrol-count").textContent = `${day.date} · ${day.workers.length}`;
    render();
  } catch (error) {
    $("patrol-count").textContent = `not refreshed: ${error.message}`;
  }
}

export function setupPatrol() {
  const panel = $("patrol");
  $("patrol-toggle").addEventListener("click", () => {
    panel.hidden = !panel.hidden;
    if (!$("patrol-date").value) $("patrol-date").value = localMinute(Date.now()).slice(0, 10); // the street's today
    if (!panel.hidden) refresh();
  });
  $("patrol-date").addEventListener("change", refresh);
  $("patrol-share").addEventListener("click", () => { patrol.ascending = !patrol.ascending; render(); });
}
