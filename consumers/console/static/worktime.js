// Working time as the street counts it (config/calendar.py): the working hours served by /api/calendar, in
// UTC ms, from 30 days back to 60 ahead. A limit written in wh or wd counts only inside them; pauses count
// in neither. The browser tests compare these counts with WorkingCalendar.counted.
"use strict";

export const calendar = { day: 8 * 3600, intervals: [] }; // day: seconds of one working day (1wd)

export function setCalendar(body) { Object.assign(calendar, body); }

// The part of [from, to) outside the pauses ([from, to) each), as [from, to) pieces.
function outside(from, to, pauses) {
  let pieces = [[from, to]];
  for (const [p0, p1] of pauses) {
    pieces = pieces.flatMap(([a, b]) => (p1 <= a || p0 >= b ? [[a, b]]
      : [[a, Math.min(b, p0)], [Math.max(a, p1), b]].filter(([x, y]) => y > x)));
  }
  return pieces;
}

// Milliseconds that count between `from` and `to`: working time or all of it, the pauses not counting.
export function counted(from, to, working, pauses = [], intervals = calendar.intervals) {
  let total = 0;
  for (const [a, b] of outside(from, to, pauses)) {
    if (!working) { total += b - a; continue; }
    for (const [lo, hi] of intervals) {
      if (hi > a && lo < b) total += Math.min(hi, b) - Math.max(lo, a);
    }
  }
  return total;
}

// "4wh", "2wd": working time; "30m", "4h", "7d": calendar time.
export const isWorking = (limit) => /w[hd]$/.test(limit || "");

// The limit a deadline of the incident runs under: its own limits at its level (an approved extension's
// for resolve). Absent (an incident older than the limits in its state): calendar time.
export function limitOf(i, kind) {
  if (kind === "resolve" && i.clock && i.clock.extended) return i.clock.extended;
  return ((i.limits || {})[i.level] || {})[kind] || "";
}

// Working seconds as a dispatcher reads them: 1工作日2工时, 3工时20分, 45分钟.
export function workSpan(seconds, day = calendar.day) {
  const total = Math.floor(Math.abs(seconds) / 60), perDay = Math.round(day / 60);
  const days = Math.floor(total / perDay), rest = total % perDay;
  const hours = Math.floor(rest / 60), minutes = rest % 60;
  if (days) return hours ? `${days}工作日${hours}工时` : `${days}工作日`;
  if (hours) return `${hours}工时${String(minutes).padStart(2, "0")}分`;
  return `${minutes}分钟`;
}

// A limit as written in the rules, in words: 2工作日, 4工时, 30分钟, 4小时, 7天.
export function limitText(limit) {
  const match = /^([0-9.]+)(wh|wd|s|m|h|d)$/.exec(limit || "");
  if (!match) return limit || "";
  return `${match[1]}${{ wh: "工时", wd: "工作日", s: "秒", m: "分钟", h: "小时", d: "天" }[match[2]]}`;
}
