// What every part of the page shares: the live state, the names people read (served by /api/names from
// schemas/display.py: no name table lives in this page), times in the street's zone to the minute, and
// calls to the console's API with the session's CSRF token.
"use strict";

export const state = {
  alerts: [], incidents: new Map(), patrol: new Map(), positions: new Map(),
  role: "read", dispatcher: "", community: null, csrf: null, actions: [], // actions: what the role may take
  names: {}, geo: null, communities: new Map(), grids: new Map(),
};
export const view = { filter: "", search: "", tab: "all", page: 0, detail: null };
export const $ = (id) => document.getElementById(id);

// Unauthenticated (expired session, revoked token, signed out): back to the sign-in form.
export async function api(path, options = {}) {
  const response = await call(path, options);
  if (!response.ok) throw new Error(`${path}: HTTP ${response.status}`);
  return response.json();
}

export async function call(path, options = {}) {
  const headers = { ...(options.headers || {}) };
  if (options.method && options.method !== "GET" && state.csrf) headers["X-Redwall-CSRF"] = state.csrf;
  const response = await fetch(path, { ...options, headers, credentials: "same-origin" });
  if (response.status === 401) location.assign("/signin");
  return response;
}

// A name from a table of schemas/display.py, else the code itself (a value newer than this page).
export const name = (table, code) => (state.names[table] || {})[code] || code || "";

export function placeName(community, grid) {
  const c = state.communities.get(community);
  const g = state.grids.get(grid);
  const where = c ? c.name : name("place", community);
  if (!g) return where;
  return g.name.startsWith(where) ? g.name : `${where} · ${g.name}`; // the sample's grids carry their community's name
}

let minuteFormat = null;
export function setZone(timeZone) {
  minuteFormat = new Intl.DateTimeFormat("en-CA", {
    timeZone, year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", hourCycle: "h23",
  });
}

// "2026-12-06 14:22": as schemas.display.local_minute writes it, in REDWALL_TIMEZONE whatever the browser's zone.
export function localMinute(when) {
  if (!when) return "";
  const parts = {};
  for (const p of minuteFormat.formatToParts(new Date(when))) parts[p.type] = p.value;
  return `${parts.year}-${parts.month}-${parts.day} ${parts.hour}:${parts.minute}`;
}

// A duration to the minute, as schemas.display.span_zh writes it: 2小时05分, 45分钟, 3天4小时.
export function span(ms) {
  const total = Math.floor(Math.abs(ms) / 60000), days = Math.floor(total / 1440);
  const hours = Math.floor((total % 1440) / 60), minutes = total % 60;
  if (days) return hours ? `${days}天${hours}小时` : `${days}天`;
  if (hours) return `${hours}小时${String(minutes).padStart(2, "0")}分`;
  return `${minutes}分钟`;
}

export const escape = (s) => String(s ?? "").replace(/[&<>"']/g,
  (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));

// The console and the worker check this again; here it only hides what would be refused. A street's
// dispatcher is sent its street's incidents only; the district's acts where a street's may, in every street.
export const streetLevel = () => state.role === "street" || state.role === "district";
export const mayAct = (incident) => streetLevel()
  || (state.role === "community" && incident.community === state.community);
