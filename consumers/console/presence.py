"""The console's "who was here" (sinks/presence.py): GET /api/presence?courtyard=ID|grid=ID&from=..&to=.. and
POST /api/presence with a drawn polygon. Any signed-in dispatcher may ask; a community dispatcher only inside
its own community, a street's dispatcher inside its street (403 naming the field otherwise). Times come as RFC 3339
or in REDWALL_TIMEZONE to the minute, and go back as RFC 3339 beside the street's local minute."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from aiohttp import web

from config.geometry import Area, Geometry
from config.rules import Zone
from consumers.console.reads import fresh_json, from_postgres
from schemas import json
from schemas.display import local_minute, span_zh
from schemas.fields import FieldError
from sinks.presence import Fence, check_window, drawn, named, parse_time, who_was_here
from streams.http.refusal import refusal_response
from streams.scope import street_scope


class PresenceViews:
    """GET and POST /api/presence; `pool` reads the app's PostgreSQL pool."""

    def __init__(self, geometry: Geometry, settings, pool: Callable):
        self.geometry, self.pool, self.tz = geometry, pool, settings.timezone
        self.silence = timedelta(seconds=settings.presence_silence_seconds)
        self.max_accuracy_m = settings.gps_max_accuracy_m

    async def get(self, request: web.Request) -> web.Response:
        query = request.query
        try:
            fence = named(self.geometry, query.get("courtyard") or None, query.get("grid") or None)
            start, end = parse_time(query.get("from"), "from", self.tz), parse_time(query.get("to"), "to", self.tz)
        except FieldError as bad:
            # courtyard or grid named, but not in the geometry: 404; anything else is malformed: 400
            return refusal_response(404 if bad.field in ("courtyard", "grid") else 400, bad.reason, [bad])
        return await self.answer(request, fence, start, end)

    async def post(self, request: web.Request) -> web.Response:
        try:
            body = json.loads(await request.read())
        except ValueError:
            body = None
        try:
            if not isinstance(body, dict):
                raise FieldError("body", 'is not a JSON object: {"polygon": {...}, "from": ..., "to": ...}')
            fence = drawn(body.get("polygon"))
            start, end = parse_time(body.get("from"), "from", self.tz), parse_time(body.get("to"), "to", self.tz)
        except FieldError as bad:
            return refusal_response(400, bad.reason, [bad])
        return await self.answer(request, fence, start, end)

    def outside(self, fence: Fence, area: Area) -> bool:
        """Whether a fence lies (in part) outside a community or street: a drawn polygon with a corner outside it."""
        if fence.zone is None:
            return area.id not in (self.geometry.grids[fence.grid].parent, self.geometry.street_of(fence.grid))
        mine = Zone(area.id, area.name, area.rings)
        return not all(mine.contains(lat, lng) for ring in fence.zone.rings for lng, lat in ring)

    async def answer(self, request: web.Request, fence: Fence, start: datetime, end: datetime) -> web.Response:
        try:
            check_window(start, end)
        except FieldError as bad:
            return refusal_response(400, bad.reason, [bad])
        who = request["dispatcher"]
        community = who.community if who.role == "community" else None
        refused = self.out_of_scope(who, fence)
        if refused:
            return refusal_response(403, refused.reason, [refused])
        street = street_scope(who, self.geometry)
        found = await from_postgres(
            lambda db: who_was_here(
                db,
                fence,
                start,
                end,
                silence=self.silence,
                max_accuracy_m=self.max_accuracy_m,
                community=community,
                street=street,
            ),
            self.pool(),
            "presence",
        )
        if isinstance(found, web.Response):
            return found
        return fresh_json(self.body(fence, start, end, found))

    def out_of_scope(self, who, fence: Fence) -> FieldError | None:
        """A community dispatcher asks inside its community, a street's inside its street: else the refusal."""
        field, street = "polygon" if fence.zone else fence.kind, street_scope(who, self.geometry)
        if who.role == "community" and self.outside(fence, self.geometry.communities[who.community]):
            return FieldError(field, f"a community dispatcher asks only inside {who.community}")
        if street is not None and (
            street not in self.geometry.streets or self.outside(fence, self.geometry.streets[street])
        ):
            return FieldError(
                field,
                f"dispatcher {who.subject} asks only inside its street {street or '(none: reissue it with --street)'}",
            )
        return None

    def body(self, fence: Fence, start: datetime, end: datetime, found: list[dict]) -> dict:
        tz = self.tz
        for row in found:
            for item in (row, *row["visits"]):
                item["entry_local"], item["exit_local"] = (
                    local_minute(item["entry"], tz),
                    local_minute(item["exit"], tz),
                )
                item["inside"] = span_zh(item["seconds"])
        return {
            "place": {"kind": fence.kind, "id": fence.id, "name": fence.name},
            "from": start,
            "to": end,
            "from_local": local_minute(start, tz),
            "to_local": local_minute(end, tz),
            "timezone": tz,
            "silence_seconds": self.silence.total_seconds(),
            "devices": found,
        }
