"""The report's patrol figures per grid of the street: the share of duty time on post, offline minutes,
major-event periods with too few on post (coverage gaps), and the 前响应 advisories of the week with
how many a report followed within FOLLOW. Each figure is a query of sinks/weekly_queries.py.

patrol_advisories keeps each cell's newest advisory only, so a cell advised twice in the week counts once.
"""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

from sinks import weekly_queries as q

FOLLOW = timedelta(hours=2)


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
