"""The clocks of 12345 orders: the stages due (pure), their alerts (Chinese first, schema-valid), and
`tick` against the real PostgreSQL: each stage claimed and sent once, however many ticks and workers."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import asyncpg
import pytest

from config.hotline import load_hotline
from schemas.display import zone
from schemas.records import Alert
from sinks.hotline import HotlineSink
from sinks.hotline_rates import orders_page
from streams.hotline.clocks import Stage, clock_alert, due_stages, tick
from tests.support.hotline import T0, WORKING_CALENDAR, insert_order
from tests.support.hotline_orders import located_order, order_event

TZ = "Asia/Shanghai"
BJ = zone(TZ)
CONFIG = load_hotline()
H = timedelta(hours=1)
# dispatched T0: contact by T0+2h (warning at 1h36m), resolve by T0+7d (warning at 5d14h24m)
CONTACT_WARN, CONTACT_BY, RESOLVE_BY = T0 + timedelta(minutes=96), T0 + 2 * H, T0 + timedelta(days=7)


def row(order_id: str = "o-1", **state) -> dict:
    """An open order as tick reads it from hotline_orders."""
    return {
        "id": order_id,
        "dispatched_at": T0,
        "urgency": "ordinary",
        "category": "illegal_parking",
        "street_id": "xichangan",
        "community_id": "c03",
        "grid_id": "c03-g01",
        "contact_by": CONTACT_BY,
        "resolve_by": RESOLVE_BY,
        "contact_warn": CONTACT_WARN,
        "resolve_warn": T0 + timedelta(days=5, hours=14, minutes=24),
        "contacted_at": None,
        "severity": "medium",
        "claimed": [],
        **state,
    }


def stages(order: dict, now) -> list[tuple[str, str]]:
    return [(s.clock, s.stage) for s in due_stages(order, now)]


def test_a_clock_warns_at_its_share_of_the_span_then_breaches_at_its_limit():
    assert stages(row(), CONTACT_WARN - timedelta(seconds=1)) == []
    assert stages(row(), CONTACT_WARN) == [("contact", "warning")]
    assert stages(row(), CONTACT_BY) == [("contact", "breach")]  # past the limit: no late warning
    assert stages(row(contacted_at=T0 + H), RESOLVE_BY) == [("resolve", "breach")]
    claimed = row(claimed=["contact warning 20261102T030000Z"])
    assert stages(claimed, CONTACT_WARN) == [] and stages(claimed, CONTACT_BY) == [("contact", "breach")]


def test_the_alert_is_chinese_first_to_the_community_with_a_deterministic_id():
    now = CONTACT_BY + timedelta(minutes=30)
    [stage] = due_stages(row(), now)
    alert = Alert.validate(clock_alert(row(), stage, now, WORKING_CALENDAR))
    assert alert["id"] == "hotline:o-1:contact:breach:20261102T030000Z"
    assert (alert["kind"], alert["level"], alert["owner"], alert["order"]) == (
        "hotline_breached",
        "community",
        "c03",
        "o-1",
    )
    assert alert["priority"] == "high" and alert["title"]["zh"] == "12345 超时：先行联系时限（工单 o-1）"
    assert "2026-11-02 11:00，已超时30分钟" in alert["body"]["zh"] and alert["event_time"] == CONTACT_BY.isoformat()
    unlocated = row(community_id="unlocated", grid_id=None, urgency="emergency")
    warning = clock_alert(
        unlocated, Stage("o-1", "contact", "warning", CONTACT_BY, CONTACT_WARN), CONTACT_WARN, WORKING_CALENDAR
    )
    assert (warning["level"], warning["owner"], warning["priority"]) == ("street", "xichangan", "top")
    assert "还剩24分钟" in Alert.validate(warning)["body"]["zh"]


@pytest.fixture
async def pool(scratch):
    pool = await asyncpg.create_pool(scratch, min_size=1, max_size=4)
    yield pool
    await pool.close()


async def sent_ids(pool, now, send=None) -> list[str]:
    async def to_broker(alerts):
        if send:
            await send(alerts)

    return sorted(a["id"] for a in await tick(pool, CONFIG, now, to_broker, WORKING_CALENDAR))


async def test_an_order_due_for_warning_alerts_once_across_ticks_and_two_workers_at_once(pool, scratch):
    await insert_order(pool, "o-w")
    other = await asyncpg.create_pool(scratch, min_size=1, max_size=2)

    async def slow_broker(alerts):
        await asyncio.sleep(0.3)  # the claim stays held meanwhile

    try:
        both = await asyncio.gather(
            sent_ids(pool, CONTACT_WARN, slow_broker), sent_ids(other, CONTACT_WARN + timedelta(seconds=1), slow_broker)
        )
    finally:
        await other.close()
    assert sorted(both[0] + both[1]) == ["hotline:o-w:contact:warning:20261102T030000Z"]
    assert await sent_ids(pool, CONTACT_WARN + timedelta(minutes=5)) == []
    assert await sent_ids(pool, CONTACT_BY) == ["hotline:o-w:contact:breach:20261102T030000Z"]
    claims = await pool.fetch("SELECT clock, stage, alert_id FROM hotline_clock_alerts ORDER BY sent_at")
    assert [(c["clock"], c["stage"]) for c in claims] == [("contact", "warning"), ("contact", "breach")]


async def test_an_extension_makes_a_new_limit_and_so_a_new_warning(pool):
    await insert_order(pool, "o-x", contacted_at=T0 + H)
    warn = T0 + timedelta(days=5, hours=15)
    assert await sent_ids(pool, warn) == ["hotline:o-x:resolve:warning:20261109T010000Z"]
    await pool.execute("UPDATE hotline_orders SET extended_to = $1 WHERE id = 'o-x'", T0 + timedelta(days=14))
    assert await sent_ids(pool, warn + H) == []  # 80 % of the new span has not gone yet
    later = T0 + timedelta(days=11, hours=5)
    assert await sent_ids(pool, later) == ["hotline:o-x:resolve:warning:20261116T010000Z"]


async def test_working_time_warnings_come_at_the_instants_stored_with_the_order_not_at_a_share_of_the_calendar(
    pool,
):
    """The National Day order of tests/config/test_hotline_limits.py, written by the sink: its resolve
    warning is due on 14 Oct 11:48 (the linear share would have said 12 Oct 15:00), its breach on 15 Oct
    15:00; extended to 22 Oct 15:00, the new limit warns on 20 Oct 11:48."""
    eve = datetime(2026, 9, 30, 15, 0, tzinfo=BJ)
    sink = HotlineSink(pool, CONFIG, WORKING_CALENDAR)
    await sink.write([located_order(CONFIG, "eve", eve), order_event("eve-c", "eve", "contacted", eve)])
    assert await sent_ids(pool, datetime(2026, 10, 13, 16, 59, tzinfo=BJ)) == []
    assert await sent_ids(pool, datetime(2026, 10, 14, 11, 47, 59, tzinfo=BJ)) == []
    assert await sent_ids(pool, datetime(2026, 10, 14, 11, 48, tzinfo=BJ)) == [
        "hotline:eve:resolve:warning:20261015T070000Z"
    ]
    assert await sent_ids(pool, datetime(2026, 10, 15, 15, 0, tzinfo=BJ)) == [
        "hotline:eve:resolve:breach:20261015T070000Z"
    ]
    extended = datetime(2026, 10, 15, 16, 0, tzinfo=BJ)
    await sink.write([order_event("eve-x", "eve", "extended", extended, new_limit="2026-10-22T15:00:00+08:00")])
    assert await sent_ids(pool, datetime(2026, 10, 20, 11, 47, tzinfo=BJ)) == []
    assert await sent_ids(pool, datetime(2026, 10, 20, 11, 48, tzinfo=BJ)) == [
        "hotline:eve:resolve:warning:20261022T070000Z"
    ]


async def test_a_working_time_limit_says_its_time_left_and_overdue_in_working_time(pool):
    eve = datetime(2026, 9, 30, 15, 0, tzinfo=BJ)
    await HotlineSink(pool, CONFIG, WORKING_CALENDAR).write(
        [located_order(CONFIG, "eve", eve), order_event("eve-c", "eve", "contacted", eve)]
    )
    warned = datetime(2026, 10, 14, 11, 48, tzinfo=BJ)
    (alert,) = await tick(pool, CONFIG, warned, _nowhere, WORKING_CALENDAR)
    # 14 Oct 11:48-17:00 and 15 Oct 09:00-15:00: 11 h 12 working minutes, 1 working day of 8 h and 3 h.
    assert "还剩1工作日3工时" in alert["body"]["zh"]
    (order,) = await orders_page(pool, warned, WORKING_CALENDAR)
    assert order["clocks"]["resolve"]["working"] and order["clocks"]["resolve"]["remaining_seconds"] == 40320
    # Overdue from 15 Oct 15:00: by Friday 16 Oct 10:00, 2 h that Thursday and 1 h on Friday.
    (late,) = await orders_page(pool, datetime(2026, 10, 16, 10, 0, tzinfo=BJ), WORKING_CALENDAR)
    assert late["clocks"]["resolve"]["overdue_seconds"] == 3 * 3600
    assert late["clocks"]["contact"]["done_at"] and not late["clocks"]["contact"]["working"]


async def test_a_contacted_order_gives_no_contact_alert_a_closed_or_returned_one_no_resolve_alert(pool):
    await insert_order(pool, "o-c", contacted_at=T0 + timedelta(minutes=30))
    await insert_order(pool, "o-d", contacted_at=T0 + H, closed_at=T0 + timedelta(days=1))
    await insert_order(pool, "o-r", returned_at=T0 + timedelta(minutes=20), returned_to="区城管委")
    late = RESOLVE_BY + H
    assert await sent_ids(pool, late) == ["hotline:o-c:resolve:breach:20261109T010000Z"]


async def test_a_stage_older_than_the_alerts_max_age_is_claimed_but_pages_nobody(pool):
    await insert_order(pool, "o-old", contacted_at=T0 + H)
    days_late = RESOLVE_BY + timedelta(days=3)
    sent = await tick(pool, CONFIG, days_late, _nowhere, WORKING_CALENDAR, max_age=timedelta(hours=6))
    assert sent == [] and await pool.fetchval("SELECT alert_id FROM hotline_clock_alerts") == (
        "hotline:o-old:resolve:breach:20261109T010000Z"
    )
    assert await tick(pool, CONFIG, days_late + H, _nowhere, WORKING_CALENDAR, max_age=timedelta(hours=6)) == []


async def _nowhere(alerts):
    return None
