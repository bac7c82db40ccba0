"""The weekly figures against a week planted row by row in a scratch database (tests/support/weekly_week.py
says what was planted and so what each figure must be), and the week's bounds and the Poisson flag."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from importlib import import_module

import asyncpg
import pytest

from config.hotline import load_hotline
from consumers.report.figures import change_flag, poisson_z, week_bounds, weekly_figures
from schemas import json
from sinks import weekly_queries
from tests.support.weekly_week import PLANTED, plant_week, sample_geometry

WEEK = "2026-W49"
MADE = datetime(2026, 12, 7, 0, 0, tzinfo=UTC)


@pytest.fixture
async def figures(scratch):
    conn = await asyncpg.connect(scratch)
    try:
        cells = await plant_week(conn, *week_bounds(WEEK, "Asia/Shanghai"))
        found = await weekly_figures(
            conn, WEEK, tz="Asia/Shanghai", hotline=load_hotline(), geometry=sample_geometry(), made_at=MADE
        )
    finally:
        await conn.close()
    return found, cells


def row(rows: list[dict], **match) -> dict:
    [found] = [r for r in rows if all(r[k] == v for k, v in match.items())]
    return found


async def test_the_week_names_its_street_bounds_and_places(figures):
    f, _ = figures
    assert (f["week"], f["start"], f["end"]) == (WEEK, "2026-11-29T16:00:00+00:00", "2026-12-06T16:00:00+00:00")
    assert f["street"] == {"id": "xichangan", "name": "西长安街街道"}
    assert f["made_at"] == MADE.isoformat()
    assert f["places"]["community"]["c01"] and len(f["places"]["grid"]) == 71
    json.dumps(f)  # JSON-able as it is


async def test_totals_count_the_week_last_week_and_the_8_weeks_mean(figures):
    f, _ = figures
    # 24 reports in the week (one at its first instant; one at the next week's and one of another street
    # left out), 15 the week before, 113 over the 8 weeks before.
    assert f["totals"] == {
        "reports": 24,
        "previous_week_reports": 15,
        "mean_8_weeks_reports": 113 / 8,
        "incidents_opened": 6,
    }


async def test_rises_and_falls_are_flagged_only_when_real_for_small_counts(figures):
    f, _ = figures
    table = f["by_category_community"]
    rise = row(table, category="sanitation", community="c01")
    assert (rise["now"], rise["last_week"], rise["mean_8"], rise["flag"]) == (20, 5, 5.0, "up")
    assert rise["z"] == pytest.approx(2 * (20**0.5 - 5**0.5))
    fall = row(table, category="illegal_parking", community="c02")
    assert (fall["now"], fall["last_week"], fall["mean_8"], fall["flag"]) == (1, 9, 9.0, "down")
    tripled = row(table, category="dispute", community="c01")  # 1 -> 3: +200 %, and no news
    assert (tripled["now"], tripled["last_week"], tripled["mean_8"], tripled["flag"]) == (3, 1, 0.125, None)
    assert len(table) == 3
    grids = f["by_grid"]
    assert row(grids, grid="c01-g01")["now"] == 15 and row(grids, grid="c01-g01")["flag"] == "up"
    assert (row(grids, grid="c01-g02")["now"], row(grids, grid="c01-g02")["flag"]) == (8, "up")
    assert (row(grids, grid=PLANTED["parking_grid"])["now"], row(grids, grid=PLANTED["parking_grid"])["flag"]) == (
        1,
        "down",
    )


async def test_the_principle_counts_settled_escalated_ceiling_overdue_and_medians(figures):
    f, _ = figures
    assert f["principle"] == {
        "settled_local_share": 2 / 6,
        "settled_local": 2,
        "incidents": 6,
        "escalated_to_street": {"deadline": 1, "request": 1, "cluster": 1, "sensitive_zone": 1},
        "ceiling_exceptions": 2,  # one of an incident opened the week before
        "overdue": 2,  # one chased at the street, one past its resolve-by
        "overdue_rate": 2 / 6,
        "closed": 1,  # i1 in its hour; i3 is resolved only the week after
        "closed_in_time": 1,
        "median_ack_seconds": {"grid": 600.0, "community": 1200.0, "street": 1800.0, "district": None},
        "median_resolve_seconds": {"grid": 3600.0, "community": None, "street": None, "district": None},
    }


async def test_heat_hot_spots_and_repeats_count_the_planted_places(figures):
    f, cells = figures
    assert f["heat"]["resolution"] == 10
    assert f["heat"]["cells"] == [
        {"cell": cells["A10"], "n": 15},
        {"cell": cells["B10"], "n": 8},
        {"cell": cells["C10"], "n": 1},
    ]
    assert f["heat"]["by_category"] == {
        "sanitation": [{"cell": cells["A10"], "n": 12}, {"cell": cells["B10"], "n": 8}],
        "dispute": [{"cell": cells["A10"], "n": 3}],
        "illegal_parking": [{"cell": cells["C10"], "n": 1}],
    }
    assert f["hot_spots"] == [
        {"cell": cells["A10"], "grid": "c01-g01", "community": "c01", "n": 15},
        {"cell": cells["B10"], "grid": "c01-g02", "community": "c01", "n": 8},
        {"cell": cells["C10"], "grid": PLANTED["parking_grid"], "community": "c02", "n": 1},
    ]
    assert f["repeats"] == [
        {"grid": "c01-g01", "cell": cells["A"], "category": "sanitation", "n": 12},
        {"grid": "c01-g02", "cell": cells["B"], "category": "sanitation", "n": 8},
        {"grid": "c01-g01", "cell": cells["A"], "category": "dispute", "n": 3},
    ]


async def test_patrol_shares_offline_minutes_coverage_gaps_and_advisories(figures):
    f, _ = figures
    patrolled = row(f["patrol"], grid="c01-g01")
    # d1 on duty 48 h with 30 min offline, d2 10 h with 2 h off post: 55.5 h on post of 58 h.
    assert patrolled == {
        "grid": "c01-g01",
        "community": "c01",
        "on_post_share": pytest.approx(55.5 / 58),
        "offline_minutes": pytest.approx(30.0),
        "coverage_gaps_major_events": 2,
        "advisories": 1,
        "advisories_followed": 1,
    }
    other = row(f["patrol"], grid="c01-g02")
    assert (other["on_post_share"], other["offline_minutes"]) == (None, 0.0)
    assert (other["coverage_gaps_major_events"], other["advisories"], other["advisories_followed"]) == (1, 1, 0)
    assert len(f["patrol"]) == 71


async def test_hotline_orders_rates_of_the_month_and_topics(figures):
    f, _ = figures
    hotline = f["hotline"]
    assert hotline["orders"] == 4  # one of November, three of December; not last week's, not another street's
    [c01] = hotline["rates"]
    assert (c01["key"], c01["n"], c01["response"]) == ("c01", 3, 1.0)  # the month of the week's end: December
    assert (hotline["street"]["key"], hotline["street"]["n"]) == ("xichangan", 3)
    assert (hotline["grid_first"], hotline["blind_spots"]) == (pytest.approx(1 / 3), 2)
    [topic] = hotline["topics"]
    assert (topic["grid"], topic["category"], topic["count"]) == ("c01-g01", "sanitation", 3)


async def test_cases_are_the_three_most_significant_with_their_timelines(figures):
    f, _ = figures
    assert [c["incident"] for c in f["cases"]] == ["inc-c02-i5", "inc-c01-i3", "inc-c02-i4"]
    top = f["cases"][0]
    assert (top["level"], top["status"], top["community"], top["category"]) == (
        "district",
        "assigned",
        "c02",
        "illegal_construction",
    )
    assert top["why"] == "需区级执法支援"
    assert [(e["kind"], e["actor"]) for e in top["timeline"]] == [
        ("opened", "dev-5"),
        ("report_merged", "dev-6"),
        ("escalated", "staff-street"),
    ]
    assert top["timeline"][0]["when"] == top["opened_at"]
    # The event after the week's end is not in the week's story.
    assert [e["kind"] for e in f["cases"][1]["timeline"]] == ["opened"] + ["report_merged"] * 4 + [
        "escalated",
        "acknowledged",
    ]
    assert f["cases"][1]["why"].startswith("聚集")


async def test_every_figure_names_its_query(figures):
    f, _ = figures
    for key, name in f["queries"].items():
        assert key.split(".")[0] in f
        if name.startswith("sinks."):  # functions of a module of their own: "sinks.module f, g"
            module, functions = name.split(" ", 1)
            assert all(callable(getattr(import_module(module), f)) for f in functions.split(", "))
        else:
            assert isinstance(getattr(weekly_queries, name), str)


def test_week_bounds_are_monday_to_monday_in_the_streets_zone():
    assert week_bounds("2026-W49", "Asia/Shanghai") == (
        datetime(2026, 11, 29, 16, tzinfo=UTC),
        datetime(2026, 12, 6, 16, tzinfo=UTC),
    )
    # 2026 has 53 ISO weeks: the last runs into 2027, and 2027-W01 starts where it ends.
    assert week_bounds("2026-W53", "Asia/Shanghai") == (
        datetime(2026, 12, 27, 16, tzinfo=UTC),
        datetime(2027, 1, 3, 16, tzinfo=UTC),
    )
    assert week_bounds("2027-W01", "Asia/Shanghai")[0] == datetime(2027, 1, 3, 16, tzinfo=UTC)
    assert week_bounds("2025-W01", "UTC")[0] == datetime(2024, 12, 30, tzinfo=UTC)  # the year before's days
    start, end = week_bounds("2026-W13", "Europe/Berlin")  # clocks go forward on Sunday 29 March
    assert (start, (end - start).total_seconds() / 3600) == (datetime(2026, 3, 22, 23, tzinfo=UTC), 167)


@pytest.mark.parametrize("bad", ["2026-49", "2026-W54", "W49", "2026-W00"])
def test_a_week_that_is_not_iso_is_refused_naming_it(bad):
    with pytest.raises(ValueError, match=bad):
        week_bounds(bad, "Asia/Shanghai")


def test_the_poisson_flag_needs_both_comparisons_beyond_two():
    assert poisson_z(4, 1) == 2.0
    assert poisson_z(4, 1, both_counts=True) == pytest.approx(2**0.5)  # two weeks, each with its own noise
    assert change_flag(4, 1, 1.0) == (2.0, None)  # 1 → 4: beyond the mean's 2, within two single weeks' noise
    assert change_flag(9, 1, 1.0) == (4.0, "up")
    assert change_flag(0, 4, 4.0) == (-4.0, "down")
    assert change_flag(3, 1, 0.125)[1] is None  # +200 % on small counts
    assert change_flag(9, 1, 9.0) == (0.0, None)  # a quiet last week, an ordinary week
    assert change_flag(9, 9, 1.0)[1] is None  # an ordinary last week
    assert change_flag(0, 0, 0.0) == (0.0, None)


async def test_closed_counts_only_what_the_street_resolved_by_the_weeks_end(scratch):
    """办结: resolved and not reopened since; a duplicate closed, a report placed into a community or a case
    returned as not the street's is not closed by the street; a resolve after the week's end does not count."""
    start, end = week_bounds(WEEK, "Asia/Shanghai")
    endings = {
        "resolved": [("resolved", "resolve")],
        "reopened": [("resolved", "resolve"), ("reopened", "reopen")],
        "again": [("resolved", "resolve"), ("reopened", "reopen"), ("resolved", "resolve")],
        "duplicate": [("closed", "close_duplicate")],
        "placed": [("closed", "reassign")],
        "returned": [("returned", "return")],
        "late": [],  # resolved after the week's end, below
    }
    conn = await asyncpg.connect(scratch)
    try:
        for n, (name, events) in enumerate(endings.items()):
            inc, opened = f"inc-c01-{name}", start + timedelta(hours=n)
            await conn.execute(
                "INSERT INTO incidents (id, street_id, community_id, category, severity, priority, status, level, "
                "owner, opened_at, report_count, last_report_at, last_seq, updated_at, resolve_by) VALUES ($1, "
                "'xichangan', 'c01', 'other', 'low', 'normal', 'closed', 'grid', 'c01', $2, 1, $2, 1, $2, $3)",
                inc,
                opened,
                end + timedelta(days=30),
            )
            timeline = [("opened", "report"), *events] + ([("resolved", "resolve")] if name == "late" else [])
            for seq, (kind, code) in enumerate(timeline, 1):
                when = end + timedelta(hours=1) if name == "late" and seq > 1 else opened + timedelta(minutes=seq)
                await conn.execute(
                    "INSERT INTO incident_events (id, incident_id, seq, kind, event_time, actor, reason, reason_code, "
                    "to_level, community_id, category, ceiling, payload) VALUES ($1, $2, $3, $4, $5, 'a', 'r', $6, "
                    "'grid', 'c01', 'other', false, '{}')",
                    f"{inc}:{seq:05d}",
                    inc,
                    seq,
                    kind,
                    when,
                    code,
                )
        closed = await conn.fetchrow(weekly_queries.CLOSED, start, end, "xichangan")
    finally:
        await conn.close()
    assert (closed["closed"], closed["closed_in_time"]) == (2, 2)  # "resolved" and "again"
