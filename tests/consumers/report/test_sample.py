"""The sample week: written through the sinks into a migrated database, deterministic under its seed, with
what production stores: reports, the engine's incidents, 12345 orders, patrol changes and advisories."""

from __future__ import annotations

import random

from config.geometry import load_geometry
from config.settings import SAMPLE_GEOMETRY
from consumers.report import sample
from consumers.report.figures import week_bounds
from sinks.postgres import connection
from streams.geofence.registry import GridRegistry

WEEK, TZ = "2026-W48", "Asia/Shanghai"
COUNTS = """
SELECT (SELECT count(*) FROM reports WHERE event_time >= $1 AND event_time < $2) AS reports,
       (SELECT count(*) FROM reports WHERE event_time < $1) AS before,
       (SELECT count(*) FROM incidents) AS incidents,
       (SELECT count(*) FROM incident_events WHERE kind = 'escalated') AS escalated,
       (SELECT count(*) FROM hotline_orders WHERE dispatched_at >= $1 AND dispatched_at < $2) AS orders,
       (SELECT count(DISTINCT device_id) FROM patrol_events) AS workers,
       (SELECT count(*) FROM patrol_advisories) AS advisories,
       (SELECT count(*) FROM roster_workers) AS rostered,
       (SELECT count(DISTINCT device_id) FROM positions WHERE event_time >= $1 AND event_time < $2) AS walking
"""


async def test_the_sample_week_holds_what_was_asked(scratch):
    written = await sample.write_sample_week(scratch, WEEK, reports=300, workers=20, seed=7)
    async with connection(scratch) as conn:
        counts = dict(await conn.fetchrow(COUNTS, *week_bounds(WEEK, TZ)))
    assert counts["reports"] == 300 and counts["before"] == 8 * 240
    assert counts["orders"] == 36 and written["hotline_orders"] == 36 + 8 * 29  # 12 % of 300, of 240
    assert counts["workers"] == 20 and written["patrol_events"] > 20 * 7 * 3
    assert 0.7 * 300 < counts["incidents"] < 300  # the week's: some reports merged into others
    assert counts["escalated"] > 0 and counts["advisories"] > 0
    # on the roster, each walking its day shifts: 12 h of a fix every 5 minutes, 7 days
    assert counts["rostered"] == counts["walking"] == 20 and written["positions"] == 20 * 7 * 144


def test_the_same_seed_draws_the_same_week():
    registry = GridRegistry.build(load_geometry(SAMPLE_GEOMETRY), 12)
    start, _ = week_bounds(WEEK, TZ)
    one, two, other = (
        sample.week_reports(sample.Street(registry, random.Random(s)), start, 50, True) for s in (16, 16, 17)
    )
    assert one == two and one != other
    planted = [r for r in one if r["id"].split("-")[-1].startswith("p")]
    assert planted and all(r["category"] == "group_renting" and r["community"] == "c01" for r in planted)
