// The place pane over the map: a courtyard clicked (its name, its grid, 谁来过 and 派发任务) or an area drawn
// with 画区域查询, and who was there between two times (GET or POST /api/presence): each device with its
// worker's name and role, when it entered and left (the street's minute) and its time inside.
"use strict";

import { $, call, escape, localMinute, name, placeName, span, state } from "./core.js";
import { pickPolygon, stopPicking } from "./map.js";
import { openTaskForm } from "./taskform.js";

const DAY_MS = 24 * 3600 * 1000;
let fence = null, erase = null; // fence: {courtyard} or {polygon}; erase: removes a drawn polygon from the map
let asked = 0; // only the newest question's answer is shown

function courtyardOf(id) {
  return (state.geo.courtyards || []).find((y) => y.id === id);
}

function open(title, buttons) {
  const pane = $("place");
  pane.hidden = false;
  pane.innerHTML = `<header><b>${title}</b> <button type="button" class="close" aria-label="close">×</button></header>
    <div class="actions">${buttons}</div><div id="place-body"></div>`;
}

export function openCourtyard(id) {
  const y = courtyardOf(id), grid = y && state.grids.get(y.parent);
  closePlace();
  fence = { courtyard: id };
  const where = grid ? placeName(grid.parent, grid.id) : "";
  open(`${escape(y ? y.name : id)} <span class="meta">${escape(where)} · ${escape(id)}</span>`,
    `<button type="button" data-do="who">谁来过 Who was here</button>
     <button type="button" data-do="task">派发任务 Assign a task</button>`);
  $("place").dataset.courtyard = id;
}

// The window asked about, in the street's zone to the minute (the console reads it so): the last 24 h at first.
function whoForm() {
  const now = Date.now();
  $("place-body").innerHTML = `<div class="place">
      <label>自 From <input id="who-from" size="16" value="${localMinute(now - DAY_MS)}"></label>
      <label>至 To <input id="who-to" size="16" value="${localMinute(now)}"></label>
      <button type="button" data-do="ask">查询 Ask</button></div><div id="who-answer"></div>`;
  ask();
}

async function ask() {
  const mine = (asked += 1), from = $("who-from").value.trim(), to = $("who-to").value.trim();
  const response = fence.polygon
    ? await call("/api/presence", { method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ polygon: fence.polygon, from, to }) })
    : await call(`/api/presence?${new URLSearchParams({ courtyard: fence.courtyard, from, to })}`);
  const body = await response.json().catch(() => ({}));
  if (!$("who-answer") || mine !== asked) return; // the pane was closed, or asked again, meanwhile
  $("who-answer").innerHTML = response.ok ? table(body.devices)
    : `<p class="refused">${escape((body.errors || []).map((e) => `${e.field}: ${e.reason}`).join("; ")
      || `HTTP ${response.status}`)}</p>`;
}

function table(devices) {
  if (!devices.length) return `<p class="meta">无人来过 Nobody was here</p>`;
  const rows = devices.map((d) => `<tr data-device="${escape(d.device)}"><td>${escape(d.device)}</td>
    <td>${escape(d.name || "")}</td><td>${escape(name("worker_role", d.role))}</td>
    <td>${localMinute(d.entry)}</td><td>${localMinute(d.exit)}</td><td>${span(d.seconds * 1000)}</td>
    <td>${d.visits.length}</td></tr>`).join("");
  return `<table class="who"><thead><tr><th>设备 Device</th><th>姓名 Name</th><th>角色 Role</th><th>进入 Entered</th>
    <th>离开 Left</th><th>停留 Inside</th><th>次数 Visits</th></tr></thead><tbody>${rows}</tbody></table>`;
}

export function closePlace() {
  stopPicking();
  if (erase) erase();
  fence = null; erase = null;
  $("place").hidden = true;
  $("place").innerHTML = "";
  delete $("place").dataset.courtyard;
}

// 派发任务 from an incident: to the point of its newest report, the incident and the report going with it.
export function openIncidentTask(incident, title, r) {
  closePlace();
  open(`${escape(title)} <span class="meta">${escape(incident)}</span>`, "");
  openTaskForm($("place-body"), { location: { lat: r.lat, lng: r.lng }, incident, report: r.id });
}

function draw() {
  closePlace();
  $("draw-toggle").classList.add("on");
  pickPolygon((polygon, remove) => {
    $("draw-toggle").classList.remove("on");
    if (!polygon) return;
    fence = { polygon }; erase = remove;
    open("所画区域 Drawn area", "");
    whoForm();
  });
}

export function setupPresence() {
  $("draw-toggle").addEventListener("click", draw);
  $("place").addEventListener("click", (e) => {
    const button = e.target.closest("button");
    if (!button) return;
    if (button.classList.contains("close")) closePlace();
    else if (button.dataset.do === "who") whoForm();
    else if (button.dataset.do === "ask") ask();
    else if (button.dataset.do === "task") openTaskForm($("place-body"), { courtyard: fence.courtyard });
  });
}
