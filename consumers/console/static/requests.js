// The detail's controls for the clocks: 挂起 (a reason from PAUSE_REASON and a text), 恢复计时, 申请延期 (a
// limit like 3wd), 退回 (the unit), and the requests waiting for a street dispatcher's 批准 or 不予批准. Only
// what the dispatcher's role may take ([actions.roles], in the snapshot) is offered; the console and the
// worker check it again.
"use strict";

import { escape, localMinute, name, state } from "./core.js";
import { limitText } from "./worktime.js";

const may = (action) => state.actions.includes(action);
const button = (action, extra = "") =>
  `<button type="button" data-action="${action}"${extra}>${escape(name("action", action))}</button>`;

export function timeControls(i) {
  const parts = [];
  if (i.pause && may("resume")) parts.push(`<div class="actions">${button("resume")}</div>`);
  if (!i.pause && may("pause")) {
    const reasons = Object.entries(state.names.pause_reason || {}).map(([code, zh]) =>
      `<option value="${escape(code)}">${escape(zh)}</option>`).join("");
    parts.push(`<div class="place"><select id="pause-reason" aria-label="挂起原因">${reasons}</select>
      <input id="pause-text" maxlength="2000" placeholder="说明 why">${button("pause")}</div>`);
  }
  if (may("extend")) {
    parts.push(`<div class="place"><input id="extend-limit" size="6" maxlength="16" placeholder="3wd"
      aria-label="新办结时限 new limit">${button("extend")}</div>`);
  }
  if (may("return")) {
    parts.push(`<div class="place"><input id="return-unit" maxlength="200" placeholder="所属单位 unit"
      aria-label="退回至 unit">${button("return")}</div>`);
  }
  return parts.join("");
}

// A request: what is asked (挂起, 延期 to a limit, 退回 to a unit), by whom and when; for a street
// dispatcher, 批准 and 不予批准.
export function requestsPart(i, mayAct) {
  const list = i.requests || [];
  if (!list.length) return "";
  const items = list.map((r) => {
    const what = r.kind === "extend" ? ` → ${escape(limitText(r.limit))}` : r.kind === "return" ? ` → ${escape(r.unit)}` : "";
    const answer = mayAct ? ["approve", "deny"].filter(may).map((a) =>
      button(a, ` data-request="${escape(r.action)}"`)).join(" ") : "";
    return `<li data-request="${escape(r.action)}"><b>${escape(name("request", r.kind))}</b>${what}
      · ${escape(r.actor)} · ${localMinute(r.at)} <span class="pending">待批准</span> ${answer}</li>`;
  }).join("");
  return `<h3>待批准 Requests</h3><ul class="requests">${items}</ul>`;
}
