"""A deterministic stretch of 12345 orders for one street: about 200 in November 2026 to the 28th, fewer
in the three months before (the usual level of 每月一题), with contacts (some late, some never),
extensions, returns, closes (some late, some not yet) and call-backs, and field reports placed so the
grid saw some orders first. Everything as plain dicts and datetimes, so a test can count by hand."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from config.crs import METRES_PER_DEGREE, metres_per_degree_lng
from config.hotline import HotlineConfig
from tests.support.hotline import WORKING_CALENDAR
from tests.support.hotline_orders import CATALOGUE, field_report, located_order, order_event

NOW = datetime(2026, 11, 28, 4, 0, tzinfo=UTC)  # 12:00 in Beijing
MONTHS = ((2026, 8, 60), (2026, 9, 60), (2026, 10, 60), (2026, 11, 200))  # year, month, orders
GRIDS = {  # grid -> (community, its centre)
    "c01-g01": ("c01", (39.8975, 116.3600)),
    "c01-g02": ("c01", (39.8990, 116.3650)),
    "c02-g01": ("c02", (39.8975, 116.3740)),
    "c02-g02": ("c02", (39.8990, 116.3790)),
    "c03-g01": ("c03", (39.8975, 116.3850)),
    "c04-g01": ("c04", (39.9010, 116.3620)),
}
CATEGORIES = tuple(CATALOGUE)
URGENCY_WEIGHTS = {"emergency": 1, "utilities": 2, "ordinary": 6, "complex": 1}
# Planted 每月一题: this grid and category recur in November far beyond their usual level.
TOPIC = ("c02-g01", "illegal_parking", 8)


@dataclass
class Month:
    orders: list[dict] = field(default_factory=list)  # LocatedHotlineOrder records
    events: list[dict] = field(default_factory=list)  # HotlineEvent records
    reports: list[dict] = field(default_factory=list)  # LocatedReport records of the grid


def jitter(rng: random.Random, centre: tuple[float, float], metres: float) -> tuple[float, float]:
    lat, lng = centre
    dy, dx = rng.uniform(-metres, metres), rng.uniform(-metres, metres)
    return round(lat + dy / METRES_PER_DEGREE, 7), round(lng + dx / metres_per_degree_lng(lat), 7)


def generate(config: HotlineConfig, seed: int = 15) -> Month:
    rng, month = random.Random(seed), Month()
    for year, number, count in MONTHS:
        start = datetime(year, number, 1, tzinfo=UTC) - timedelta(hours=8)  # midnight in Beijing
        end = min(datetime(year, number + 1, 1, tzinfo=UTC) - timedelta(hours=8), NOW)
        planted = TOPIC[2] if number == 11 else (1 if number == 9 else 0)
        for n in range(count):
            at = start + timedelta(seconds=rng.uniform(0, (end - start).total_seconds()))
            grid, category = (TOPIC[0], TOPIC[1]) if n < planted else (rng.choice(list(GRIDS)), rng.choice(CATEGORIES))
            _order(config, rng, month, f"{year}{number:02d}-{n:03d}", at.replace(microsecond=0), grid, category)
    return month


def _order(config, rng, month: Month, order_id: str, at: datetime, grid: str, category: str) -> None:
    community, centre = GRIDS[grid]
    urgency = rng.choices(list(URGENCY_WEIGHTS), weights=list(URGENCY_WEIGHTS.values()))[0]
    placed_by = rng.choices(["location", "address", "grid", "community", "unlocated"], weights=[12, 4, 2, 1, 1])[0]
    point = jitter(rng, centre, 120) if placed_by in ("location", "address") else centre
    if placed_by == "unlocated":
        community, grid, point = "unlocated", None, None
    elif placed_by == "community":
        grid = None
    month.orders.append(
        located_order(
            config,
            order_id,
            at,
            community=community,
            grid=grid,
            category=category,
            urgency=urgency,
            point=point,
            placed_by=placed_by,
        )
    )
    _precursors(rng, month, order_id, at, category, point or centre)
    _events(config, rng, month, order_id, at, urgency)


def _precursors(rng, month: Month, order_id: str, at: datetime, category: str, point) -> None:
    """Field reports around the order: some count (near, same category, days before), others only nearly."""
    kinds = rng.sample(["seen", "far", "old", "other", "after", "hotline"], k=rng.randint(0, 2))
    for k, kind in enumerate(kinds):
        other = next(c for c in CATEGORIES if c != category)
        when = at - timedelta(hours=rng.uniform(1, 24 * (9 if kind == "old" else 6.5)))
        where = jitter(rng, point, 150)
        if kind == "far":
            where = (point[0] + 450 / METRES_PER_DEGREE, point[1])
        if kind == "old":
            when = at - timedelta(days=7, hours=rng.uniform(1, 48))
        if kind == "after":
            when = at + timedelta(hours=rng.uniform(0.1, 5))
        report = field_report(
            f"f-{order_id}-{k}",
            other if kind == "other" else category,
            where,
            when,
            **({"device": "12345", "id": f"12345-x{order_id}-{k}"} if kind == "hotline" else {}),
        )
        month.reports.append(report)


def _events(config, rng, month: Month, order_id: str, at: datetime, urgency: str) -> None:
    happened = []

    def event(kind: str, when: datetime, **fields) -> None:
        if when <= NOW:
            happened.append(order_event(f"{order_id}-{len(happened)}", order_id, kind, when, **fields))

    limits = config.limits(urgency, at, WORKING_CALENDAR)
    if rng.random() < 0.06:
        event("returned", at + timedelta(hours=rng.uniform(0.5, 20)), returned_to="区房管局")
        month.events.extend(happened)
        return
    if rng.random() < 0.9:
        late = rng.random() < 0.2
        share = rng.uniform(1.05, 4) if late else rng.uniform(0.05, 0.95)
        event("contacted", at + (limits.contact_by - at) * share)
    resolve_by = limits.resolve_by
    if urgency in ("ordinary", "complex") and rng.random() < 0.15:
        resolve_by = resolve_by + timedelta(days=rng.choice([3, 5]))
        event("extended", at + timedelta(hours=rng.uniform(3, 48)), new_limit=resolve_by.isoformat())
    if rng.random() < 0.88:
        span = resolve_by - at
        closed = at + span * (rng.uniform(1.05, 1.6) if rng.random() < 0.2 else rng.uniform(0.1, 0.97))
        event("closed", closed, result="已处理并回复来电人")
        if rng.random() < 0.8:
            event(
                "callback",
                closed + timedelta(hours=rng.uniform(2, 30)),
                resolved=rng.choices(["yes", "no"], weights=[8, 2])[0],
                satisfaction=rng.choices(["satisfied", "basically_satisfied", "not_satisfied"], weights=[6, 3, 2])[0],
            )
    month.events.extend(happened)
