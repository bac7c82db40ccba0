// The 12345 view (接诉即办): open work orders with their two clocks (先行联系 and 办结: time left, or 超时 and
// for how long, the limit in the street's zone to the minute), overdue first; and the month's rates per
// community with n, 样本不足 below the configured minimum, and the street's 前响应 share.
"use strict";

import { $, api, escape, localMinute, name, placeName, span, state, view } from "./core.js";
import { counted, isWorking, workSpan } from "./worktime.js";

const REFRESH_MS = 30000, PAGE_ORDERS = 200; // the console's largest page
const hotline = { orders: [], rates: null, timer: null, drawn: {} };

// A clock still running binds; one done (contacted; closed or returned) does not. The server gives each
// clock's limit (an extension's new one for 办结) and when its step was done (sinks/hotline_rates.py).
export function clocks(order) {
  return ["contact", "resolve"].filter((kind) => !order.clocks[kind].done_at)
    .map((kind) => ({ kind, at: Date.parse(order.clocks[kind].due) }));
}

// Overdue first (the longest overdue first), then by the nearest limit; an order with no clock running last.
export function orderedOrders(orders, now) {
  const keyed = orders.map((o) => ({ o, first: Math.min(...clocks(o).map((c) => c.at), Infinity) }));
  keyed.sort((a, b) => ((b.first <= now) - (a.first <= now)) || (a.first - b.first) || (a.o.id < b.o.id ? -1 : 1));
  return keyed.map((k) => k.o);
}

function clockCell(order, kind, now) {
  const running = clocks(order).find((c) => c.kind === kind);
  if (!running) {
    const done = kind === "contact" ? "contacted" : order.status;
    return `<td class="clock done">✓ ${escape(name("order_event", done))}</td>`;
  }
  const limit = `<div class="meta">${escape(name("clock", kind))} ${localMinute(running.at)}</div>`;
  // A working-time limit (7wd) says its time in working time, as the calendar counts it; others in hours.
  const working = isWorking(order[`${kind}_limit`]);
  const said = (from, to) => (working ? workSpan(counted(from, to, true) / 1000) : span(to - from));
  if (running.at <= now)
    return `<td class="clock over"><span class="mark">${escape(name("incident_event", "deadline_missed"))} ${said(running.at, now)}</span>${limit}</td>`;
  return `<td class="clock">剩 ${said(now, running.at)}${limit}</td>`;
}

function callback(order) {
  if (!order.satisfaction && order.callback_resolved === null) return "";
  const solved = order.callback_resolved === null ? "" : order.callback_resolved ? " · ✓" : " · ✗";
  return `${escape(name("satisfaction", order.satisfaction))}${solved}`;
}

function orderRow(o, now) {
  const over = clocks(o).some((c) => c.at <= now);
  const incident = o.incident_id
    ? `<button type="button" class="link" data-incident="${escape(o.incident_id)}">${escape(o.incident_id)}</button>` : "";
  return `<tr data-order="${escape(o.id)}"${over ? ' class="overdue"' : ""}>
    <td><b>${escape(o.id)}</b> <span class="meta">${escape(name("appeal_type", o.appeal_type))}
      · ${localMinute(o.dispatched_at)}</span><div class="content">${escape(o.content)}</div></td>
    <td class="nowrap">${escape(name("category", o.category))}</td><td class="nowrap">${escape(name("urgency", o.urgency))}</td>
    <td>${escape(placeName(o.community_id, o.grid_id))}<div class="meta">${escape(name("placed_by", o.placed_by))}
      · ${escape(o.address)}</div></td>
    ${clockCell(o, "contact", now)}${clockCell(o, "resolve", now)}
    <td>${callback(o)}</td><td>${incident}</td></tr>`;
}

// Called with every redraw of the page: while the view is closed only the button's count is kept current.
export function renderOrders(force = false) {
  const now = Date.now();
  const mine = hotline.orders.filter((o) => !view.filter || o.community_id === view.filter);
  const over = mine.filter((o) => clocks(o).some((c) => c.at <= now)).length;
  $("hotline-toggle").querySelector(".n").textContent = String(over);
  $("hotline-toggle").classList.toggle("alarm", over > 0);
  // Live incident batches redraw the page up to four times a second; the clocks move by the minute.
  const fresh = hotline.drawn.data === hotline.orders && hotline.drawn.filter === view.filter && now - hotline.drawn.at < 5000;
  if ($("hotline").hidden || (fresh && !force)) return;
  hotline.drawn = { data: hotline.orders, filter: view.filter, at: now };
  $("hotline-orders").innerHTML = orderedOrders(mine, now).map((o) => orderRow(o, now)).join("");
  $("hotline-count").textContent = `${mine.length} 件 · ${name("incident_event", "deadline_missed")} ${over}`;
}

const RATES = ["response", "resolution", "satisfaction", "on_time", "composite"];
const percent = (x) => (x === null || x === undefined ? "—" : `${(x * 100).toFixed(1)}%`);

export function renderRates() {
  const body = hotline.rates;
  if (!body) return;
  const ranked = body.rates.filter((r) => r.n >= body.min_n && r.composite !== null)
    .sort((a, b) => b.composite - a.composite).map((r) => r.key);
  $("hotline-rates-head").innerHTML = `<th>${escape(name("level", "community"))}</th><th>n</th>${RATES.map((r) => `<th>${escape(name("rate", r))}</th>`).join("")}
    <th>前响应</th><th>排名</th>`;
  $("hotline-rates").innerHTML = body.rates.map((r) => {
    const few = r.n < body.min_n;
    const rank = few ? `<span class="few">样本不足</span>` : ranked.includes(r.key) ? String(ranked.indexOf(r.key) + 1) : "—";
    return `<tr data-community="${escape(r.key)}"${few ? ' class="few"' : ""}><td>${escape(placeName(r.key) || r.name)}</td>
      <td class="n">${r.n}</td>${RATES.map((k) => `<td>${percent(r[k])}</td>`).join("")}
      <td>${percent(r.grid_first)}</td><td>${rank}</td></tr>`;
  }).join("");
  const street = body.street || { grid_first: null, blind_spots: 0 };
  // The viewer's street, or the whole district for who sees every street of one (named by the server).
  $("hotline-street").textContent = `本月 ${localMinute(body.now).slice(0, 7)} · ${body.whole}前响应 ${percent(street.grid_first)}`
    + ` · 盲区 ${street.blind_spots} 件 · n < ${body.min_n}: 样本不足，不排名`;
}

// Every open order, a page of PAGE_ORDERS at a time: no row cap hides an order past its limit.
async function allOrders() {
  const orders = [];
  for (let offset = 0; ; offset += PAGE_ORDERS) {
    const page = (await api(`/api/hotline/orders?limit=${PAGE_ORDERS}&offset=${offset}`)).orders;
    orders.push(...page);
    if (page.length < PAGE_ORDERS) return orders;
  }
}

// PostgreSQL away (503) keeps what is shown and says so; the next refresh tries again.
async function refresh() {
  try {
    const [orders, rates] = await Promise.all([allOrders(), api("/api/hotline/rates")]);
    hotline.orders = orders; hotline.rates = rates;
  } catch (error) {
    $("hotline-count").textContent = `not refreshed: ${error.message}`;
    return;
  }
  renderOrders(); renderRates();
  $("hotline").dataset.loaded = "1";
}

export function setupHotline(openIncident) {
  const panel = $("hotline");
  $("hotline-orders-head").innerHTML = ["工单 Order", "类别 Category", "紧急程度 Urgency", "地点 Place",
    name("clock", "contact"), name("clock", "resolve"), `${name("order_event", "callback")} Call-back`, "事件 Incident"]
    .map((h) => `<th>${escape(h)}</th>`).join("");
  $("hotline-toggle").addEventListener("click", () => {
    panel.hidden = !panel.hidden;
    hotline.drawn = {};
    if (panel.hidden) return;
    renderOrders(true); // what is held, at once; then fresh from the server
    refresh();
  });
  $("hotline-orders").addEventListener("click", (e) => {
    const button = e.target.closest("button[data-incident]");
    if (!button) return;
    panel.hidden = true;
    openIncident(button.dataset.incident);
  });
  refresh(); // the overdue count on the button, before anyone opens the view, and kept current
  hotline.timer = setInterval(refresh, REFRESH_MS);
}
