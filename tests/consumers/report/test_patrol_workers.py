"""The weekly report's patrol per worker: the daily summary of tests/support/patrol_day.py summed over week
2026-W49 (Monday 11-30 to Monday 12-07 in Beijing), computed by hand, in the figures and on the page."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import asyncpg
import pytest

from config.geometry import load_geometry
from config.hotline import load_hotline
from config.settings import SAMPLE_GEOMETRY
from consumers.report.figures import weekly_figures
from consumers.report.render import render_html
from sinks.postgres import seed_places
from tests.support.patrol_day import write_day

WEEK, TZ = "2026-W49", "Asia/Shanghai"
MADE = datetime(2026, 12, 7, tzinfo=UTC)  # after the week's end: nothing of it is cut
# The week by hand (the day of tests/support/patrol_day.py, and what lies around it in the week):
#   on duty  W1 7 x 9 h = 226800 s; W2 7 x 8 h = 201600 s; W3 7 x 20 h = 504000 s      -> 932400 s
#   on post  W1 30300 s (the day's); W3 16:00 to 12-04 09:00 = 61200 s; W2 12-02 22:10-03:00 (17400 s),
#            03:20-06:00 (9600 s), and 12-03 22:02 on_post holds to the week's end (266280 s) = 293280 s
#                                                                                     -> 384780 s
#   distance 556.60 + 333.96 m (the evening before's fix is 8 h from the next)      -> 890.56 m
#   reports  W1 3 (one the evening before), W2 1                                     -> 4
#   tasks    W1 4 done (one the day before, in 60 s), 1 unconfirmed; W2 1 (300 s)    -> 5, 1
#   arrival  W1 median of 60, 600, 1200 = 600 s; the street's of 60, 300, 600, 1200  -> 450 s
SHARES = {"W3": 61200 / 504000, "W1": 30300 / 226800, "W2": 293280 / 201600}  # the lowest first


@pytest.fixture
async def figures(scratch):
    geometry = load_geometry(SAMPLE_GEOMETRY)
    conn = await asyncpg.connect(scratch)
    try:
        await seed_places(conn, geometry)
        await write_day(conn)
        found = await weekly_figures(conn, WEEK, tz=TZ, hotline=load_hotline(), geometry=geometry, made_at=MADE)
    finally:
        await conn.close()
    return found, geometry


async def test_the_week_per_worker_and_the_streets_totals(figures):
    f, _ = figures
    workers = f["patrol_workers"]
    assert workers["totals"] == {
        "workers": 3,
        "on_duty_s": 932400.0,
        "on_post_s": 384780.0,
        "on_post_share": 384780 / 932400,
        "distance_m": pytest.approx(890.56),
        "reports": 4,
        "tasks_done": 5,
        "tasks_unconfirmed": 1,
        "arrive_median_s": 450.0,
    }
    assert {w["device"]: w["on_post_share"] for w in workers["lowest"]} == SHARES
    assert [w["device"] for w in workers["lowest"]] == list(SHARES)
    w1 = workers["lowest"][1]
    assert (w1["reports"], w1["tasks_done"], w1["tasks_unconfirmed"], w1["arrive_median_s"]) == (3, 4, 1, 600.0)
    assert f["queries"]["patrol_workers"] == "sinks.patrol_day patrol_summary, arrive_seconds"


async def test_the_page_says_the_totals_and_lists_the_lowest_first(figures):
    f, geometry = figures
    html = render_html(f, geometry, tz=TZ)
    patrol = re.sub(
        r"\s+", " ", re.sub(r"<[^>]+>", " ", re.search(r'<section id="patrol">(.*?)</section>', html, re.S)[1])
    )
    assert "在册 3 人：在班 10天19小时，在岗 4天10小时（在岗率 41.3%），步行 0.9 公里，上报 4 件" in patrol
    assert "完成任务 5 件（其中未经定位确认到场 1 件），到场用时中位数 7分钟" in patrol
    assert "王五 网格长 和平门社区第1网格 12.1% 0.0 0 0 0 —" in patrol
    assert patrol.index("王五") < patrol.index("张三") < patrol.index("李四")
