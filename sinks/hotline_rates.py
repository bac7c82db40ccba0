"""The 12345 figures read from PostgreSQL as of a given `now`, so current as soon as an event is stored:
the rates per street, community, grid or category (`rates`), the 每月一题 candidates
(`topic_candidates`), and the orders with their clocks for the console (`orders_page`).

The counting rules (config/hotline.toml [rates], illustrative: no official formula is public), over the
orders dispatched in the period, less those returned (退单) when exclude_returned:
  响应率 response    contacted by contact_by / orders whose contact is due or done
  解决率 resolution  call-backs resolved yes / call-backs
  满意率 satisfaction (satisfied + basically_satisfied × its weight) / call-backs
  按时办结率 on_time  closed by their limit (the newest extension's, else as dispatched) /
                     (closed + open past their limit): an open order past its limit is late already
  综合得分 composite  Σ weights × (response, resolution, satisfaction); none while one of them has no data
  前响应 grid_first   orders the grid saw first / orders placed by a point (location, address);
                     blind_spots: the others
An event counts once its time is at or before `now`. A rate without a denominator is None; `ranked` only
where n >= min_n. By grid, only orders placed in a grid count.

每月一题: per (grid, category), this month's count c against the mean m of the `topic_months` months
before; flagged when c >= min_count and 2·(√c − √m) >= z (the square root steadies a Poisson count, so
the test holds for the small numbers of one grid).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from config.calendar import WorkingCalendar
from config.hotline import HotlineConfig
from config.spans import parse_span
from schemas.display import CATEGORY, PLACED, WHOLE_DISTRICT, zone
from schemas.records import POINT_PLACED, UNLOCATED
from sinks.postgres import connection

BY = ("district", "street", "community", "grid", "category")  # district: every order the deployment holds
PERIODS = ("month", "30d")
RATES = ("response", "resolution", "satisfaction", "on_time", "composite")
_TICK = timedelta(microseconds=1)  # PostgreSQL's resolution
_KEY_COLUMN = {"street": "street_id", "community": "community_id", "grid": "grid_id", "category": "category"}
DISTRICT = "district"  # the key of the one group `by="district"` makes

_ORDERS = """
SELECT id, street_id, community_id, grid_id, category, placed_by, dispatched_at, contact_by,
       coalesce(extended_to, resolve_by) AS limit_at, contacted_at, returned_at, closed_at, callback_at,
       callback_resolved, satisfaction, grid_first
FROM hotline_orders WHERE dispatched_at >= $1 AND dispatched_at < $2 AND dispatched_at <= $3
  AND ($4::text IS NULL OR street_id = $4)
"""


@dataclass(frozen=True)
class Rate:
    key: str
    name: str
    n: int
    callbacks: int
    response: float | None
    resolution: float | None
    satisfaction: float | None
    on_time: float | None
    composite: float | None
    grid_first: float | None
    blind_spots: int
    ranked: bool


def month_bounds(month: str | None, now: datetime, tz: str) -> tuple[datetime, datetime]:
    """[first instant, first instant of the next) of `month` ("YYYY-MM", default now's) in `tz`."""
    local = now.astimezone(zone(tz))
    try:
        year, number = (int(part) for part in month.split("-")) if month else (local.year, local.month)
        start = datetime(year, number, 1, tzinfo=zone(tz))
    except ValueError:
        raise ValueError(f"month {month!r} is not YYYY-MM, e.g. {local:%Y-%m}") from None
    return start, _shift(start, 1)


def _shift(start: datetime, months: int) -> datetime:
    index = start.year * 12 + start.month - 1 + months
    return start.replace(year=index // 12, month=index % 12 + 1)


def _ratio(part: float, whole: int) -> float | None:
    return part / whole if whole else None


def _done(t: datetime | None, now: datetime) -> bool:
    return t is not None and t <= now


def counted(orders: Iterable, config: HotlineConfig, now: datetime) -> list:
    """The orders the rates count: all, less those returned by `now` when exclude_returned."""
    return [o for o in orders if not (config.exclude_returned and _done(o["returned_at"], now))]


def rate_of(key: str, name: str, orders: list, config: HotlineConfig, now: datetime) -> Rate:
    """The rates of `orders` (rows of _ORDERS) as of `now`: the pure core of `rates`."""

    def done(t: datetime | None) -> bool:
        return _done(t, now)

    kept = counted(orders, config, now)
    due = [o for o in kept if o["contact_by"] <= now or done(o["contacted_at"])]
    in_time = sum(done(o["contacted_at"]) and o["contacted_at"] <= o["contact_by"] for o in due)
    calls = [o for o in kept if done(o["callback_at"])]
    worth = {"satisfied": 1.0, "basically_satisfied": config.basically_satisfied}
    closed = [o for o in kept if done(o["closed_at"])]
    late_open = [o for o in kept if not (done(o["closed_at"]) or done(o["returned_at"])) and o["limit_at"] <= now]
    placed = [o for o in kept if o["placed_by"] in POINT_PLACED]
    seen = sum(o["grid_first"] for o in placed)
    three = {
        "response": _ratio(in_time, len(due)),
        "resolution": _ratio(sum(o["callback_resolved"] for o in calls), len(calls)),
        "satisfaction": _ratio(sum(worth.get(o["satisfaction"], 0.0) for o in calls), len(calls)),
    }
    weighted = [(w, three[r]) for r, w in config.weights.items() if w]
    composite = None if any(v is None for _, v in weighted) else sum(w * v for w, v in weighted)
    return Rate(
        key=key,
        name=name,
        n=len(kept),
        callbacks=len(calls),
        **three,
        on_time=_ratio(sum(o["closed_at"] <= o["limit_at"] for o in closed), len(closed) + len(late_open)),
        composite=composite,
        grid_first=_ratio(seen, len(placed)),
        blind_spots=len(placed) - seen,
        ranked=len(kept) >= config.min_n,
    )


def ranking(found: Iterable[Rate]) -> list[Rate]:
    """Ranked first, by composite descending (none last), then by key."""
    return sorted(found, key=lambda r: (not r.ranked, r.composite is None, -(r.composite or 0.0), r.key))


async def rates(
    db,
    config: HotlineConfig,
    now: datetime,
    *,
    by: str = "community",
    period: str = "month",
    month: str | None = None,
    tz: str,
    street: str | None = None,
) -> list[Rate]:
    """The rates of the orders dispatched in the period (of `street` when given), one per `by` key. `period`
    "month": `month` ("YYYY-MM", default now's in `tz`) to date, a past month whole; "30d": the 30 days to `now`."""
    if by not in BY or period not in PERIODS:
        raise ValueError(f"by must be one of {', '.join(BY)} and period one of {', '.join(PERIODS)}")
    # The rolling 30 days end at `now` included.
    start, end = month_bounds(month, now, tz) if period == "month" else (now - timedelta(days=30), now + _TICK)
    async with connection(db) as conn:
        orders = await conn.fetch(_ORDERS, start, end, now, street)
        names = await place_names(conn, by)
    groups = defaultdict(list)
    for order in orders:
        key = order[_KEY_COLUMN[by]] if by != DISTRICT else DISTRICT
        if key is not None:
            groups[key].append(order)
    return ranking(rate_of(key, names.get(key, key), rows, config, now) for key, rows in groups.items())


async def place_names(conn, by: str) -> dict[str, str]:
    """The Chinese name of each key `by` groups on."""
    if by == "category":
        return dict(CATEGORY)
    if by == DISTRICT:
        return {DISTRICT: WHOLE_DISTRICT}
    table = {"street": "streets", "community": "communities", "grid": "grids"}[by]
    found = {r["id"]: r["name"] for r in await conn.fetch(f"SELECT id, name FROM {table}")}
    return {UNLOCATED: PLACED["unlocated"], **found}


async def topic_candidates(
    db, config: HotlineConfig, now: datetime, *, month: str | None = None, tz: str
) -> list[dict]:
    """每月一题: (grid, category) pairs of `month` (to date) recurring beyond their usual level, the most
    unusual first."""
    start, end = month_bounds(month, now, tz)
    async with connection(db) as conn:
        orders = await conn.fetch(_ORDERS, _shift(start, -config.topic_months), end, now, None)
    this, before, community = defaultdict(list), defaultdict(int), {}
    for o in counted(orders, config, now):
        if o["grid_id"] is None:
            continue
        pair = (o["grid_id"], o["category"])
        community[pair] = o["community_id"]
        if o["dispatched_at"] >= start:
            this[pair].append(o["id"])
        else:
            before[pair] += 1
    found = []
    for (grid, category), ids in this.items():
        count, usual = len(ids), before[(grid, category)] / config.topic_months
        z = 2 * (math.sqrt(count) - math.sqrt(usual))
        if count >= config.topic_min_count and z >= config.topic_z:
            found.append(
                {
                    "grid": grid,
                    "community": community[(grid, category)],
                    "category": category,
                    "count": count,
                    "usual": usual,
                    "z": z,
                    "orders": sorted(ids),
                }
            )
    return sorted(found, key=lambda t: (-t["z"], t["grid"], t["category"]))


ORDER_STATUSES = ("open", "closed", "returned", "all")
_STATUS = {
    "open": "o.closed_at IS NULL AND o.returned_at IS NULL",
    "closed": "o.closed_at IS NOT NULL",
    "returned": "o.closed_at IS NULL AND o.returned_at IS NOT NULL",
    "all": "true",
}
_PAGE = """
SELECT o.id, o.dispatched_at, o.street_id, o.community_id, c.name AS community_name, o.grid_id, g.name AS grid_name,
       o.lat, o.lng, o.placed_by, o.address, o.category, o.urgency, o.appeal_type, o.content, o.contact_masked,
       o.contact_by, o.contacted_at, coalesce(o.extended_to, o.resolve_by) AS limit_at, o.extended_to,
       o.contact_limit, o.resolve_limit,
       o.closed_at, o.result, o.returned_at, o.returned_to, o.callback_at, o.callback_resolved, o.satisfaction,
       o.grid_first, o.report_id, ir.incident_id
FROM hotline_orders o
LEFT JOIN communities c ON c.id = o.community_id
LEFT JOIN grids g ON g.id = o.grid_id
LEFT JOIN incident_reports ir ON ir.report_id = o.report_id
WHERE ($1::text IS NULL OR o.community_id = $1) AND ($4::text IS NULL OR o.street_id = $4) AND {status}
ORDER BY {order}, o.id LIMIT $2 OFFSET $3
"""


async def orders_page(
    db,
    now: datetime,
    calendar: WorkingCalendar,
    *,
    status: str = "open",
    community: str | None = None,
    limit: int = 50,
    offset: int = 0,
    street: str | None = None,
) -> list[dict]:
    """Orders (of `community` and `street` when given) with their place, clocks as of `now` (time left or overdue in each limit's own measure, on
    `calendar`), call-back and incident; open ones nearest their limit first, the others newest first.
    Times are RFC 3339."""
    if status not in ORDER_STATUSES:
        raise ValueError(f"status must be one of {', '.join(ORDER_STATUSES)}")
    order = "limit_at" if status == "open" else "o.dispatched_at DESC"
    async with connection(db) as conn:
        rows = await conn.fetch(_PAGE.format(status=_STATUS[status], order=order), community, limit, offset, street)
    return [_page_row(r, now, calendar) for r in rows]


def _page_row(r, now: datetime, calendar: WorkingCalendar) -> dict:
    row = {k: v.isoformat() if isinstance(v, datetime) else v for k, v in dict(r).items()}
    row["status"] = "closed" if r["closed_at"] else "returned" if r["returned_at"] else "open"
    row["clocks"] = {
        "contact": _clock(r["contact_by"], r["contacted_at"], now, _working(r["contact_limit"]), calendar),
        "resolve": _clock(
            r["limit_at"], r["closed_at"] or r["returned_at"], now, _working(r["resolve_limit"]), calendar
        ),
    }
    return row


def _working(limit: str | None) -> bool:
    return bool(limit) and parse_span(limit).working  # an order stored before 0015 has none: calendar time


def _clock(due: datetime, done_at: datetime | None, now: datetime, working: bool, calendar: WorkingCalendar) -> dict:
    """One limit as of `now`: seconds remaining, or overdue, while its step is not done (working seconds for
    a working-time limit); late when done after."""
    left = calendar.between(now, due, True) if working and done_at is None else (due - now).total_seconds()
    return {
        "due": due.isoformat(),
        "done_at": done_at.isoformat() if done_at else None,
        "working": working,
        "remaining_seconds": left if done_at is None and left > 0 else None,
        "overdue_seconds": -left if done_at is None and left <= 0 else None,
        "late": done_at is not None and done_at > due,
    }
