"""The console's daily patrol summary (sinks/patrol_day.py): GET /api/patrol/day?date=YYYY-MM-DD&device=D. The day
is one in REDWALL_TIMEZONE (today there when not given); any signed-in dispatcher may ask, and a community
dispatcher sees only the workers of its community's grids, a street's dispatcher those of its street. A bad date
is 422 naming `date`."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime

from aiohttp import web

from config.geometry import Geometry
from consumers.console.reads import fresh_json, from_postgres
from schemas.display import zone
from schemas.fields import FieldError
from sinks.patrol_day import patrol_day
from streams.http.refusal import refusal_response
from streams.scope import street_scope


class PatrolDayView:
    """GET /api/patrol/day; `pool` reads the app's PostgreSQL pool."""

    def __init__(self, settings, pool: Callable, geometry: Geometry | None = None):
        self.pool, self.tz, self.max_accuracy_m = pool, settings.timezone, settings.gps_max_accuracy_m
        self.geometry = geometry

    async def get(self, request: web.Request) -> web.Response:
        text, device = request.query.get("date"), request.query.get("device") or None
        try:
            day = date.fromisoformat(text) if text else datetime.now(UTC).astimezone(zone(self.tz)).date()
        except ValueError:
            bad = FieldError("date", f"{text!r:.40} is not a day: write YYYY-MM-DD, e.g. 2026-12-03")
            return refusal_response(422, bad.reason, [bad])
        who = request["dispatcher"]
        found = await from_postgres(
            lambda db: patrol_day(
                db,
                day,
                self.tz,
                devices=[device] if device else None,
                community=who.community if who.role == "community" else None,
                street=self.geometry and street_scope(who, self.geometry),
                max_accuracy_m=self.max_accuracy_m,
            ),
            self.pool(),
            "patrol_day",
        )
        if isinstance(found, web.Response):
            return found
        return fresh_json({"date": day.isoformat(), "timezone": self.tz, "workers": [w.as_dict() for w in found]})
