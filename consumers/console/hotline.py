"""The console's 12345 view (接诉即办), read from PostgreSQL through sinks/hotline_rates.py: work orders with
their two clocks, and the rates per community with their n. A community dispatcher sees its own community's
orders only; the rates, counts without content, are the street's table and every dispatcher reads them. A
street's dispatcher reads its street's orders and rates only, a district's every street's."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from datetime import UTC, datetime

from aiohttp import web

from config.calendar import WorkingCalendar
from config.geometry import Geometry
from config.hotline import HotlineConfig
from consumers.console.reads import fresh_json, from_postgres
from schemas.display import LEVEL, WHOLE_DISTRICT
from schemas.fields import FieldError
from sinks.hotline_rates import ORDER_STATUSES, PERIODS, orders_page, rates
from streams.http.refusal import refusal_response
from streams.scope import street_scope

MAX_ROWS = 200
MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


class HotlineViews:
    """GET /api/hotline/orders and GET /api/hotline/rates; `pool` reads the app's PostgreSQL pool."""

    def __init__(
        self,
        config: HotlineConfig,
        calendar: WorkingCalendar,
        pool: Callable,
        now: Callable[[], datetime] | None = None,
        geometry: Geometry | None = None,
    ):
        self.config, self.calendar, self.timezone, self.pool = config, calendar, calendar.tz.key, pool
        self.geometry = geometry  # a street's dispatcher reads its street's orders only
        self.now = now or (lambda: datetime.now(UTC))

    async def orders(self, request: web.Request) -> web.Response:
        query, who = request.query, request["dispatcher"]
        try:
            status = _choice(query, "status", ORDER_STATUSES, "open")
            limit, offset = _integer(query, "limit", 50, 1, MAX_ROWS), _integer(query, "offset", 0, 0, 1_000_000)
            community = query.get("community") or None
            if who.role == "community":
                if community not in (None, who.community):
                    raise FieldError("community", f"a community dispatcher reads only the orders of {who.community}")
                community = who.community
        except FieldError as bad:
            return refusal_response(403 if bad.field == "community" else 400, bad.reason, [bad])
        now, street = self.now(), self.geometry and street_scope(who, self.geometry)
        found = await from_postgres(
            lambda db: orders_page(
                db, now, self.calendar, status=status, community=community, limit=limit, offset=offset, street=street
            ),
            self.pool(),
            "hotline",
        )
        if isinstance(found, web.Response):
            return found
        return fresh_json({"now": now, "community": community, "status": status, "orders": found})

    async def rates(self, request: web.Request) -> web.Response:
        query = request.query
        try:
            by = _choice(query, "by", ("street", "community", "grid", "category"), "community")
            period = _choice(query, "period", PERIODS, "month")
            month = query.get("month") or None
            if month is not None and not MONTH.match(month):
                raise FieldError("month", f"{month!r:.40} is not a month: write YYYY-MM, e.g. 2026-12")
        except FieldError as bad:
            return refusal_response(400, bad.reason, [bad])
        now, config, tz = self.now(), self.config, self.timezone
        street = self.geometry and street_scope(request["dispatcher"], self.geometry)
        # The figure above the table: the viewer's street, or the whole district for who sees every street.
        whole = "district" if street is None and self.geometry and len(self.geometry.streets) > 1 else "street"

        async def both(db):
            return [
                await rates(db, config, now, by=grouping, period=period, month=month, tz=tz, street=street)
                for grouping in (by, whole)
            ]

        found = await from_postgres(both, self.pool(), "hotline")
        if isinstance(found, web.Response):
            return found
        rows, street = ([dataclasses.asdict(rate) for rate in group] for group in found)
        body = {"now": now, "by": by, "period": period, "month": month, "min_n": config.min_n, "rates": rows}
        body["street"] = street[0] if street else None
        body["whole"] = WHOLE_DISTRICT if whole == "district" else LEVEL["street"]
        return fresh_json({**body, "weights": dict(config.weights)})


def _choice(query, field: str, allowed: tuple[str, ...], default: str) -> str:
    value = query.get(field, default)
    if value not in allowed:
        raise FieldError(field, f"{value!r:.40} is not one of {', '.join(allowed)}")
    return value


def _integer(query, field: str, default: int, low: int, high: int) -> int:
    raw = query.get(field)
    if raw is None:
        return default
    # ASCII digits only: str.isdigit() also takes '²', which int() refuses.
    if not (raw.isascii() and raw.isdigit()) or not low <= int(raw) <= high:
        raise FieldError(field, f"{raw!r:.40} is not a whole number from {low} to {high}")
    return int(raw)
