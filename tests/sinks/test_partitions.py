"""Daily partitions of the position history: the retention window (pure, injected clock), and the sink
making the partitions it needs on demand in the real PostgreSQL."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, date, datetime, timedelta, timezone

import asyncpg
from prometheus_client import CollectorRegistry

from schemas.records import PositionBatch
from sinks.partitions import PositionHistory, Window, partition_day, partition_name
from sinks.postgres import PostgresSink
from tests.support.scratch import partitions_by_day

NOON = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def fixes(device: str, times: list[datetime]) -> dict:
    pings = [{"lat": 39.91, "lng": 116.37, "accuracy": 5.0, "time": t.isoformat(), "grid": "c01-g01"} for t in times]
    return PositionBatch.validate({"device": device, "pings": pings})


def refused(registry: CollectorRegistry, reason: str) -> float:
    return registry.get_sample_value("redwall_positions_refused_total", {"reason": reason})


# -- the window, without a database -------------------------------------------------------------


def test_a_day_expires_once_all_of_it_is_older_than_the_retention():
    window = Window.at(NOON, retention_days=30, days_ahead=3)
    # now - 30 days is 2026-10-29 12:00: the 28th ended before that, the 29th has not.
    assert (window.first, window.last) == (date(2026, 10, 29), date(2026, 12, 1))
    midnight = Window.at(datetime(2026, 11, 28, tzinfo=UTC), 30, 3)
    assert midnight.first == date(2026, 10, 29)  # the 28th ends exactly at the cut-off: expired
    # Days are UTC days, whatever the offset of the clock's reading.
    beijing = NOON.astimezone(timezone(timedelta(hours=8)))
    assert Window.at(beijing, 30, 3) == window
    assert len(Window(date(2026, 11, 27), date(2026, 11, 29)).days()) == 3


def test_admit_keeps_the_window_and_counts_the_rest():
    registry = CollectorRegistry()
    history = PositionHistory(30, 3, registry, now=lambda: NOON)
    times = [
        NOON - timedelta(days=31),
        NOON - timedelta(days=30),
        NOON,
        NOON + timedelta(days=3, hours=11),
        NOON + timedelta(days=3, hours=12),
    ]
    rows = [("dev", t) for t in times]
    kept, days = history.admit(rows)
    assert kept == rows[1:4]
    assert days == {date(2026, 10, 29), date(2026, 11, 28), date(2026, 12, 1)}
    assert (refused(registry, "expired"), refused(registry, "future")) == (1, 1)


def test_partition_names_round_trip_and_other_tables_are_not_partitions():
    assert partition_name(date(2026, 1, 2)) == "positions_20260102"
    assert partition_day("positions_20260102") == date(2026, 1, 2)
    assert partition_day(partition_name(date(99, 1, 2))) == date(99, 1, 2)  # named as to_char's YYYY does
    for other in ("positions", "positions_stage", "positions_2026010", "positions_20261399", "latest_positions"):
        assert partition_day(other) is None


# -- the sink, against PostgreSQL ---------------------------------------------------------------


async def test_the_sink_makes_partitions_on_demand_and_stays_idempotent(scratch):
    registry = CollectorRegistry()
    now = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0)  # minutes never cross a day
    sink = await PostgresSink.connect(scratch, history=PositionHistory(30, 3, registry))
    conn = await asyncpg.connect(scratch)
    device = f"dev-{uuid.uuid4().hex[:8]}"
    days = [-29, -10, -3, 0, 2]
    batch = fixes(device, [now + timedelta(days=d, minutes=m) for d in days for m in range(3)])
    try:
        assert await sink.write_positions([batch]) == {"positions": 15, "latest_positions": 1}
        assert await sink.write_positions([batch, batch]) == {"positions": 0, "latest_positions": 0}
        by_day = await partitions_by_day(conn)
        for d in days:  # every day of the batch has its partition, holding that day's three fixes
            name = partition_name((now + timedelta(days=d)).astimezone(UTC).date())
            assert by_day[name] == 3, name
        assert await conn.fetchval("SELECT count(*) FROM positions WHERE device_id = $1", device) == 15

        old_and_future = fixes(device, [now - timedelta(days=31), now - timedelta(days=40), now + timedelta(days=5)])
        assert await sink.write_positions([old_and_future]) == {"positions": 0, "latest_positions": 0}
        assert (refused(registry, "expired"), refused(registry, "future")) == (2, 1)
        assert await conn.fetchval("SELECT count(*) FROM positions WHERE device_id = $1", device) == 15
        assert partition_name((now - timedelta(days=40)).date()) not in await partitions_by_day(conn)
    finally:
        await conn.close()
        await sink.close()


async def test_two_sinks_making_the_same_days_at_once_both_succeed(scratch):
    sinks = [await PostgresSink.connect(scratch) for _ in range(3)]
    base = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0)
    try:
        written = await asyncio.gather(
            *(
                sink.write_positions([fixes(f"dev-{n}", [base - timedelta(days=d) for d in range(5)])])
                for n, sink in enumerate(sinks)
            )
        )
        assert [w["positions"] for w in written] == [5, 5, 5]
    finally:
        for sink in sinks:
            await sink.close()


async def test_creating_a_day_another_session_is_creating_waits_and_returns_false(scratch):
    first, second = await asyncpg.connect(scratch), await asyncpg.connect(scratch)
    try:
        creating = first.transaction()
        await creating.start()
        assert await first.fetchval("SELECT positions_create_partition('2030-01-01')") is True
        racing = asyncio.create_task(second.fetchval("SELECT positions_create_partition('2030-01-01')"))
        await asyncio.sleep(0.5)
        assert not racing.done()  # waits for the first session's lock
        await creating.commit()
        assert await racing is False  # then finds the partition made: no error, no second table
    finally:
        await first.close()
        await second.close()


async def test_a_partition_dropped_under_the_sink_is_made_again(scratch):
    sink = await PostgresSink.connect(scratch)
    conn = await asyncpg.connect(scratch)
    yesterday = datetime.now(UTC) - timedelta(days=1)
    try:
        await sink.write_positions([fixes("dev-a", [yesterday])])
        await conn.execute(f"DROP TABLE {partition_name(yesterday.date())}")  # the sink still believes it exists
        later = yesterday + timedelta(seconds=1)
        assert await sink.write_positions([fixes("dev-a", [later])]) == {"positions": 1, "latest_positions": 1}
        assert await conn.fetchval("SELECT event_time FROM positions WHERE device_id = 'dev-a'") == later
    finally:
        await conn.close()
        await sink.close()
