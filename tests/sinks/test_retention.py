"""Retention against the real PostgreSQL, each test in a schema of its own: whole expired days dropped
(checked in the catalog), every other row kept, stale rows removed (12345 orders with their events and
claims, their repeat-caller hashes earlier), repeats and rivals harmless; and the migration of a plain
position table with rows into the partitioned one."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import os
import shutil
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import pytest
from prometheus_client import CollectorRegistry

from config.hotline import load_hotline
from config.settings import Settings
from consumers.retention import RetentionJob
from consumers.sink import run_sinks
from schemas.records import DeadLetter, PositionBatch
from sinks.hotline import HotlineSink
from sinks.migrate import MIGRATIONS_DIR, migrate
from sinks.partitions import PositionHistory, partition_name
from sinks.postgres import PostgresSink
from sinks.retention import RetentionPolicy, apply_retention
from streams.demo.embedded import free_port
from streams.topics import ensure_topics
from tests.support.hotline import WORKING_CALENDAR
from tests.support.hotline_orders import located_order, order_event
from tests.support.scratch import partitions_by_day, scratch_schema
from tests.support.topics import own_topics
from tests.support.waiting import eventually

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime.now(UTC)
NOON = NOW.replace(hour=12, minute=0, second=0, microsecond=0)
POLICY = RetentionPolicy(position_days=5, days_ahead=3, dead_letter_days=5)
DAYS = range(-8, 1)  # fixes at noon on each of the last nine days; with 5 days' retention -8..-6 expire
EXPIRED = {partition_name((NOON + timedelta(days=d)).date()) for d in (-8, -7, -6)}


def batch(device: str, days, per_day: int = 4) -> dict:
    pings = [
        {"lat": 39.91, "lng": 116.37, "accuracy": 5.0, "time": (NOON + timedelta(days=d, minutes=m)).isoformat()}
        for d in days
        for m in range(per_day)
    ]
    return PositionBatch.validate({"device": device, "pings": pings})


def dead_letter(offset: int, failed_at: datetime) -> dict:
    return DeadLetter.validate(
        {
            "reason": "invalid record",
            "errors": [],
            "source_topic": "t",
            "partition": 0,
            "offset": offset,
            "value_b64": base64.b64encode(b'{"device": "dev-a"}').decode(),
            "failed_at": failed_at.isoformat(),
        }
    )


@pytest.fixture
async def loaded(scratch):
    """Nine days of one active device, a device silent for eight days, GPS flags and dead letters."""
    sink = await PostgresSink.connect(scratch, history=PositionHistory(30, 3))
    try:
        await sink.write_positions([batch("dev-active", DAYS), batch("dev-silent", [-8])])
        await sink.write_dead_letters(
            [dead_letter(1, NOW - timedelta(days=6)), dead_letter(2, NOW - timedelta(days=1))]
        )
    finally:
        await sink.close()
    conn = await asyncpg.connect(scratch)
    await conn.execute(
        "INSERT INTO position_flags (device_id, event_time, reason) VALUES ('dev-active', $1, 'accuracy'),"
        " ('dev-active', $2, 'accuracy')",
        NOON - timedelta(days=7),
        NOON,
    )
    await conn.executemany(
        "INSERT INTO patrol_events (id, device_id, grid_id, status, previous, reason, event_time, "
        "fix_time, lat, lng, accuracy) VALUES ($1, 'dev-active', 'c01-g01', 'off_post', 'on_post', "
        "'outside', $2, $2, 39.9, 116.3, 5)",
        [("old", NOON - timedelta(days=7)), ("new", NOON)],
    )
    yield conn
    await conn.close()


async def test_retention_drops_exactly_the_expired_days_and_keeps_every_other_row(loaded):
    before = await partitions_by_day(loaded)
    dry = await apply_retention(loaded, POLICY, NOW, dry_run=True)
    assert await partitions_by_day(loaded) == before  # a dry run changes nothing
    result = await apply_retention(loaded, POLICY, NOW)

    assert set(result.dropped) == EXPIRED and dry.dropped == result.dropped
    assert result.dropped[partition_name((NOON - timedelta(days=8)).date())] == 8  # both devices' fixes
    after = await partitions_by_day(loaded)
    assert set(after) == set(before) - EXPIRED
    assert all(after[name] == before[name] for name in after)  # the kept days lost no row
    assert await loaded.fetchval("SELECT count(*) FROM positions") == 4 * 6
    assert await loaded.fetchval("SELECT min(event_time) FROM positions") == NOON - timedelta(days=5)
    assert [r[0] for r in await loaded.fetch("SELECT device_id FROM latest_positions")] == ["dev-active"]
    assert await loaded.fetchval("SELECT count(*) FROM position_flags") == 1
    assert [r[0] for r in await loaded.fetch('SELECT "offset" FROM dead_letters')] == [2]
    assert (
        result.removed
        == dry.removed
        == {"latest_positions": 1, "position_flags": 1, "patrol_events": 1, "dead_letters": 1}
    )
    # The old status change stays in the patrol audit trail, without the fix's location.
    events = {r["id"]: (r["status"], r["lat"]) for r in await loaded.fetch("SELECT id, status, lat FROM patrol_events")}
    assert events == {"old": ("off_post", None), "new": ("off_post", 39.9)}
    ahead = {partition_name((NOW + timedelta(days=d)).date()) for d in range(4)}
    assert ahead <= set(after)

    again = await apply_retention(loaded, POLICY, NOW)
    assert (again.dropped, again.created, again.removed) == ({}, [], dict.fromkeys(result.removed, 0))
    assert await partitions_by_day(loaded) == after


async def test_a_busy_day_is_left_for_the_next_run_and_the_others_go(loaded, scratch, monkeypatch):
    monkeypatch.setattr("sinks.retention.DROP_LOCK_TIMEOUT", "200ms")
    busy = sorted(EXPIRED)[0]
    reader = await asyncpg.connect(scratch)
    try:
        reading = reader.transaction()
        await reading.start()
        await reader.fetchval(f"SELECT count(*) FROM {busy}")  # a long report holds the day open
        first = await apply_retention(loaded, POLICY, NOW)
        await reading.rollback()
    finally:
        await reader.close()
    assert set(first.dropped) == EXPIRED - {busy}
    second = await apply_retention(loaded, POLICY, NOW)
    assert set(second.dropped) == {busy}
    assert not set(await partitions_by_day(loaded)) & EXPIRED


async def test_two_processes_running_retention_at_once_drop_each_day_once(loaded, scratch):
    other = await asyncpg.connect(scratch)
    try:
        results = await asyncio.gather(apply_retention(loaded, POLICY, NOW), apply_retention(other, POLICY, NOW))
    finally:
        await other.close()
    dropped = [name for r in results for name in r.dropped]
    assert sorted(dropped) == sorted(EXPIRED)
    assert not set(await partitions_by_day(loaded)) & EXPIRED


async def test_the_sink_job_counts_what_it_removed(loaded, scratch):
    settings = Settings.from_env(database_url=scratch, position_retention_days=5, dead_letter_retention_days=5)
    registry = CollectorRegistry()
    pool = await asyncpg.create_pool(scratch, min_size=0, max_size=1)
    try:
        job = RetentionJob(settings, pool, registry)
        await job.run_once()
        await job.run_once()  # nothing left to remove: counters stay
    finally:
        await pool.close()

    def value(name, **labels):
        return registry.get_sample_value(name, labels)

    assert value("redwall_retention_partitions_dropped_total") == 3
    assert value("redwall_retention_rows_removed_total", table="positions") == 8 + 4 + 4
    assert value("redwall_retention_rows_removed_total", table="dead_letters") == 1
    assert value("redwall_retention_rows_removed_total", table="hotline_contact_hash") == 0  # a series from the start
    assert value("redwall_retention_runs_total", outcome="done") == 2
    assert value("redwall_retention_last_done_timestamp_seconds") > 0


async def test_redwall_sink_runs_retention_when_it_starts(loaded, scratch, settings):
    run = uuid.uuid4().hex[:8]
    s = dataclasses.replace(
        settings,
        database_url=scratch,
        sink_metrics_port=free_port(),
        position_retention_days=5,
        dead_letter_retention_days=5,
        **own_topics(settings, f"retention-{run}"),
    )
    await ensure_topics(s)
    registry, stop = CollectorRegistry(), asyncio.Event()
    task = asyncio.create_task(run_sinks(s, registry, stop, group_prefix=f"test-retention-{run}"))
    try:

        async def ran():
            return registry.get_sample_value("redwall_retention_runs_total", {"outcome": "done"}) or task.done()

        await eventually(ran, 30, interval=0.1)
    finally:
        stop.set()
        await asyncio.wait_for(task, 15)
    assert registry.get_sample_value("redwall_retention_partitions_dropped_total") == 3
    assert not set(await partitions_by_day(loaded)) & EXPIRED


async def test_a_failed_run_is_counted_and_the_job_carries_on():
    dsn = f"postgresql://postgres@127.0.0.1:{free_port()}/redwall"  # nothing listens there
    registry, stop = CollectorRegistry(), asyncio.Event()
    pool = await asyncpg.create_pool(dsn, min_size=0, max_size=1)
    try:
        job = RetentionJob(Settings.from_env(database_url=dsn, retention_interval_seconds=1), pool, registry)
        task = asyncio.create_task(job.run(stop))

        async def failed_twice():  # the run at start, then one more an interval later
            return registry.get_sample_value("redwall_retention_runs_total", {"outcome": "failed"}) >= 2

        await eventually(failed_twice, 10, interval=0.1)
        stop.set()
        await asyncio.wait_for(task, 5)  # still running, and stops when told
    finally:
        await pool.close()
    assert registry.get_sample_value("redwall_retention_runs_total", {"outcome": "failed"}) >= 2
    assert registry.get_sample_value("redwall_retention_runs_total", {"outcome": "done"}) == 0


async def test_redwall_retention_dry_run_says_what_it_would_drop(loaded, scratch):
    env = {**os.environ, "DATABASE_URL": scratch, "REDWALL_POSITION_RETENTION_DAYS": "5"}
    done = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "streams.cli", "retention", "--dry-run"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    for name in EXPIRED:
        assert "would drop" in done.stdout and name in done.stdout
    assert len(await partitions_by_day(loaded)) >= 9  # still there


async def test_migration_partitions_an_existing_table_and_keeps_every_row(pg, database_url, tmp_path):
    for path in MIGRATIONS_DIR.glob("*.sql"):
        if int(path.name[:4]) < 6:
            shutil.copy(path, tmp_path)
    times = [
        datetime(2020, 2, 29, 23, 59, 59, tzinfo=UTC),
        datetime(2026, 11, 27, 0, 0, tzinfo=UTC),
        datetime(2026, 11, 26, 23, 59, 59, 999999, tzinfo=UTC),
        NOON,
    ]
    rows = [
        (f"dev-{n % 3}", t + timedelta(hours=8 * k), 39.9, 116.3, 5.0) for n, t in enumerate(times) for k in range(2)
    ]
    async with scratch_schema(pg, database_url, migrations=tmp_path) as dsn:
        conn = await asyncpg.connect(dsn)
        try:
            await conn.executemany(
                "INSERT INTO positions (device_id, event_time, lat, lng, accuracy) VALUES ($1, $2, $3, $4, $5)", rows
            )
            assert "0006_positions_partitioned" in await migrate(dsn)
            assert await conn.fetchval("SELECT relkind::text FROM pg_class WHERE oid = 'positions'::regclass") == "p"
            stored = await conn.fetch("SELECT device_id, event_time, lat, lng, accuracy FROM positions")
            assert sorted(map(tuple, stored)) == sorted(rows)
            by_day = await partitions_by_day(conn)
            for _, when, *_ in rows:  # each row sits in the partition of its UTC day
                name = await conn.fetchval("SELECT tableoid::regclass::text FROM positions WHERE event_time = $1", when)
                assert name == partition_name(when.date()) and by_day[name] > 0
            assert await conn.fetchval("SELECT to_regclass('positions_unpartitioned')") is None
        finally:
            await conn.close()
        sink = await PostgresSink.connect(dsn)  # and the idempotent insert works on the migrated table
        try:
            again = PositionBatch.validate(
                {"device": "dev-0", "pings": [{"lat": 39.9, "lng": 116.3, "accuracy": 5.0, "time": NOON.isoformat()}]}
            )
            assert (await sink.write_positions([again]))["positions"] == 0
        finally:
            await sink.close()


async def test_old_12345_orders_go_with_their_events_and_claims_and_hashes_go_earlier(scratch):
    config = load_hotline()
    policy = dataclasses.replace(POLICY, hotline_orders=timedelta(days=730), contact_hash=timedelta(days=180))
    pool = await asyncpg.create_pool(scratch, min_size=0, max_size=1)
    try:
        old, middle, new = (NOON - timedelta(days=d) for d in (800, 200, 10))
        await HotlineSink(pool, config, WORKING_CALENDAR).write(
            [
                located_order(config, "old", old),
                order_event("old-c", "old", "contacted", old + timedelta(hours=1)),
                located_order(config, "middle", middle),
                order_event("middle-c", "middle", "contacted", middle + timedelta(hours=1)),
                located_order(config, "new", new),
                order_event("orphan", "never-came", "contacted", old),  # its order never arrived
            ]
        )
        await pool.execute(
            "INSERT INTO hotline_clock_alerts (order_id, clock, stage, due, alert_id, sent_at) VALUES "
            "('old', 'contact', 'breach', $1, 'a1', $1), ('new', 'contact', 'breach', $2, 'a2', $2)",
            old,
            new,
        )
        async with pool.acquire() as conn:
            dry = await apply_retention(conn, policy, NOW, dry_run=True)
            result = await apply_retention(conn, policy, NOW)
            again = await apply_retention(conn, policy, NOW)
        orders = {
            r["id"]: (r["contact_hash"], r["contact_masked"]) for r in await pool.fetch("SELECT * FROM hotline_orders")
        }
        events = {r["id"] for r in await pool.fetch("SELECT id FROM hotline_order_events")}
        claims = {r["alert_id"] for r in await pool.fetch("SELECT alert_id FROM hotline_clock_alerts")}
    finally:
        await pool.close()
    assert orders == {"middle": (None, "138****1234"), "new": ("ab" * 32, "138****1234")}
    assert events == {"middle-c"} and claims == {"a2"}
    hotline = {k: v for k, v in result.removed.items() if k.startswith("hotline")}
    assert hotline == {
        "hotline_contact_hash": 2,
        "hotline_order_events": 2,
        "hotline_clock_alerts": 1,
        "hotline_orders": 1,
    }
    assert dry.removed == result.removed and again.removed == dict.fromkeys(result.removed, 0)
    assert "1 from hotline_orders" in result.summary() and "2 from hotline_contact_hash" in result.summary()
