"""The report's patrol figures per grid of the street: the share of duty time on post, offline minutes,
major-event periods with too few on post (coverage gaps), and the 前响应 advisories of the week with
how many a report followed within FOLLOW. Each figure is a query of sinks/weekly_queries.py. And per worker
(`worker_figures`): the daily patrol summary over the week (sinks/patrol_day.py), the street's totals and
the LOWEST workers by share of duty time on post.

patrol_advisories keeps each cell's newest advisory only, so a cell advised twice in the week counts once.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from statistics import median

from sinks import weekly_queries as q
from sinks.patrol_day import arrive_seconds, patrol_summary

FOLLOW = timedelta(hours=2)
LOWEST = 10  # workers listed: a page holds them, and the street's leaders ask after the weakest first


async def patrol_figures(conn, week_args: tuple) -> list[dict]:
    """One row per grid of the street: {grid, community, on_post_share, offline_minutes,
    coverage_gaps_major_events, advisories, advisories_followed}."""
    gaps = {r["grid"]: r["coverage_gaps"] for r in await conn.fetch(q.COVERAGE_GAPS, *week_args)}
    advised, followed = Counter(), Counter()
    for a in await conn.fetch(q.ADVISORIES, *week_args, FOLLOW):
        advised[a["grid"]] += 1
        followed[a["grid"]] += a["followed"]
    return [
        {
            **dict(r),
            "coverage_gaps_major_events": gaps.get(r["grid"], 0),
            "advisories": advised[r["grid"]],
            "advisories_followed": followed[r["grid"]],
        }
        for r in await conn.fetch(q.PATROL, *week_args)
    ]


async def worker_figures(conn, start: datetime, end: datetime, street: str, now: datetime) -> dict:
    """{totals, lowest}: the street's rostered workers' week summed (on post share of on duty, distance,
    reports, tasks done and unconfirmed, the median time to arrive over all their tasks), and the LOWEST
    workers by on-post share (a worker with no duty time last), each with its own figures."""
    found = await patrol_summary(conn, start, end, street=street, now=now)
    rows = [{**w.as_dict(), "on_post_share": w.on_post_s / w.on_duty_s if w.on_duty_s else None} for w in found]
    duty, post = sum(w.on_duty_s for w in found), sum(w.on_post_s for w in found)
    arrivals = await arrive_seconds(conn, [w.device for w in found], start, min(end, now))
    totals = {
        "workers": len(found),
        "on_duty_s": duty,
        "on_post_s": post,
        "on_post_share": post / duty if duty else None,
        "distance_m": sum(w.distance_m for w in found),
        "reports": sum(w.reports for w in found),
        "tasks_done": sum(w.tasks_done for w in found),
        "tasks_unconfirmed": sum(w.tasks_unconfirmed for w in found),
        "arrive_median_s": median(arrivals) if arrivals else None,
    }
    rows.sort(key=lambda r: (r["on_post_share"] is None, r["on_post_share"] or 0, r["device"]))
    return {"totals": totals, "lowest": rows[:LOWEST]}
