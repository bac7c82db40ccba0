"""The console's 周报 view: every weekly 专报 the sinks made for the street (sinks/weekly_reports.py), and
their files, to any signed-in dispatcher of that street (a report holds the street's figures, as the 12345 rates
do). A dispatcher of every street (district) names one with ?street=, or the district's own report (全区,
under the district's id), which comes first and is the default; another street's report, and the district's,
do not exist for a street's dispatcher (404 naming `street`)."""

from __future__ import annotations

import re
from collections.abc import Callable

from aiohttp import web

from config.geometry import Geometry
from consumers.console.reads import fresh_json, from_postgres
from consumers.report.district import reported_district
from schemas.display import WHOLE_DISTRICT, local_minute
from schemas.fields import FieldError
from sinks.weekly_reports import FILES, made_reports, report_file
from streams.http.refusal import refusal_response
from streams.scope import street_scope

WEEK = re.compile(r"^\d{4}-W(0[1-9]|[1-4][0-9]|5[0-3])$")
# A report is a document of our own making: its styles are inline, it runs no script and loads nothing.
REPORT_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; font-src data:; frame-ancestors 'none'"


class ReportViews:
    """GET /api/reports and GET /reports/{week}.html|.pdf; `pool` reads the app's PostgreSQL pool."""

    def __init__(self, geometry: Geometry, timezone: str, pool: Callable):
        self.geometry, self.timezone, self.pool = geometry, timezone, pool

    def choices(self, request: web.Request) -> list[dict]:
        """What the dispatcher may pick, {id, name}: for one who sees every street of a district, the district
        (全区) first, then the streets; else its own street."""
        mine = street_scope(request["dispatcher"], self.geometry)
        whole = reported_district(self.geometry) if mine is None else None
        found = [{"id": whole[0], "name": f"{WHOLE_DISTRICT}（{whole[1]}）"}] if whole else []
        return found + [{"id": s.id, "name": s.name} for s in self.geometry.streets.values() if mine in (None, s.id)]

    def street(self, request: web.Request, choices: list[dict]) -> str:
        """The street (or district) asked for (?street=) among the dispatcher's `choices`, by default the first;
        FieldError naming `street` for one the dispatcher does not see."""
        mine = [c["id"] for c in choices]
        asked = request.query.get("street") or (mine[0] if mine else "")
        if asked not in mine:
            raise FieldError(
                "street", f"no street {asked!r:.80} among those of dispatcher {request['dispatcher'].subject}"
            )
        return asked

    async def listing(self, request: web.Request) -> web.Response:
        choices = self.choices(request)  # the dispatcher's street, worked out once: checked, then offered
        try:
            street = self.street(request, choices)
        except FieldError as bad:
            return refusal_response(404, bad.reason, [bad])
        found = await from_postgres(lambda db: made_reports(db, street), self.pool(), "reports")
        if isinstance(found, web.Response):
            return found
        which = f"?street={street}" if len(self.geometry.streets) > 1 else ""  # the files of this street
        rows = [
            {
                "week": r["week"],
                "made_at": r["made_at"],
                "made_local": local_minute(r["made_at"], self.timezone),
                "announced_at": r["announced_at"],
                "html": f"/reports/{r['week']}.html{which}",
                "pdf": f"/reports/{r['week']}.pdf{which}",
                "html_bytes": r["html_bytes"],
                "pdf_bytes": r["pdf_bytes"],
            }
            for r in found
        ]
        body = {"street": street, "streets": choices, "timezone": self.timezone, "reports": rows}
        return fresh_json(body)

    async def file(self, request: web.Request) -> web.Response:
        week, kind = request.match_info["week"], request.match_info["kind"]
        try:
            street = self.street(request, self.choices(request))
            if not WEEK.match(week):
                raise FieldError("week", f"{week!r:.40} is not an ISO week: write YYYY-Www, e.g. 2026-W49")
        except FieldError as bad:
            return refusal_response(404 if bad.field == "street" else 400, bad.reason, [bad])
        found = await from_postgres(lambda db: report_file(db, street, week, kind), self.pool(), "reports")
        if isinstance(found, web.Response):
            return found
        if found is None:
            missing = FieldError("week", f"no weekly report of {week} has been made")
            return refusal_response(404, missing.reason, [missing])
        headers = {"Cache-Control": "private, max-age=300", "Content-Security-Policy": REPORT_CSP}
        if kind == "pdf":
            headers["Content-Disposition"] = f'inline; filename="redwall-{street}-{week}.pdf"'
        return web.Response(body=found, headers={"Content-Type": FILES[kind], **headers})
