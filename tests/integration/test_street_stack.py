"""A stack started on a fresh street directory (`redwall street init --from-sample`) pages nobody: the
worker, sink and delivery on the test broker, with a database of its own, migrated and loaded from
that directory alone, for 8 s of real time with the patrol thresholds cut to seconds. The sample
roster here had about 80 phones go offline within minutes, and its discard-port webhooks failing."""

from __future__ import annotations

import asyncio
import dataclasses
import time
import uuid

import asyncpg
import pytest

from config.street_dir import FILES, init_street
from schemas import json
from sinks.migrate import migrate
from streams.demo.embedded import free_port
from streams.demo.processes import RedwallProcess
from streams.topics import ensure_topics, read_topic
from tests.support.databases import own_database
from tests.support.quick import QUICK_KAFKA
from tests.support.topics import own_topics

pytestmark = pytest.mark.integration

WATCH_SECONDS = 8  # four times the offline threshold below, after every process is up


@pytest.fixture(scope="module")
async def street_settings(settings, tmp_path_factory):
    """Settings reading every street file from a directory `street init` wrote, on a database of its own
    (the roster and places are per database; the session's other tests keep theirs)."""
    directory = tmp_path_factory.mktemp("street")
    init_street(directory, from_sample=True)
    url = await own_database(settings.database_url, "street")
    await migrate(url)
    paths = {
        field: directory / FILES[env]
        for field, env in [
            ("geometry_path", "REDWALL_GEOMETRY"),
            ("roster_path", "REDWALL_ROSTER"),
            ("escalation_rules_path", "REDWALL_ESCALATION_RULES"),
            ("routing_path", "REDWALL_ROUTING"),
            ("major_events_path", "REDWALL_MAJOR_EVENTS"),
        ]
    }
    return dataclasses.replace(
        settings,
        database_url=url,
        **paths,
        **own_topics(settings, f"street-{uuid.uuid4().hex[:6]}"),
        web_port=free_port(),
        worker_metrics_port=free_port(),
        sink_metrics_port=free_port(),
        deliver_metrics_port=free_port(),
        patrol_offline_seconds=2.0,
        patrol_grace_seconds=1.0,
        patrol_group_seconds=1.0,
        patrol_tick_seconds=0.5,
        roster_refresh_seconds=1.0,
        **QUICK_KAFKA,
    )


async def test_a_fresh_street_directory_pages_nobody(street_settings, tmp_path_factory):
    s = street_settings
    logs = tmp_path_factory.mktemp("street-logs")
    await ensure_topics(s)
    for command, *args in (("migrate",), ("roster", "load")):
        step = RedwallProcess(command, s, logs, *args).start()
        assert step.proc.wait(120) == 0, step.log_tail()
    processes = [RedwallProcess(c, s, logs).start() for c in ("worker", "sink", "deliver")]
    try:
        for process, port in zip(processes, (s.worker_metrics_port, s.sink_metrics_port, s.deliver_metrics_port)):
            process.wait_http(f"http://127.0.0.1:{port}/metrics")
        started = time.monotonic()
        await asyncio.sleep(WATCH_SECONDS)
        print(f"\nstreet directory stack: {time.monotonic() - started:.0f} s watched after start-up")
        assert [p.exited for p in processes] == [None, None, None], [p.log_tail() for p in processes]
        alerts = [json.loads(r.value) async for r in read_topic(s, s.topic_alerts)]
        dead = [r async for r in read_topic(s, s.topic_alerts_deadletter)]
        assert alerts == [] and dead == [], [(a["kind"], a["devices"]) for a in alerts[:5]]
        conn = await asyncpg.connect(s.database_url)
        try:
            assert await conn.fetchval("SELECT count(*) FROM roster_workers") == 0
            assert await conn.fetchval("SELECT count(*) FROM patrol_status") == 0
            assert await conn.fetchval("SELECT count(*) FROM alert_deliveries") == 0
            assert await conn.fetchval("SELECT count(*) FROM grids") == 71
        finally:
            await conn.close()
        assert "no channel in" in processes[2].log_path.read_text()
    finally:
        for process in processes:
            process.stop()
