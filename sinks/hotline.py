"""The 12345 sink: redwall.hotline-located.v1 into hotline_orders and hotline_order_events, one
transaction per batch.

An order is stored once, as placed (a resend changes nothing), with 前响应 decided when it is stored:
`grid_first` when `reports` holds a report of the same category, not made from an order (device 12345),
within [precursor] radius_m of the order's point and days before its dispatch (`prior_report`, the
earliest such). So the field reports must be in `reports` before the order is: the sink's reports
consumer keeps up within seconds, an order comes minutes to days after its precursors. Only an order
placed by a point (its location or its address) has precursors: one placed by its grid or community
stands at the area's centre, which says nothing of where the problem is.

Every event is kept as posted, also one that comes before its order; then the state columns of every
order the batch touched are derived again from all its events, so redelivery and arrival order give
the same row: contacted_at the first contact, extended_to the newest extension's new limit, and the
newest return, close and call-back. An extended order's early warning (extended_warn_at) is counted
then on the working calendar, in the measure of the order's own resolve limit (migration 0015); an
order stored without its limits as written (before 0015) has none, and its clocks keep the linear share.
"""

from __future__ import annotations

from datetime import datetime

import asyncpg

from config.calendar import WorkingCalendar
from config.crs import METRES_PER_DEGREE
from config.hotline import HotlineConfig, extended_warning
from schemas import json
from schemas.hotline import HOTLINE_DEVICE
from schemas.records import POINT_PLACED
from sinks.postgres import transaction
from sinks.sql import as_columns, row_count, unnest_insert

# SQL: one of the ways of placing that say where the matter is.
BY_POINT = "(" + ", ".join(f"'{way}'" for way in POINT_PLACED) + ")"


def at_a_place(reports: str) -> str:
    """SQL: the report `reports` (a table name or alias) marks a place. One that stands for a 12345 order
    placed only by its community or grid sits at the area's centre: counted, but never a hot cell. A
    phone's report (placed_by NULL) is placed by its own point."""
    return f"({reports}.placed_by IS NULL OR {reports}.placed_by IN {BY_POINT})"


_ORDER_COLUMNS = [
    ("id", "text"),
    ("received_at", "timestamptz"),
    ("dispatched_at", "timestamptz"),
    ("channel", "text"),
    ("appeal_type", "text"),
    ("catalogue", "jsonb"),
    ("catalogue_code", "text"),
    ("urgency", "text"),
    ("content", "text"),
    ("address", "text"),
    ("lat", "float8"),
    ("lng", "float8"),
    ("street_id", "text"),
    ("community_id", "text"),
    ("grid_id", "text"),
    ("cell", "text"),
    ("placed_by", "text"),
    ("category", "text"),
    ("report_id", "text"),
    ("lead_unit", "text"),
    ("assisting_units", "jsonb"),
    ("contact_masked", "text"),
    ("contact_hash", "text"),
    ("contact_by", "timestamptz"),
    ("resolve_by", "timestamptz"),
    ("warn_at", "float4"),
    ("rules_version", "text"),
    ("contact_limit", "text"),
    ("resolve_limit", "text"),
    ("contact_warn_at", "timestamptz"),
    ("resolve_warn_at", "timestamptz"),
]
_WIDTH = len(_ORDER_COLUMNS)
_NAMES = ", ".join(name for name, _ in _ORDER_COLUMNS)
_ARRAYS = ", ".join(f"${i}::{kind}[]" for i, (_, kind) in enumerate(_ORDER_COLUMNS, 1))
_DAYS, _RADIUS, _HALF_SIDE = (f"${_WIDTH + i}" for i in (1, 2, 3))

# The box around the point (degrees of latitude; of longitude widened by 1/cos(lat)) narrows the reports of
# the category and days (reports_category_time) before the equirectangular distance decides.
_INSERT_ORDERS = f"""
INSERT INTO hotline_orders ({_NAMES}, grid_first, prior_report)
SELECT t.*, p.id IS NOT NULL, p.id
FROM unnest({_ARRAYS}) AS t({_NAMES})
LEFT JOIN LATERAL (
    SELECT r.id FROM reports r
    WHERE t.placed_by IN {BY_POINT} AND r.category = t.category AND r.device_id <> '{HOTLINE_DEVICE}'
      AND r.event_time BETWEEN t.dispatched_at - make_interval(days => {_DAYS}::int) AND t.dispatched_at
      AND r.lat BETWEEN t.lat - {_HALF_SIDE}::float8 AND t.lat + {_HALF_SIDE}::float8
      AND r.lng BETWEEN t.lng - {_HALF_SIDE}::float8 / cos(radians(t.lat))
                    AND t.lng + {_HALF_SIDE}::float8 / cos(radians(t.lat))
      AND {METRES_PER_DEGREE} * sqrt((r.lat - t.lat) ^ 2 + ((r.lng - t.lng) * cos(radians(t.lat))) ^ 2)
          <= {_RADIUS}::float8
    ORDER BY r.event_time, r.id
    LIMIT 1
) p ON true
ON CONFLICT (id) DO NOTHING
"""
_INSERT_EVENTS = unnest_insert(
    "hotline_order_events",
    [
        ("id", "text"),
        ("order_id", "text"),
        ("kind", "text"),
        ("event_time", "timestamptz"),
        ("actor", "text"),
        ("payload", "jsonb"),
    ],
    "(id)",
)


def _newest(kind: str, fields: str) -> str:
    return (
        f"LEFT JOIN LATERAL (SELECT event_time, payload FROM hotline_order_events e "
        f"WHERE e.order_id = o.id AND e.kind = '{kind}' ORDER BY event_time DESC, id DESC LIMIT 1) {fields} ON true"
    )


# Ties in time go to the greater event id, so the row never depends on which copy came last.
_DERIVE_STATE = f"""
UPDATE hotline_orders AS h SET
    contacted_at = s.contacted_at, extended_to = s.extended_to, returned_at = s.returned_at,
    returned_to = s.returned_to, closed_at = s.closed_at, result = s.result, callback_at = s.callback_at,
    callback_resolved = s.callback_resolved, satisfaction = s.satisfaction
FROM (
    SELECT o.id,
        (SELECT min(event_time) FROM hotline_order_events e WHERE e.order_id = o.id AND e.kind = 'contacted')
            AS contacted_at,
        (x.payload ->> 'new_limit')::timestamptz AS extended_to,
        r.event_time AS returned_at, r.payload ->> 'returned_to' AS returned_to,
        c.event_time AS closed_at, c.payload ->> 'result' AS result,
        b.event_time AS callback_at, (b.payload ->> 'resolved') = 'yes' AS callback_resolved,
        b.payload ->> 'satisfaction' AS satisfaction
    FROM hotline_orders o
    {_newest("extended", "x")}
    {_newest("returned", "r")}
    {_newest("closed", "c")}
    {_newest("callback", "b")}
    WHERE o.id = ANY($1::text[])
) AS s
WHERE h.id = s.id
"""


# warn_at is a real: through numeric it comes back as written (0.8), not as 0.800000011920929.
_EXTENDED = """
SELECT id, dispatched_at, extended_to, resolve_limit, warn_at::numeric::float8 AS warn_at, extended_warn_at
FROM hotline_orders WHERE id = ANY($1::text[]) AND extended_to IS NOT NULL AND resolve_limit IS NOT NULL
"""
_SET_EXTENDED = """
UPDATE hotline_orders AS h SET extended_warn_at = t.warn
FROM unnest($1::text[], $2::timestamptz[]) AS t(id, warn) WHERE h.id = t.id
"""


class HotlineSink:
    """Writes redwall.hotline-located.v1 batches; every write is safe to repeat, in any order."""

    def __init__(self, pool: asyncpg.Pool, config: HotlineConfig, calendar: WorkingCalendar):
        self.pool = pool
        self.config = config
        self.calendar = calendar

    async def write(self, records: list[dict]) -> dict[str, int]:
        orders = [_order_row(r) for r in records if r["type"] == "order"]
        events = [_event_row(r) for r in records if r["type"] == "event"]
        touched = sorted({row[0] for row in orders} | {row[1] for row in events})
        half_side = self.config.precursor_radius_m / METRES_PER_DEGREE
        async with transaction(self.pool) as conn:
            stored = await conn.execute(
                _INSERT_ORDERS,
                *as_columns(orders, _WIDTH),
                self.config.precursor_days,
                self.config.precursor_radius_m,
                half_side,
            )
            kept = await conn.execute(_INSERT_EVENTS, *as_columns(events, 6))
            if touched:
                await conn.execute(_DERIVE_STATE, touched)
                await self._warn_extended(conn, touched)
        return {"hotline_orders": row_count(stored), "hotline_order_events": row_count(kept)}

    async def _warn_extended(self, conn, touched: list[str]) -> None:
        """Count the early warning of each touched order's newest extension (same in every replay)."""
        changed = []
        for o in await conn.fetch(_EXTENDED, touched):
            warn = extended_warning(
                self.calendar, o["dispatched_at"], o["extended_to"], o["resolve_limit"], o["warn_at"]
            )
            if warn != o["extended_warn_at"]:
                changed.append((o["id"], warn))
        if changed:
            await conn.execute(_SET_EXTENDED, *as_columns(changed, 2))


def _order_row(r: dict) -> tuple:
    point, limits = r.get("point") or {}, r["limits"]
    return (
        r["id"],
        datetime.fromisoformat(r["received_at"]),
        datetime.fromisoformat(r["dispatched_at"]),
        r["channel"],
        r["appeal_type"],
        json.dumps(r["catalogue"]).decode(),
        r["catalogue"][-1]["code"],
        r["urgency"],
        r["content"],
        r["address"],
        point.get("lat"),
        point.get("lng"),
        r["street"],
        r["community"],
        r.get("grid"),
        r.get("cell"),
        r["placed_by"],
        r["category"],
        r["report"],
        r["lead_unit"],
        json.dumps(r.get("assisting_units", [])).decode(),
        r["contact_masked"],
        r["contact_hash"],
        datetime.fromisoformat(limits["contact_by"]),
        datetime.fromisoformat(limits["resolve_by"]),
        limits["warn_at"],
        limits["rules"],
        limits.get("contact_limit"),
        limits.get("resolve_limit"),
        _time(limits.get("contact_warn_at")),
        _time(limits.get("resolve_warn_at")),
    )


def _time(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def _event_row(r: dict) -> tuple:
    payload = {k: v for k, v in r.items() if k not in ("type", "id", "order", "kind", "time", "actor")}
    return (
        r["id"],
        r["order"],
        r["kind"],
        datetime.fromisoformat(r["time"]),
        r.get("actor"),
        json.dumps(payload).decode(),
    )
