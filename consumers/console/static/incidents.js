// The incident list: overdue first (most overdue first, marked, with how long), then by the nearest
// deadline, cases whose clocks an approved pause stops last (they are not running); tabs with a count per state and the unlocated queue; pages, so no row cap hides an incident.
"use strict";

import { isStopped, left, leftStopped, pauseLine, share, stoppedKind } from "./clocks.js";
import { $, escape, localMinute, name, placeName, span, state, streetLevel, view } from "./core.js";

export const PAGE_ROWS = 50;
const UNLOCATED = "unlocated"; // schemas.records.UNLOCATED: reports outside every street, placed by the street

// The deadlines that bind now: acknowledge-by until acknowledged, resolve-by until resolved. The engine keeps
// a deadline it missed at the street, so an incident stays overdue from then on. None while paused (approved).
export function dues(i) {
  if (isStopped(i)) return [];
  const open = i.status === "assigned" || i.status === "acknowledged", found = [];
  if (i.status === "assigned" && i.ack_by) found.push({ kind: "acknowledge", at: Date.parse(i.ack_by) });
  if (open && i.resolve_by) found.push({ kind: "resolve", at: Date.parse(i.resolve_by) });
  return found.sort((a, b) => a.at - b.at);
}

// over: the earliest deadline passed (overdue since then); next: the nearest one still ahead.
export function urgency(i, now) {
  const all = dues(i);
  return { over: all.find((d) => d.at <= now) || null, next: all.find((d) => d.at > now) || null };
}

export function ordered(incidents, now) {
  const keyed = incidents.map((i) => ({ i, u: urgency(i, now) }));
  keyed.sort((a, b) => {
    if (!!a.u.over !== !!b.u.over) return a.u.over ? -1 : 1;
    const at = (x) => (x.u.over || x.u.next || { at: Infinity }).at;
    return at(a) - at(b) || Date.parse(a.i.opened_at) - Date.parse(b.i.opened_at) || (a.i.id < b.i.id ? -1 : 1);
  });
  return keyed;
}

const TABS = {
  all: () => true,
  overdue: (i, u) => !!u.over,
  assigned: (i) => i.status === "assigned",
  acknowledged: (i) => i.status === "acknowledged",
  paused: (i) => !!i.pause,
  unlocated: (i) => i.community === UNLOCATED,
};

// The community filter scopes every tab but the unlocated queue, which lies outside every community.
function inView(i, tab) {
  if (view.filter && tab !== "unlocated" && i.community !== view.filter) return false;
  if (!view.search) return true;
  const text = `${i.id} ${i.grid || ""} ${i.category} ${name("category", i.category)} ${placeName(i.community, i.grid)}`;
  return text.includes(view.search);
}

export function tabLabels() {
  const s = state.names.incident_status || {};
  return { all: "全部 All", overdue: `${name("incident_event", "deadline_missed")} Overdue`,
           assigned: `${s.assigned} Not acknowledged`, acknowledged: `${s.acknowledged} In progress`,
           paused: `${name("action", "pause")} Paused`,
           unlocated: `${name("place", UNLOCATED)} Unlocated` };
}

export function renderIncidents() {
  const now = Date.now(), all = ordered([...state.incidents.values()], now), counts = {};
  let shown = [];
  for (const [tab, test] of Object.entries(TABS)) {
    const rows = all.filter((k) => inView(k.i, tab) && test(k.i, k.u));
    counts[tab] = rows.length;
    if (tab === view.tab) shown = rows;
  }
  for (const button of $("tabs").querySelectorAll("button")) {
    const tab = button.dataset.tab, alarm = tab === "overdue" || (tab === "unlocated" && streetLevel());
    button.querySelector(".n").textContent = String(counts[tab]);
    button.classList.toggle("on", tab === view.tab);
    button.classList.toggle("alarm", alarm && counts[tab] > 0);
  }
  const pages = Math.max(1, Math.ceil(shown.length / PAGE_ROWS));
  view.page = Math.min(view.page, pages - 1);
  const rows = shown.slice(view.page * PAGE_ROWS, (view.page + 1) * PAGE_ROWS);
  $("incidents").innerHTML = rows.map(({ i, u }) => row(i, u, now)).join("");
  for (const bar of $("incidents").querySelectorAll(".bar span")) bar.style.width = bar.dataset.width; // CSP: no style=""
  $("incident-count").textContent = `${shown.length}`;
  $("page").textContent = `第 ${view.page + 1}/${pages} 页 · ${shown.length} 件`;
  $("prev").disabled = view.page === 0;
  $("next").disabled = view.page >= pages - 1;
}

function row(i, u, now) {
  const status = `<span class="status">${escape(name("incident_status", i.status))}</span>`;
  let due = "", used = 0;
  if (u.over) {
    due = `<span class="mark">${escape(name("incident_event", "deadline_missed"))} ${span(now - u.over.at)}</span>
      ${escape(name("deadline", u.over.kind))} ${localMinute(u.over.at)}`;
    used = 1;
  } else if (isStopped(i)) {
    const kind = stoppedKind(i);
    due = `${escape(name("deadline", kind))} ${leftStopped(i, kind)}`;
  } else if (u.next) {
    due = `${escape(name("deadline", u.next.kind))} ${localMinute(u.next.at)} · ${left(i, u.next.kind, u.next.at, now)}`;
    used = share(i, u.next.kind, u.next.at, now);
  }
  const cls = u.over ? "over" : used >= 0.75 ? "late" : "";
  return `<li class="level-${escape(i.level)}${u.over ? " overdue" : ""}${view.detail === i.id ? " open" : ""}"
      data-incident="${escape(i.id)}" data-status="${escape(i.status)}"${i.pause ? " data-paused" : ""}${u.over ? ` data-overdue-since="${u.over.at}"` : ""}>
    <div><b>${escape(name("level", i.level))}</b> ${escape(name("category", i.category))}
      · ${escape(placeName(i.community, i.grid))} ${status}</div>
    ${i.pause ? `<div class="pause">${pauseLine(i)}</div>` : ""}<div class="due">${due}</div>
    <div class="bar"><span class="${cls}" data-width="${Math.min(100, Math.max(0, used * 100)).toFixed(0)}%"></span></div>
    <div class="meta">${escape(i.id)} · ${escape(name("severity", i.severity))}
      · ${escape(name("incident_event", "opened"))} ${localMinute(i.opened_at)}${i.reports > 1 ? ` · ${i.reports} 报` : ""}</div>
  </li>`;
}

export function setupIncidentList(open, redraw) {
  const labels = tabLabels();
  $("tabs").innerHTML = Object.keys(TABS).map((tab) =>
    `<button type="button" data-tab="${tab}">${escape(labels[tab])} <span class="n">0</span></button>`).join("");
  $("tabs").addEventListener("click", (e) => {
    const button = e.target.closest("button");
    if (button) { view.tab = button.dataset.tab; view.page = 0; redraw(); }
  });
  $("prev").addEventListener("click", () => { view.page -= 1; redraw(); });
  $("next").addEventListener("click", () => { view.page += 1; redraw(); });
  $("incidents").addEventListener("click", (e) => {
    const li = e.target.closest("li[data-incident]");
    if (li) open(li.dataset.incident);
  });
}
