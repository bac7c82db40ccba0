// An incident's clocks as the list and the detail say them: time left in the limit's own measure (剩余
// 3工时20分 for working time, 剩余 2小时05分 for calendar time), and the open pause (挂起) with its reason,
// since when, and whether it waits for a street dispatcher's approval.
"use strict";

import { escape, localMinute, name, span } from "./core.js";
import { counted, isWorking, limitOf, workSpan } from "./worktime.js";

// An approved pause stops the clocks until resumed: no deadline runs, none can be passed.
export const isStopped = (i) => !!(i.pause && i.pause.approved_by);

// What does not count from now on: an unapproved pause, until its counts_until ([pause] approve_after).
function stops(i) {
  const p = i.pause;
  return p && !p.approved_by && p.counts_until ? [[Date.parse(p.since), Date.parse(p.counts_until)]] : [];
}

const inMeasure = (working, seconds) => (working ? workSpan(seconds) : span(seconds * 1000));

// Time left to the deadline `at` (ms) of `kind` at `now`.
export function left(i, kind, at, now) {
  const working = isWorking(limitOf(i, kind));
  return `剩余 ${inMeasure(working, counted(now, at, working, stops(i)) / 1000)}`;
}

// The share of the time to the deadline `at` gone by `now`, counted from the current clock's start.
export function share(i, kind, at, now) {
  const since = Date.parse((i.clock && i.clock.since) || i.opened_at), working = isWorking(limitOf(i, kind));
  const whole = counted(since, at, working, stops(i));
  return whole > 0 ? counted(since, now, working, stops(i)) / whole : 0;
}

// While the clocks stand still: what was left when the pause began (the state's `remaining`).
export function leftStopped(i, kind) {
  const seconds = (i.remaining || {})[kind];
  if (seconds == null) return "";
  const measured = inMeasure(isWorking(limitOf(i, kind)), seconds);
  return seconds < 0 ? `${escape(name("incident_event", "deadline_missed"))} ${measured}` : `剩余 ${measured}`;
}

// The deadline that binds a stopped incident: acknowledge until acknowledged, then resolve.
export const stoppedKind = (i) => (i.status === "assigned" && (i.remaining || {}).acknowledge != null
  ? "acknowledge" : "resolve");

// 挂起 · 等待居民 · 自 2026-12-06 14:22 · 待批准, and what approval changes.
export function pauseLine(i) {
  const p = i.pause;
  if (!p) return "";
  const how = p.approved_by ? "已批准 · 恢复计时前不计时"
    : `待批准 · 停表至 ${localMinute(p.counts_until)}，批准后不计时`;
  return `<span class="paused">${escape(name("action", "pause"))}</span> ${escape(name("pause_reason", p.reason))}
    · 自 ${localMinute(p.since)} · ${escape(how)}`;
}
