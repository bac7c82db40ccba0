"""The district's weekly report on the real PostgreSQL and broker, in a district of two streets
(district_path(2)): the Monday job makes it only once both streets' reports of the week are stored, once, from
their stored figures (its totals their sums), renders it (HTML and PDF) and announces it once, owned by the
district. The streets' maker returns figures counted by hand; the district's is the real one."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from config.geometry import load_geometry
from config.sample.district import district_path
from consumers.report.schedule import make_district_report
from schemas import json
from sinks.weekly_reports import LEASE
from tests.support.clock import ManualClock
from tests.support.district_week import FiguresMaker, two_streets_figures
from tests.support.weekly_schedule import alerts_on, scheduler

pytestmark = pytest.mark.integration

WEEK = "2037-W10"


async def test_the_districts_report_is_made_once_after_both_streets_from_their_sums_and_announced_once(own, scratch):
    settings = dataclasses.replace(own, geometry_path=district_path(2), database_url=scratch)
    figures = two_streets_figures(load_geometry(settings.geometry_path))
    streets = FiguresMaker(figures, fail_once={"xinjiekou"})
    clock = ManualClock(datetime(2037, 3, 9, 0, 0, 30, tzinfo=UTC))  # Monday 08:00:30 in Beijing
    schedule = await scheduler(settings, streets, clock, make_district=make_district_report)
    db = await asyncpg.connect(scratch)
    try:
        assert await schedule.look() == WEEK  # xichangan's; xinjiekou's renderer fell over
        assert await db.fetchval("SELECT count(*) FROM weekly_reports WHERE street_id = 'xicheng'") == 0
        clock.advance((LEASE + timedelta(minutes=1)).total_seconds())  # xinjiekou's claim lapses
        assert await schedule.look() == WEEK  # xinjiekou's, then the district's
        assert await schedule.look() is None
        row = await db.fetchrow("SELECT * FROM weekly_reports WHERE street_id = 'xicheng' AND week = $1", WEEK)
    finally:
        await db.close()
        await schedule.pool.close()
    assert streets.calls == ["xichangan", "xinjiekou", "xinjiekou"]
    assert schedule.outcomes.labels("made")._value.get() == 3
    made = json.loads(row["figures"])
    each = [figures[s]["totals"]["reports"] for s in ("xichangan", "xinjiekou")]
    assert made["totals"]["reports"] == sum(each) == 100
    assert (made["totals"]["incidents"], made["totals"]["closed"], made["totals"]["overdue"]) == (30, 21, 8)
    assert [r["street"] for r in made["streets"]] == ["xichangan", "xinjiekou"]
    assert "西城区全区网格事件周报（2037-W10）" in row["html"] and bytes(row["pdf"]).startswith(b"%PDF")
    assert row["alert_id"] == f"report:weekly:xicheng:{WEEK}" and row["announced_at"] is not None
    alerts = [a for a in await alerts_on(settings) if a["owner"] == "xicheng"]
    assert {a["id"] for a in alerts} == {f"report:weekly:xicheng:{WEEK}"}  # at least once, under one id
    alert = alerts[0]
    assert (alert["level"], alert["street"], alert["link"]) == (
        "district",
        "xicheng",
        f"/reports/{WEEK}.html?street=xicheng",
    )
    assert alert["title"]["zh"] == f"每周专报：西城区 {WEEK}" and "上报 **100** 件" in alert["body"]["zh"]
