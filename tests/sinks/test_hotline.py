"""The 12345 sink against the real PostgreSQL, each test in a schema of its own: orders and their events
stored, the state derived from the events whatever their order of arrival and however often they come,
前响应 decided from the field reports before dispatch; and the console's page of orders with their clocks."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from config.crs import METRES_PER_DEGREE
from config.hotline import load_hotline
from schemas.display import zone
from sinks.hotline import HotlineSink
from sinks.hotline_rates import orders_page
from sinks.postgres import PostgresSink
from tests.support.hotline import WORKING_CALENDAR
from tests.support.hotline_orders import field_report, located_order, order_event

CONFIG = load_hotline()
T0 = datetime(2026, 11, 3, 2, 0, tzinfo=UTC)
POINT = (39.9, 116.37)


def h(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


@pytest.fixture
async def sink(scratch):
    pool = await asyncpg.create_pool(scratch, min_size=0, max_size=2)
    try:
        yield HotlineSink(pool, CONFIG, WORKING_CALENDAR)
    finally:
        await pool.close()


def lifecycle(order_id: str) -> list[dict]:
    """An order and its events, in the order they happened."""
    return [
        located_order(CONFIG, order_id, T0),
        order_event(f"{order_id}-e1", order_id, "contacted", h(1)),
        order_event(f"{order_id}-e2", order_id, "contacted", h(1.5)),
        order_event(f"{order_id}-e3", order_id, "extended", h(20), new_limit=h(24 * 9).isoformat()),
        order_event(f"{order_id}-e4", order_id, "extended", h(30), new_limit=h(24 * 12).isoformat()),
        order_event(f"{order_id}-e5", order_id, "closed", h(40), result="已清理"),
        order_event(f"{order_id}-e6", order_id, "closed", h(41), result="已清理并复查"),
        order_event(f"{order_id}-e7", order_id, "callback", h(50), resolved="yes", satisfaction="basically_satisfied"),
    ]


STATE = "contacted_at, extended_to, returned_at, returned_to, closed_at, result, callback_at, callback_resolved, satisfaction"


async def state(sink: HotlineSink, order_id: str) -> tuple:
    row = await sink.pool.fetchrow(f"SELECT {STATE} FROM hotline_orders WHERE id = $1", order_id)
    return tuple(row) if row else None


async def test_an_order_is_stored_with_the_state_its_events_give(sink):
    written = await sink.write(lifecycle("o1"))
    assert written == {"hotline_orders": 1, "hotline_order_events": 7}
    assert await state(sink, "o1") == (
        h(1),
        h(24 * 12),
        None,
        None,
        h(41),
        "已清理并复查",
        h(50),
        True,
        "basically_satisfied",
    )
    row = await sink.pool.fetchrow("SELECT * FROM hotline_orders WHERE id = 'o1'")
    assert (row["catalogue_code"], row["report_id"], row["contact_masked"]) == ("0101", "12345-o1", "138****1234")
    limits = CONFIG.limits("ordinary", T0, WORKING_CALENDAR)
    assert (row["contact_by"], row["resolve_by"]) == (limits.contact_by, limits.resolve_by)
    assert (row["lat"], row["lng"], row["grid_first"]) == (*POINT, False)


async def test_redelivery_and_any_order_of_arrival_give_the_same_row(sink):
    records = lifecycle("o1")
    await sink.write(records)
    expected = await state(sink, "o1")
    for n, order in enumerate(itertools.islice(itertools.permutations(records), 0, None, 997)):
        order_id = f"p{n}"
        renamed = [{**r, "id": order_id} if r["type"] == "order" else {**r, "order": order_id} for r in order]
        renamed = [{**r, "id": f"{order_id}-{r['id']}"} if r["type"] == "event" else r for r in renamed]
        # In batches of three, the events before their order among them.
        for start in range(0, len(renamed), 3):
            await sink.write(renamed[start : start + 3])
        assert await state(sink, order_id) == expected, order
    again = await sink.write(records)  # the whole topic once more
    assert again == {"hotline_orders": 0, "hotline_order_events": 0}
    assert await state(sink, "o1") == expected


async def test_a_return_is_the_orders_state_and_an_order_without_events_has_none(sink):
    await sink.write(
        [
            located_order(CONFIG, "r1", T0),
            order_event("r1-e1", "r1", "returned", h(3), returned_to="区城管委"),
            located_order(CONFIG, "quiet", T0),
        ]
    )
    assert await state(sink, "r1") == (None, None, h(3), "区城管委", None, None, None, None, None)
    assert await state(sink, "quiet") == (None,) * 9


BJ = zone("Asia/Shanghai")
HOLIDAY_EVE = datetime(2026, 9, 30, 15, 0, tzinfo=BJ)  # the last working afternoon before National Day
NEW_LIMIT = "2026-10-22T15:00:00+08:00"
WARNINGS = "contact_limit, resolve_limit, contact_warn_at, resolve_warn_at, extended_warn_at"


async def test_an_order_keeps_its_limits_as_written_and_their_warnings_and_an_extension_gets_one_in_working_time(
    sink,
):
    """Worked in tests/config/test_hotline_limits.py: 7wd from 30 Sep 15:00 warns on 14 Oct 11:48 (44.8 working
    hours); extended to 22 Oct 15:00 (96 working hours from dispatch), on 20 Oct 11:48 (76.8). The same
    whether the extension comes after its order (eve) or before it (late), and however often."""

    def extension(order_id: str) -> dict:
        return order_event(f"{order_id}-x", order_id, "extended", HOLIDAY_EVE + timedelta(days=10), new_limit=NEW_LIMIT)

    await sink.write([located_order(CONFIG, "eve", HOLIDAY_EVE)])
    await sink.write([extension("eve"), extension("late")])
    await sink.write([extension("eve"), located_order(CONFIG, "late", HOLIDAY_EVE)])
    for order_id in ("eve", "late"):
        row = await sink.pool.fetchrow(f"SELECT {WARNINGS} FROM hotline_orders WHERE id = $1", order_id)
        assert tuple(row) == (
            "2h",
            "7wd",
            datetime(2026, 9, 30, 16, 36, tzinfo=BJ),
            datetime(2026, 10, 14, 11, 48, tzinfo=BJ),
            datetime(2026, 10, 20, 11, 48, tzinfo=BJ),
        ), order_id


async def test_an_order_stored_without_its_limits_as_written_gets_no_warning_instants(sink):
    old = located_order(CONFIG, "old", HOLIDAY_EVE)
    old["limits"] = {k: old["limits"][k] for k in ("contact_by", "resolve_by", "warn_at", "rules")}
    await sink.write(
        [old, order_event("old-x", "old", "extended", HOLIDAY_EVE + timedelta(days=10), new_limit=NEW_LIMIT)]
    )
    row = await sink.pool.fetchrow(f"SELECT {WARNINGS} FROM hotline_orders WHERE id = 'old'")
    assert tuple(row) == (None,) * 5  # its clocks keep the linear share (streams/hotline/clocks.py)


def east(metres: float) -> tuple[float, float]:
    return POINT[0], POINT[1] + metres / (METRES_PER_DEGREE * 0.76604444)  # cos(40°) ≈ cos(39.9°) within 0.2 %


async def test_the_grid_saw_it_first_when_a_field_report_of_its_category_is_near_and_before(sink, scratch):
    reports = await PostgresSink.connect(scratch, max_size=1)
    try:
        await reports.write_reports(
            [
                field_report("near-early", "sanitation", east(250), T0 - timedelta(days=6)),
                field_report("near-late", "sanitation", east(100), T0 - timedelta(hours=1)),
                field_report("other-category", "dispute", east(10), T0 - timedelta(hours=1)),
                field_report("too-old", "illegal_parking", east(10), T0 - timedelta(days=7, hours=1)),
                field_report("after-dispatch", "illegal_parking", east(10), T0 + timedelta(minutes=1)),
                field_report("too-far", "group_renting", east(320), T0 - timedelta(hours=1)),
                field_report("12345-earlier", "facility_damage", POINT, T0 - timedelta(hours=1), device="12345"),
            ]
        )
    finally:
        await reports.close()
    await sink.write(
        [
            located_order(CONFIG, "seen", T0, category="sanitation"),
            located_order(CONFIG, "parking", T0, category="illegal_parking"),
            located_order(CONFIG, "renting", T0, category="group_renting"),
            located_order(CONFIG, "repeat", T0, category="facility_damage"),
            located_order(CONFIG, "by-grid", T0, category="sanitation", placed_by="grid"),  # at the grid's centre
            located_order(CONFIG, "by-address", T0, category="sanitation", placed_by="address"),
            located_order(CONFIG, "unlocated", T0, community="unlocated", grid=None, point=None, placed_by="unlocated"),
        ]
    )
    rows = await sink.pool.fetch("SELECT id, grid_first, prior_report FROM hotline_orders ORDER BY id")
    assert {r["id"]: (r["grid_first"], r["prior_report"]) for r in rows} == {
        "seen": (True, "near-early"),
        "parking": (False, None),
        "renting": (False, None),
        "repeat": (False, None),
        "by-grid": (False, None),
        "by-address": (True, "near-early"),
        "unlocated": (False, None),
    }


async def test_the_console_page_lists_orders_with_their_clocks_status_and_incident(sink):
    await sink.write(
        [
            *lifecycle("done"),
            located_order(CONFIG, "open-late", T0 - timedelta(days=1), urgency="utilities"),
            located_order(CONFIG, "open", T0, community="c02", grid="c02-g01"),
            order_event("open-x", "open", "extended", h(2), new_limit=h(24 * 10).isoformat()),
            located_order(CONFIG, "gone", T0),
            order_event("gone-r", "gone", "returned", h(1), returned_to="区城管委"),
        ]
    )
    await sink.pool.execute(
        "INSERT INTO incident_reports (report_id, incident_id, linked_at) VALUES ('12345-open', 'inc-7', $1)", T0
    )
    now = h(3)
    page = await orders_page(sink.pool, now, WORKING_CALENDAR)
    assert [o["id"] for o in page] == ["open-late", "open"]  # nearest its limit first
    late, fresh = page
    assert late["status"] == "open" and late["clocks"]["resolve"]["overdue_seconds"] == 3 * 3600
    assert late["clocks"]["contact"]["overdue_seconds"] == (24 + 3 - 2) * 3600 and late["incident_id"] is None
    # An ordinary order's limit is working time (7wd), and so is its extension's time left: from Tuesday
    # 3 Nov 13:00 to Friday 13 Nov 10:00, 4 h that day, 7 working days of 8 h between, 1 h on the Friday.
    assert fresh["clocks"]["resolve"] == {
        "due": h(24 * 10).isoformat(),
        "done_at": None,
        "working": True,
        "remaining_seconds": (4 + 7 * 8 + 1) * 3600,
        "overdue_seconds": None,
        "late": False,
    }
    assert fresh["incident_id"] == "inc-7" and fresh["community_id"] == "c02"
    assert [o["id"] for o in await orders_page(sink.pool, now, WORKING_CALENDAR, status="open", community="c02")] == [
        "open"
    ]
    (closed,) = await orders_page(sink.pool, now, WORKING_CALENDAR, status="closed")
    assert closed["id"] == "done" and closed["satisfaction"] == "basically_satisfied"
    assert closed["clocks"]["contact"]["late"] is False and closed["clocks"]["resolve"]["done_at"] == h(41).isoformat()
    assert [o["id"] for o in await orders_page(sink.pool, now, WORKING_CALENDAR, status="returned")] == ["gone"]
    assert len(await orders_page(sink.pool, now, WORKING_CALENDAR, status="all", limit=2, offset=3)) == 1
