"""Patrol advisories (前响应) through real workers: the worker that advised is killed, and it and a second
worker (a rebalance) take over; the hot spot is not advised again within the repeat interval."""

from __future__ import annotations

import asyncio
import dataclasses
import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from schemas import json
from streams.demo.embedded import free_port
from streams.demo.processes import RedwallProcess
from streams.topics import ensure_topics, read_topic
from tests.support.quick import QUICK_KAFKA
from tests.support.topics import own_topics

pytestmark = pytest.mark.integration


async def hot_cell(pg, grid: str, when: datetime) -> str:
    """Three reports in one H3 cell of `grid`, as the sink stores them: a hot spot."""
    cell = f"8c{uuid.uuid4().hex[:12]}"
    for n in range(3):
        await pg.execute(
            "INSERT INTO reports (id, device_id, category, severity, text, lat, lng, event_time, "
            "street_id, community_id, grid_id, cell) VALUES ($1, 'dev-1', 'sanitation', 'low', '', "
            "39.9, 116.38, $2, 'xichangan', $3, $4, $5)",
            f"{cell}-{n}",
            when,
            grid[:3],
            grid,
            cell,
        )
    return cell


async def advisories(settings, cell: str) -> list[str]:
    alerts = [json.loads(r.value) async for r in read_topic(settings, settings.topic_alerts, 1.0)]
    return [a["id"] for a in alerts if a["kind"] == "patrol_advisory" and f":{cell}:" in a["id"]]


async def until(check, limit: float, what: str):
    deadline = time.monotonic() + limit
    while not (found := await check()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.5)
    return found


async def test_a_hot_spot_is_advised_once_per_interval_across_a_kill_and_a_rebalance(settings, pg, tmp_path):
    run = f"adv{uuid.uuid4().hex[:6]}"
    s = dataclasses.replace(
        settings,
        advisory_every_seconds=0.5,
        advisory_repeat_seconds=1800.0,
        web_port=free_port(),
        sink_metrics_port=free_port(),
        **own_topics(settings, run),
        **QUICK_KAFKA,
    )
    other = dataclasses.replace(s, web_port=free_port())
    await ensure_topics(s)
    now = datetime.now(UTC)
    first = await hot_cell(pg, "c04-g02", now - timedelta(minutes=5))
    (tmp_path / "a").mkdir(), (tmp_path / "b").mkdir()
    a, b = RedwallProcess("worker", s, tmp_path / "a"), RedwallProcess("worker", other, tmp_path / "b")
    try:
        a.start()
        advised = await until(lambda: advisories(s, first), 90, "the first advisory")
        a.kill()  # between two advisories: the next one is due in 30 minutes, not now
        restarted = time.monotonic()
        a.start()
        b.start()  # two workers: partition 0 of the patrol topic moves while they join
        # The advisories go on after the restart (a new hot spot is advised), and the first is not repeated.
        second = await hot_cell(pg, "c05-g01", datetime.now(UTC) - timedelta(minutes=1))
        await until(lambda: advisories(s, second), 90, "an advisory after the restart")
        back = time.monotonic() - restarted
        await asyncio.sleep(2.5)  # several more looks (five) by whoever owns partition 0 now
        assert await advisories(s, first) == advised and len(advised) == 1
        assert len(await advisories(s, second)) == 1
    finally:
        a.stop()
        b.stop()
    print(
        f"\nadvised {advised[0]} once across a kill and a rebalance; a new hot spot advised {back:.1f} s "
        "after the restart"
    )
