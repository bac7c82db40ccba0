// The 周报 view: every weekly 专报 made for the street, newest first, with when it was made (the street's
// time, to the minute, as the server gives it) and its HTML and PDF files, which open in a new tab.
"use strict";

import { $, api, escape, name } from "./core.js";

function row(r) {
  return `<tr><td><b>${escape(r.week)}</b></td><td>${escape(r.made_local)}</td>
    <td><a href="${escape(r.html)}" target="_blank" rel="noopener">HTML</a>
      · <a href="${escape(r.pdf)}" target="_blank" rel="noopener">PDF</a></td></tr>`;
}

// PostgreSQL away (503) says so in the heading; the next opening tries again. A district's dispatcher picks
// whose reports are listed: the server offers the district's own (全区) first and by default, then each street.
async function refresh() {
  try {
    const picked = $("reports-street").value;
    const found = await api("/api/reports" + (picked ? `?street=${encodeURIComponent(picked)}` : ""));
    const select = $("reports-street");
    select.hidden = found.streets.length < 2;
    if (select.options.length !== found.streets.length) {
      select.innerHTML = found.streets.map((s) => `<option value="${escape(s.id)}">${escape(s.name)}</option>`).join("");
    }
    select.value = found.street;
    $("reports-title").textContent = name("alert_kind", "weekly_report");
    $("reports-list").innerHTML = found.reports.map(row).join("")
      || `<tr><td colspan="3">尚无周报 No report made yet</td></tr>`;
    $("reports-count").textContent = `${found.reports.length}`;
  } catch (error) {
    $("reports-count").textContent = `not refreshed: ${error.message}`;
  }
}

export function setupReports() {
  const panel = $("reports");
  $("reports-street").addEventListener("change", refresh);
  $("reports-toggle").addEventListener("click", () => {
    panel.hidden = !panel.hidden;
    if (!panel.hidden) refresh();
  });
}
