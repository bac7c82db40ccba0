"""The patrol table's changelog is named by the topic settings (REDWALL_TOPIC_PATROL_CHANGELOG): two workers on
one broker with topics of their own write, and recover from, changelogs of their own, so neither is handed the
other's device states. Named by the app id, as Faust does by default, both wrote one topic."""

from __future__ import annotations

import asyncio
import dataclasses
import random
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer

from config.geometry import load_geometry
from schemas import json
from sinks.migrate import migrate
from sinks.patrol import read_roster
from sinks.postgres import seed_places
from streams.app import APP_ID
from streams.demo.embedded import free_port
from streams.demo.processes import RedwallProcess
from streams.patrol.detector import ON_POST
from streams.patrol.table import NAME, decode
from streams.topics import ensure_topics, read_topic
from tests.support.databases import own_database
from tests.support.quick import QUICK_KAFKA
from tests.support.topics import own_topics
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration


async def changelog_statuses(s, topic: str) -> dict[str, str]:
    """Each device's newest status in a changelog topic, as a recovery would read it."""
    return {json.loads(r.key): decode(json.loads(r.key), r.value).status async for r in read_topic(s, topic)}


async def on_duty_pings(s, device: str, grid_centre: tuple[float, float], now: datetime) -> None:
    lng, lat = grid_centre
    pings = [
        {"time": (now + timedelta(seconds=k)).isoformat(), "lat": lat, "lng": lng, "accuracy": 5.0}
        for k in range(0, 61, 5)
    ]
    producer = AIOKafkaProducer(bootstrap_servers=s.broker)
    await producer.start()
    try:
        await producer.send_and_wait(s.topic_pings, json.dumps({"device": device, "pings": pings}), key=device.encode())
    finally:
        await producer.stop()


async def test_two_workers_on_one_broker_keep_their_device_states_apart(settings, tmp_path):
    """Each worker's device goes on post on its worker only; each changelog holds what its own worker saw."""
    url = await own_database(settings.database_url, "changelog")
    await migrate(url)
    await seed_places(url, load_geometry(settings.geometry_path))
    base = dataclasses.replace(settings, database_url=url, clock="event", clock_event_ack=True, **QUICK_KAFKA)
    loader = RedwallProcess("roster", base, tmp_path, "load").start()
    assert loader.proc.wait(60) == 0, loader.log_tail()
    conn = await asyncpg.connect(url)
    try:
        roster, _ = await read_roster(conn)
    finally:
        await conn.close()
    now = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)  # 10:00 in Beijing, a Wednesday: the day shift
    devices = sorted(
        d for d in roster.workers if roster.on_duty(d, now) and roster.on_duty(d, now + timedelta(minutes=2))
    )
    pair = devices[:2]
    run = random.randrange(10**6)
    stacks, workers = [], []
    for side in ("a", "b"):
        s = dataclasses.replace(
            base, web_port=free_port(), worker_metrics_port=free_port(), **own_topics(base, f"cl{side}{run}")
        )
        await ensure_topics(s)
        (tmp_path / side).mkdir()
        stacks.append(s)
        workers.append(RedwallProcess("worker", s, tmp_path / side).start())
    try:
        for s, w in zip(stacks, workers):
            await asyncio.to_thread(w.wait_http, f"http://127.0.0.1:{s.worker_metrics_port}/metrics")
        grids = load_geometry(base.geometry_path).grids
        for s, device in zip(stacks, pair):
            await on_duty_pings(s, device, grids[roster.workers[device].grid].centre, now)
        for s, device in zip(stacks, pair):
            assert await eventually(lambda s=s, d=device: _holds(s, d), 60), f"{device} never reached its changelog"
        seen = [await changelog_statuses(s, s.topic_patrol_changelog) for s in stacks]
    finally:
        for w in workers:
            w.stop()
    # Each worker holds the whole roster (the others silent, so offline on its clock); only its own device
    # is on post in its changelog, and neither wrote to the topic Faust would have named by the app.
    assert [sorted(d for d, status in held.items() if status == ON_POST) for held in seen] == [[pair[0]], [pair[1]]]
    assert not set(pair) & set(await changelog_statuses(base, f"{APP_ID}-{NAME}-changelog"))


async def _holds(s, device: str) -> bool:
    return (await changelog_statuses(s, s.topic_patrol_changelog)).get(device) == ON_POST
