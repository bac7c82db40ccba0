"""PostgreSQL stopped for 30 s under load: the sink consumers retry with backoff and commit no offset
while it is away; once it is back every accepted row is there, exactly once."""

from __future__ import annotations

import asyncio
import re
import time
import urllib.request
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest
from aiokafka import TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from consumers.sink import GROUP_PREFIX
from tests.faults.checks import everything_stored, explain_missing
from tests.faults.load import Accepted, KafkaDevices, RecordingSimulator
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration

OUTAGE = 30.0
SINKS = ("reports", "positions", "dead-letters", "patrol", "incidents")
MAX_ATTEMPTS = 60  # per sink in 30 s: with backoff it is a dozen or two; a retry loop without it, thousands


async def committed(settings) -> dict[str, dict]:
    """Committed offsets of each sink consumer group, by partition."""
    topics = {
        "reports": settings.topic_located_reports,
        "positions": settings.topic_positions,
        "dead-letters": settings.topic_deadletter,
        "patrol": settings.topic_patrol,
        "incidents": settings.topic_incidents,
    }
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.broker)
    await admin.start()
    try:
        # Explicit partitions: Tansu cannot answer the "all topics" form of OffsetFetch.
        return {
            g: {
                tp.partition: o.offset
                for tp, o in (
                    await admin.list_consumer_group_offsets(
                        f"{GROUP_PREFIX}-{g}",
                        partitions=[TopicPartition(topics[g], p) for p in range(settings.partitions)],
                    )
                ).items()
            }
            for g in SINKS
        }
    finally:
        await admin.close()


def unavailable_failures(metrics_url: str) -> int:
    text = urllib.request.urlopen(metrics_url, timeout=5).read().decode()
    return sum(
        int(float(m))
        for m in re.findall(r'^redwall_sink_failures_total\{[^}]*reason="unavailable"[^}]*\} (\S+)$', text, re.M)
    )


def retry_delays(log: str) -> dict[str, list[float]]:
    """The sink's own account of its retries: per sink, each announced delay in seconds."""
    delays: dict[str, list[float]] = {}
    for sink, delay in re.findall(r"(\S+): sink unavailable \(attempt \d+\), retrying \d+ records in ([\d.]+) s", log):
        delays.setdefault(sink, []).append(float(delay))
    return delays


async def test_postgres_away_for_30_seconds_under_load(fault_settings, processes, fault_postgres):
    s = fault_settings
    since = datetime.now(UTC) - timedelta(seconds=1)
    accepted, stop = Accepted(), asyncio.Event()
    await processes.start("worker", "sink")
    simulator = RecordingSimulator(s, processes.ingest_url, accepted, devices=40)
    load = [asyncio.create_task(simulator.run(stop)), asyncio.create_task(KafkaDevices(s, accepted).run(stop))]
    try:
        await asyncio.sleep(5)
        fault_postgres.stop()
        down = time.monotonic()
        await asyncio.sleep(3)  # a batch written just before the stop may still commit
        frozen = await committed(s)
        await asyncio.sleep(OUTAGE - 3 - 1)
        assert await committed(s) == frozen, "a sink committed offsets while PostgreSQL was away"
        failures = await asyncio.to_thread(unavailable_failures, processes.urls["sink"])
        await asyncio.sleep(1)
        fault_postgres.start()
        outage = time.monotonic() - down
        back = time.monotonic()
        await asyncio.sleep(3)
    finally:
        stop.set()
        await asyncio.gather(*load)
    pg = await asyncpg.connect(fault_postgres.url)
    try:
        drained = await eventually(lambda: everything_stored(pg, accepted, since), 60)
        assert drained, await explain_missing(s, pg, accepted, since)
        drain = time.monotonic() - back
        delays = retry_delays(processes.sink.log_path.read_text(errors="replace"))
        print(
            f"\npostgres outage: {outage:.1f} s; {failures} failed writes retried "
            f"({', '.join(f'{k}: {len(v)} attempts, longest wait {max(v):.1f} s' for k, v in sorted(delays.items()))}); "
            f"all {len(accepted.pings)} pings and {len(accepted.reports)} reports in Postgres {drain:.1f} s after it returned"
        )
        assert failures > 0 and delays, "no sink noticed PostgreSQL was away"
        assert all(len(v) <= MAX_ATTEMPTS for v in delays.values()), f"retries without backoff: {delays}"
        assert all(max(v) > 1.0 for v in delays.values() if len(v) >= 8), f"backoff never grew: {delays}"
        await check_exactly_once(pg, accepted, since)
    finally:
        await pg.close()


async def check_exactly_once(pg: asyncpg.Connection, accepted: Accepted, since: datetime) -> None:
    # Once, by construction: positions and reports are keyed by event id, so a retried write adds nothing.
    # What can go wrong is a row nobody sent, a sent one missing, or a report in no incident or in two.
    stored = {
        (r["device_id"], r["event_time"])
        for r in await pg.fetch("SELECT device_id, event_time FROM positions WHERE event_time >= $1", since)
    }
    assert stored - accepted.pings <= accepted.unsure_pings, f"rows nobody sent: {sorted(stored - accepted.pings)[:3]}"
    ids = [
        r["id"]
        for r in await pg.fetch(
            "SELECT id FROM reports WHERE id = ANY($1)", list(accepted.reports | accepted.unsure_reports)
        )
    ]
    assert set(ids) >= accepted.reports, f"accepted reports missing: {sorted(accepted.reports - set(ids))[:3]}"

    async def linked():
        return await pg.fetchval("SELECT count(*) FROM incident_reports WHERE report_id = ANY($1)", ids) == len(ids)

    assert await eventually(linked, 20), "stored reports in no incident"
