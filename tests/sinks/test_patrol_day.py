"""The daily patrol summary (sinks/patrol_day.py) against the hand-computed day of tests/support/patrol_day.py in a
PostgreSQL of its own: shifts across midnight and overlapping, a status in force from the day before, a flagged
fix, a vague fix, a 15-minute gap, a courtyard visit, reports and tasks; a day still running ends at `now`.
`-s` prints the time the summary takes over a realistic day (200 workers, a fix every 5 s for 8 h)."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest

from sinks.patrol_day import day_bounds, duty_seconds, patrol_day, patrol_summary
from tests.support.patrol_day import ANSWER, AT_NOON_W1, DAY, NOON, at, patrol_day_database

TZ = "Asia/Shanghai"


@pytest.fixture(scope="module")
async def day_db(database_url):
    async with patrol_day_database(database_url) as url:
        yield url


def figures(row) -> tuple:
    return (
        row.on_duty_s,
        row.on_post_s,
        pytest.approx(row.distance_m, abs=1e-6),
        tuple(i for i, _ in row.grids),
        tuple(i for i, _ in row.courtyards),
        row.reports,
        row.tasks_done,
        row.tasks_unconfirmed,
        row.arrive_median_s,
    )


def test_a_day_is_local_midnight_to_midnight():
    assert day_bounds(DAY, TZ) == (datetime(2026, 12, 2, 16, tzinfo=UTC), datetime(2026, 12, 3, 16, tzinfo=UTC))


def test_duty_counts_a_night_shift_from_the_day_before_and_overlaps_once():
    start, end = day_bounds(DAY, TZ)
    night, day, late = (time(22), time(6)), (time(8), time(17)), (time(16), time(20))
    assert duty_seconds([night], TZ, start, end) == 8 * 3600  # 00:00-06:00 and 22:00-24:00
    assert duty_seconds([day, late], TZ, start, end) == 12 * 3600  # 08:00-20:00
    assert duty_seconds([day], TZ, start, start + timedelta(days=7)) == 7 * 9 * 3600
    assert duty_seconds([], TZ, start, end) == 0


async def test_each_figure_as_computed_by_hand(day_db):
    found = await patrol_day(day_db, DAY, TZ)
    assert [w.device for w in found] == ["W1", "W2", "W3"]  # the rostered only: X is not
    assert {w.device: figures(w) for w in found} == ANSWER
    w1 = found[0]
    assert (w1.name, w1.role, w1.grid) == ("张三", "grid_worker", "c01-g01")
    assert w1.grids == (("c01-g01", "新文化街社区第1网格"), ("c01-g02", "新文化街社区第2网格"))
    assert w1.as_dict()["courtyards"] == [{"id": "c01-g01-y01", "name": "新文化街社区第1网格1号院"}]


async def test_a_day_still_running_ends_now(day_db):
    (w1,) = await patrol_day(day_db, DAY, TZ, devices=["W1"], now=NOON)
    assert figures(w1) == AT_NOON_W1


async def test_a_community_keeps_to_the_workers_of_its_grids(day_db):
    assert [w.device for w in await patrol_day(day_db, DAY, TZ, community="c02")] == ["W3"]
    start, end = day_bounds(DAY, TZ)
    found = await patrol_summary(day_db, start, end, street="xichangan", now=end)
    assert [w.device for w in found] == ["W1", "W2", "W3"]


async def test_a_week_sums_the_days(day_db):
    start, end = at("00:00", -3), at("00:00", 4)
    found = await patrol_summary(day_db, start, end, devices=["W1"], now=end)
    # 7 day shifts; the evening before the day adds the 23:59 fix, which is more than GAP before 08:00
    assert (found[0].on_duty_s, found[0].reports, found[0].tasks_done) == (7 * 32400.0, 3, 4)
    assert found[0].distance_m == pytest.approx(5 * 111.32)
