"""The figures of the weekly 专报 for one ISO week of one street: `weekly_figures` runs the queries of
sinks/weekly_queries.py and returns a JSON-able dict (times RFC 3339) that the renderer draws as it is;
`queries` names, for each figure, the constant that produced it. `week_bounds` says which instants a week
covers in the street's zone.

A change is flagged only when it is real for small counts: a Poisson count's square root has a variance
of about 1/4, so z = 2·(√now − √before) is near-normal, and |z| >= 2 against last week and against the
mean of the 8 weeks before (both) flags "up" or "down". Percent changes of 1 -> 3 are never shown as news.

Measured on the 2-core test machine, a district's week in one street (50,000 reports a week over 9 weeks,
20,000 incidents a week with 3 events each, 2,000 workers' patrol events, 2,000 advisories): weekly_figures
3.0–5.1 s; the slowest queries COVERAGE_GAPS 1.0–1.5 s, PATROL 0.3–0.9 s, MEDIANS 0.4–0.6 s, the rest
under 0.7 s each.
"""

from __future__ import annotations

import math
from dataclasses import asdict
from datetime import UTC, datetime, time, timedelta

from config.hotline import HotlineConfig
from consumers.report.cells import heat_figures
from consumers.report.patrol import patrol_figures, worker_figures
from consumers.report.weeks import week_monday
from schemas.display import zone
from schemas.records import LEVELS
from sinks import weekly_queries as q
from sinks.hotline_rates import rates, topic_candidates
from sinks.postgres import connection

Z_FLAG = 2.0
CASES = 3
WHY_STREET = ("deadline", "request", "cluster", "sensitive_zone")
_TICK = timedelta(microseconds=1)


def week_bounds(week: str, tz: str) -> tuple[datetime, datetime]:
    """(Monday 00:00, next Monday 00:00) of ISO week `week` ("2026-W49") in `tz`, as UTC datetimes."""
    return _local_monday(week, tz, 0), _local_monday(week, tz, 1)


def _local_monday(week: str, tz: str, weeks_after: int) -> datetime:
    monday = week_monday(week) + timedelta(weeks=weeks_after)
    return datetime.combine(monday, time(), zone(tz)).astimezone(UTC)


def poisson_z(now: float, before: float, *, both_counts: bool = False) -> float:
    """How many standard errors `now` lies from `before`, on the square-root scale where a Poisson count's
    variance is 1/4 whatever its mean: 2·(√now − √before) against a mean known well (8 weeks'), and
    √2·(√now − √before) between two single weeks, each with its own noise (`both_counts`)."""
    return (math.sqrt(2) if both_counts else 2) * (math.sqrt(now) - math.sqrt(before))


def change_flag(now: int, last_week: int, mean_8: float) -> tuple[float, str | None]:
    """(z against the 8-week mean, "up"/"down"/None): flagged when both z's are beyond Z_FLAG, so 1 → 0 or
    2 → 5 is never news, while 3 → 12 against a mean of 3 is."""
    z_last, z_mean = poisson_z(now, last_week, both_counts=True), poisson_z(now, mean_8)
    if min(z_last, z_mean) >= Z_FLAG:
        return z_mean, "up"
    if max(z_last, z_mean) <= -Z_FLAG:
        return z_mean, "down"
    return z_mean, None


async def weekly_figures(
    db, week: str, *, tz: str, hotline: HotlineConfig, geometry, made_at: datetime | None = None
) -> dict:
    """Every figure of the report of `week` for the street of `geometry` (config/geometry.py)."""
    start, end = week_bounds(week, tz)
    street = geometry.street.id
    week_args = (start, end, street)
    compare = (*week_args, _local_monday(week, tz, -1), _local_monday(week, tz, -8))
    # One snapshot: a late event stored while the report is read changes no figure against another.
    async with connection(db) as conn, conn.transaction(isolation="repeatable_read", readonly=True):
        named = await conn.fetchrow(q.STREET, street)
        places = await conn.fetch(q.PLACE_NAMES, street)
        totals = dict(await conn.fetchrow(q.TOTALS, *compare))
        by_category = [_flagged(r) for r in await conn.fetch(q.BY_CATEGORY_COMMUNITY, *compare)]
        by_grid = [_flagged(r) for r in await conn.fetch(q.BY_GRID, *compare)]
        principle = await _principle(conn, week_args)
        heat, hot_spots = heat_figures(await conn.fetch(q.HEAT, *week_args))
        repeats = [dict(r) for r in await conn.fetch(q.REPEATS, *week_args)]
        patrol = await patrol_figures(conn, week_args)
        # A week still running is summed up to the report's making: nobody is on post in the future.
        workers = await worker_figures(conn, start, end, street, made_at or datetime.now(UTC))
        orders = await conn.fetchval(q.HOTLINE_ORDERS, *week_args)
        cases = await _cases(conn, week_args)
        hotline_figures = await _hotline(conn, orders, street, places, end, hotline, tz)
    return {
        "week": week,
        "start": start.isoformat(),
        "end": end.isoformat(),
        "street": {"id": street, "name": named["name"] if named else geometry.street.name},
        "made_at": (made_at or datetime.now(UTC)).isoformat(),
        "places": {kind: {p["id"]: p["name"] for p in places if p["kind"] == kind} for kind in ("community", "grid")},
        "totals": totals,
        "by_category_community": by_category,
        "by_grid": by_grid,
        "principle": principle,
        "heat": heat,
        "hot_spots": hot_spots,
        "repeats": repeats,
        "patrol": patrol,
        "patrol_workers": workers,
        "hotline": hotline_figures,
        "cases": cases,
        "queries": QUERIES,
    }


def _flagged(row) -> dict:
    z, flag = change_flag(row["now"], row["last_week"], row["mean_8"])
    return {**dict(row), "z": z, "flag": flag}


async def _principle(conn, week_args: tuple) -> dict:
    counts = await conn.fetchrow(q.PRINCIPLE, *week_args)
    why = {r["why"]: r["incidents"] for r in await conn.fetch(q.ESCALATED_TO_STREET, *week_args)}
    medians = {r["level"]: r for r in await conn.fetch(q.MEDIANS, *week_args)}
    closed = await conn.fetchrow(q.CLOSED, *week_args)
    incidents = counts["incidents"]
    return {
        "settled_local_share": counts["settled_local"] / incidents if incidents else None,
        "settled_local": counts["settled_local"],
        "incidents": incidents,
        "escalated_to_street": {reason: why.get(reason, 0) for reason in WHY_STREET},
        "ceiling_exceptions": await conn.fetchval(q.CEILING, *week_args),
        "overdue": counts["overdue"],
        "overdue_rate": counts["overdue"] / incidents if incidents else None,
        "closed": closed["closed"],
        "closed_in_time": closed["closed_in_time"],
        "median_ack_seconds": {level: _median(medians, level, "ack_seconds") for level in LEVELS},
        "median_resolve_seconds": {level: _median(medians, level, "resolve_seconds") for level in LEVELS},
    }


def _median(medians: dict, level: str, column: str) -> float | None:
    return medians[level][column] if level in medians else None


async def _cases(conn, week_args: tuple) -> list[dict]:
    found = [dict(r) for r in await conn.fetch(q.CASES, *week_args)]
    events = await conn.fetch(q.CASE_TIMELINE, [c["incident"] for c in found], week_args[1])
    for case in found:
        case["opened_at"] = case["opened_at"].isoformat()
        case["timeline"] = [
            {"when": e["when"].isoformat(), "kind": e["kind"], "actor": e["actor"], "reason": e["reason"]}
            for e in events
            if e["incident"] == case["incident"]
        ]
    return found


async def _hotline(conn, orders: int, street: str, places, end: datetime, config: HotlineConfig, tz: str) -> dict:
    """The 12345 rates of the street's communities in the month of the week's last day, as of the
    week's end, and the month's 每月一题."""
    communities = {p["id"] for p in places if p["kind"] == "community"}
    now = end - _TICK
    month = f"{now.astimezone(zone(tz)):%Y-%m}"
    by_street = await rates(conn, config, now, by="street", month=month, tz=tz)
    mine = next((asdict(r) for r in by_street if r.key == street), None)
    return {
        "orders": orders,
        "rates": [
            asdict(r)
            for r in await rates(conn, config, now, by="community", month=month, tz=tz)
            if r.key in communities
        ],
        "street": mine,
        "grid_first": mine["grid_first"] if mine else None,
        "blind_spots": mine["blind_spots"] if mine else 0,
        "topics": [
            t for t in await topic_candidates(conn, config, now, month=month, tz=tz) if t["community"] in communities
        ],
    }


QUERIES = {
    "street": "STREET",
    "places": "PLACE_NAMES",
    "totals": "TOTALS",
    "by_category_community": "BY_CATEGORY_COMMUNITY",
    "by_grid": "BY_GRID",
    "principle": "PRINCIPLE",
    "principle.escalated_to_street": "ESCALATED_TO_STREET",
    "principle.ceiling_exceptions": "CEILING",
    "principle.closed": "CLOSED",
    "principle.closed_in_time": "CLOSED",
    "principle.median_ack_seconds": "MEDIANS",
    "principle.median_resolve_seconds": "MEDIANS",
    "heat": "HEAT",
    "hot_spots": "HEAT",
    "repeats": "REPEATS",
    "patrol": "PATROL",
    "patrol.coverage_gaps_major_events": "COVERAGE_GAPS",
    "patrol.advisories": "ADVISORIES",
    "patrol_workers": "sinks.patrol_day patrol_summary, arrive_seconds",
    "hotline.orders": "HOTLINE_ORDERS",
    "hotline": "sinks.hotline_rates rates, topic_candidates",
    "cases": "CASES",
    "cases.timeline": "CASE_TIMELINE",
}
