// The map: SVG for the 71 grids and their courtyards (drawn once), one canvas for thousands of moving dots
// (redrawn at most a few times a second). A community chosen zooms the map to it, and only then are its
// courtyards shown (thin outlines, the name on hover). Colours come from console.css (--patrol-*, --level-*), the legend's too, so the
// canvas and the legend cannot disagree; devices are squares, incidents circles.
"use strict";

import { $, escape, name, state, view } from "./core.js";
import { urgency } from "./incidents.js";

const PATROL = ["on_post", "off_post", "offline", "off_duty", "unknown"]; // unknown: also a device with no status
const LEVELS = ["grid", "community", "street", "district"];
let projected = null, frame = null; // frame: the part of the projected plane in view (the whole, or a community)
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

export function drawAreas(onCommunity, onCourtyard) {
  const svg = $("areas"), geo = state.geo, p = (projected = projection(geo.grids));
  frame = { x: 0, y: 0, w: p.w, h: p.h };
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
  for (const y of geo.courtyards || []) {
    const community = state.grids.has(y.parent) ? state.grids.get(y.parent).parent : "";
    parts.push(`<path class="courtyard" data-courtyard="${escape(y.id)}" data-in="${escape(community)}" d="${d(y)}">
      <title>${escape(y.name)}</title></path>`);
  }
  for (const c of geo.communities) parts.push(`<path class="community" data-community="${escape(c.id)}" d="${d(c)}"></path>`);
  svg.innerHTML = parts.join("");
  svg.addEventListener("click", (e) => {
    if (picking) return;
    const data = e.target.dataset || {};
    if (data.courtyard) onCourtyard(data.courtyard);
    else if (data.community) onCommunity(view.filter === data.community ? "" : data.community);
  });
}

// The community chosen fills the map (its courtyards shown); none: the whole street.
export function dimAreas() {
  for (const path of $("areas").querySelectorAll("path")) {
    const community = path.dataset.community || path.dataset.in;
    path.classList.toggle("dim", !!view.filter && community !== view.filter);
  }
  const area = state.communities.get(view.filter);
  frame = area ? bounds(area.rings) : { x: 0, y: 0, w: projected.w, h: projected.h };
  $("areas").setAttribute("viewBox", `${frame.x} ${frame.y} ${frame.w} ${frame.h}`);
  $("areas").classList.toggle("close", !!area);
}

function bounds(rings) {
  const xs = rings.flat().map(([x]) => px(projected, x)), ys = rings.flat().map(([, y]) => py(projected, y));
  const x = Math.min(...xs), y = Math.min(...ys), w = Math.max(...xs) - x, h = Math.max(...ys) - y, m = 0.05;
  return { x: x - w * m, y: y - h * m, w: w * (1 + 2 * m), h: h * (1 + 2 * m) };
}

// Picking points on the map (画区域查询): each click adds a corner, a double-click closes the polygon; the
// corners are drawn in the SVG, so they sit where the map is whatever its zoom.
let picking = null;
export function pickPolygon(done) {
  const svg = $("areas"), corners = [];
  const line = document.createElementNS("http://www.w3.org/2000/svg", "polyline");
  line.setAttribute("class", "drawn");
  svg.appendChild(line);
  const at = (e) => {
    const point = new DOMPoint(e.clientX, e.clientY).matrixTransform(svg.getScreenCTM().inverse());
    return [point.x / projected.k + projected.minX, projected.maxY - point.y]; // [lng, lat]
  };
  const show = () => line.setAttribute("points", corners.map(([x, y]) => `${px(projected, x)},${py(projected, y)}`).join(" "));
  const click = (e) => { corners.push(at(e)); show(); };
  const close = (e) => {
    e.preventDefault();
    stopPicking();
    // A double-click's two clicks each added the same corner: keep one.
    const ring = corners.filter((c, n) => n === 0 || c[0] !== corners[n - 1][0] || c[1] !== corners[n - 1][1]);
    if (ring.length < 3) { line.remove(); done(null); return; }
    corners.splice(0, corners.length, ...ring, ring[0]); show();
    done({ type: "Polygon", coordinates: [corners] }, () => line.remove());
  };
  svg.addEventListener("click", click);
  svg.addEventListener("dblclick", close);
  svg.classList.add("picking");
  picking = () => { svg.removeEventListener("click", click); svg.removeEventListener("dblclick", close); };
}

// Where a point of the map is on the screen (the browser tests click the corners of an area so).
export function screenPoint(lng, lat) {
  const point = new DOMPoint(px(projected, lng), py(projected, lat)).matrixTransform($("areas").getScreenCTM());
  return [point.x, point.y];
}

export function stopPicking() {
  if (picking) picking();
  picking = null;
  $("areas").classList.remove("picking");
}

export function drawLegend() {
  const chip = (kind, code, label) => `<span><i class="chip ${kind}-${code}" data-${kind}="${code}"></i>${escape(label)}</span>`;
  $("legend").innerHTML = `<b>巡查 Patrol</b> ${PATROL.map((s) => chip("patrol", s, name("patrol_status", s))).join(" ")}
    <b>事件 Incidents</b> ${LEVELS.map((l) => chip("level", l, name("level", l))).join(" ")}
    <span><i class="chip overdue-ring"></i>${escape(name("incident_event", "deadline_missed"))}</span>`;
}

// The SVG keeps its aspect ratio inside the box; the canvas must use the very same fit of the same frame.
function fit(canvas) {
  const box = $("map").getBoundingClientRect(), ratio = window.devicePixelRatio || 1;
  canvas.width = box.width * ratio; canvas.height = box.height * ratio;
  const scale = Math.min(box.width / frame.w, box.height / frame.h);
  return { ratio, scale, ox: (box.width - frame.w * scale) / 2 - frame.x * scale,
           oy: (box.height - frame.h * scale) / 2 - frame.y * scale };
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
