// The map: SVG for the 71 grids (drawn once), one canvas for thousands of moving dots (redrawn at most a
// few times a second). Colours come from console.css (--patrol-*, --level-*), the legend's too, so the
// canvas and the legend cannot disagree; devices are squares, incidents circles.
"use strict";

import { $, escape, name, state, view } from "./core.js";
import { urgency } from "./incidents.js";

const PATROL = ["on_post", "off_post", "offline", "off_duty", "unknown"]; // unknown: also a device with no status
const LEVELS = ["grid", "community", "street", "district"];
let projected = null;
const gridCentre = new Map();
const colour = (variable) => getComputedStyle(document.documentElement).getPropertyValue(variable).trim();

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

export function drawAreas(onCommunity) {
  const svg = $("areas"), geo = state.geo, p = (projected = projection(geo.grids));
  svg.setAttribute("viewBox", `0 0 ${p.w} ${p.h}`);
  svg.setAttribute("preserveAspectRatio", "xMidYMid meet");
  const d = (area) => area.rings.map((ring) => "M" + ring.map(([x, y]) => `${px(p, x)},${py(p, y)}`).join("L") + "Z").join("");
  const parts = [];
  for (const g of geo.grids) {
    parts.push(`<path class="grid" data-grid="${escape(g.id)}" data-community="${escape(g.parent)}" d="${d(g)}">
      <title>${escape(g.name)} ${escape(g.id)}</title></path>`);
    const ring = g.rings[0];
    gridCentre.set(g.id, [ring.reduce((s, [x]) => s + x, 0) / ring.length, ring.reduce((s, [, y]) => s + y, 0) / ring.length]);
  }
  for (const c of geo.communities) parts.push(`<path class="community" data-community="${escape(c.id)}" d="${d(c)}"></path>`);
  svg.innerHTML = parts.join("");
  svg.addEventListener("click", (e) => {
    const community = e.target.dataset && e.target.dataset.community;
    if (community) onCommunity(view.filter === community ? "" : community);
  });
}

export function dimAreas() {
  for (const path of $("areas").querySelectorAll("path")) {
    path.classList.toggle("dim", !!view.filter && path.dataset.community !== view.filter);
  }
}

export function drawLegend() {
  const chip = (kind, code, label) => `<span><i class="chip ${kind}-${code}" data-${kind}="${code}"></i>${escape(label)}</span>`;
  $("legend").innerHTML = `<b>巡查 Patrol</b> ${PATROL.map((s) => chip("patrol", s, name("patrol_status", s))).join(" ")}
    <b>事件 Incidents</b> ${LEVELS.map((l) => chip("level", l, name("level", l))).join(" ")}
    <span><i class="chip overdue-ring"></i>${escape(name("incident_event", "deadline_missed"))}</span>`;
}

// The SVG keeps its aspect ratio inside the box; the canvas must use the very same fit.
function fit(canvas) {
  const box = $("map").getBoundingClientRect(), ratio = window.devicePixelRatio || 1;
  canvas.width = box.width * ratio; canvas.height = box.height * ratio;
  const scale = Math.min(box.width / projected.w, box.height / projected.h);
  return { ratio, scale, ox: (box.width - projected.w * scale) / 2, oy: (box.height - projected.h * scale) / 2 };
}

export function drawOverlay() {
  const canvas = $("overlay"), f = fit(canvas), ctx = canvas.getContext("2d");
  ctx.setTransform(f.ratio, 0, 0, f.ratio, 0, 0);
  const X = (lng) => f.ox + px(projected, lng) * f.scale, Y = (lat) => f.oy + py(projected, lat) * f.scale;
  // One path per status: 2,000 dots cost five fills, not 2,000.
  const byStatus = new Map(PATROL.map((s) => [s, []]));
  for (const [device, [lat, lng, community]] of state.positions) {
    if (view.filter && community !== view.filter) continue;
    const status = byStatus.has(state.patrol.get(device)) ? state.patrol.get(device) : "unknown";
    byStatus.get(status).push(X(lng), Y(lat));
  }
  for (const [status, xy] of byStatus) {
    ctx.beginPath();
    for (let i = 0; i < xy.length; i += 2) ctx.rect(xy[i] - 2, xy[i + 1] - 2, 4, 4);
    if (status === "unknown") { ctx.strokeStyle = colour("--patrol-unknown"); ctx.lineWidth = 1; ctx.stroke(); }
    else { ctx.fillStyle = colour(`--patrol-${status}`); ctx.fill(); }
  }
  drawIncidents(ctx, X, Y);
}

function drawIncidents(ctx, X, Y) {
  const now = Date.now(), overdue = colour("--overdue"), levels = Object.fromEntries(LEVELS.map((l) => [l, colour(`--level-${l}`)]));
  for (const incident of state.incidents.values()) {
    if (view.filter && incident.community !== view.filter) continue;
    const centre = gridCentre.get(incident.grid);
    if (!centre) continue; // unlocated: listed in its queue, not on the map
    const jitter = hash(incident.id), x = X(centre[0]) + (jitter % 17) - 8, y = Y(centre[1]) + ((jitter >> 5) % 17) - 8;
    ctx.beginPath(); ctx.arc(x, y, 5, 0, 2 * Math.PI);
    ctx.fillStyle = levels[incident.level] || "#fff"; ctx.fill();
    if (urgency(incident, now).over) {
      ctx.beginPath(); ctx.arc(x, y, 8.5, 0, 2 * Math.PI);
      ctx.strokeStyle = overdue; ctx.lineWidth = 2.5; ctx.stroke();
    }
    if (view.detail === incident.id) {
      ctx.beginPath(); ctx.arc(x, y, 13, 0, 2 * Math.PI);
      ctx.strokeStyle = "#fff"; ctx.lineWidth = 2; ctx.stroke();
    }
  }
}

function hash(text) {
  let h = 0;
  for (let i = 0; i < text.length; i++) h = (h * 31 + text.charCodeAt(i)) >>> 0;
  return h;
}
