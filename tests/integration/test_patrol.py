"""Patrol monitoring through the real broker, worker, sink and Postgres: 80 workers over a simulated
morning with scripted misbehaviour, time-travelled with the event clock, and a worker crash mid-way.

Script (Beijing time, 2026-11-20; a major event from 09:00 to 11:00 needs 1 worker on post per grid):
- dev-0001..0003 wander out of their grids 08:30-09:30 (their pair partners keep the grids covered);
- dev-0004, dev-0005 go silent 08:40-09:20;
- dev-0040 is moved to the late shift (10:00) by a roster change while the worker runs, so its
  grid, which has no one else, is empty from 09:00 until it arrives.
"""

from __future__ import annotations

import asyncio
import dataclasses
import random
import re
import time
import urllib.request
from datetime import datetime, timedelta, timezone
from functools import lru_cache

import pytest
from aiokafka import AIOKafkaProducer
from shapely.geometry import Point, shape

from config.settings import SAMPLE_GEOMETRY
from schemas import json
from sinks.patrol import latest_positions
from streams.demo.embedded import free_port
from streams.demo.processes import RedwallProcess
from streams.topics import ensure_topics, read_topic
from tests.support.quick import QUICK_KAFKA
from tests.support.topics import own_topics

pytestmark = pytest.mark.integration

BEIJING = timezone(timedelta(hours=8))
START = datetime(2026, 11, 20, 8, 0, tzinfo=BEIJING)
MAJOR_EVENT = """[[period]]
id = "drill"
name = "安保演练 / drill"
start = "2026-11-20T09:00:00+08:00"
end = "2026-11-20T11:00:00+08:00"
min_on_post = 1
"""
WANDERERS, SILENT, LATE = ("dev-0001", "dev-0002", "dev-0003"), ("dev-0004", "dev-0005"), "dev-0040"
MINUTES = 150  # 08:00 .. 10:30
CRASH_AT = 70  # 09:10
# Minutes produced between two waits for the worker. The partitions may drift apart by this much on
# the event clock, so the offline threshold (10 min here) must be longer.
STEP = 5


@lru_cache(maxsize=1)
def polygons() -> dict:
    features = json.loads(SAMPLE_GEOMETRY.read_bytes())["features"]
    return {f["properties"]["id"]: shape(f["geometry"]) for f in features if f["properties"]["kind"] == "grid"}


def home(grid: str) -> tuple[float, float]:
    p = polygons()[grid].representative_point()
    return p.y, p.x


def away(grid: str) -> tuple[float, float]:
    """Inside a nearby grid, well beyond the fix's accuracy plus the buffer from the home grid."""
    here = Point(home(grid)[1], home(grid)[0])
    spots = sorted((polygons()[g].representative_point() for g in polygons() if g != grid), key=here.distance)
    spot = next(s for s in spots if polygons()[grid].exterior.distance(s) * 111_320 > 60)
    return spot.y, spot.x


def where(device: str, grid: str, minute: int) -> tuple[float, float] | None:
    if device in SILENT and 40 <= minute < 80:
        return None
    if device == LATE and minute < 120:
        return None
    if device in WANDERERS and 30 <= minute < 90:
        return away(grid)
    return home(grid)


def batch(device: str, grid: str, minute: int, rng: random.Random) -> dict | None:
    spot = where(device, grid, minute)
    if spot is None:
        return None
    pings = []
    for second in (0, 30):
        t = START + timedelta(minutes=minute, seconds=second)
        jitter = [rng.gauss(0, 1.5) / 111_320 for _ in range(2)]
        pings.append({"lat": spot[0] + jitter[0], "lng": spot[1] + jitter[1], "accuracy": 5.0, "time": t.isoformat()})
    return {"device": device, "pings": pings}


def metric(url: str, name: str, label: str = "") -> float:
    text = urllib.request.urlopen(url, timeout=5).read().decode()
    pattern = re.compile(rf"^{name}(\{{[^}}]*{label}[^}}]*\}})? ([0-9.e+]+)$", re.M)
    return sum(float(m.group(2)) for m in pattern.finditer(text))


async def until(check, timeout: float = 60.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        await asyncio.sleep(0.1)


@pytest.fixture(scope="module")
def patrol_settings(settings, tmp_path_factory):
    major = tmp_path_factory.mktemp("patrol") / "major_events.toml"
    major.write_text(MAJOR_EVENT, encoding="utf-8")
    topics = own_topics(settings, "t4")
    return dataclasses.replace(
        settings,
        clock="event",
        clock_event_ack=True,
        major_events_path=major,
        web_port=free_port(),
        worker_metrics_port=free_port(),
        sink_metrics_port=free_port(),
        patrol_tick_seconds=0.2,
        roster_refresh_seconds=0.5,
        patrol_offline_seconds=600.0,
        **topics,
        **QUICK_KAFKA,
    )


async def test_a_shift_with_wanderers_silence_and_an_empty_grid_raises_exactly_those_alerts(
    patrol_settings, pg, tmp_path_factory
):
    s = patrol_settings
    log_dir = tmp_path_factory.mktemp("patrol-logs")
    await ensure_topics(s)
    loader = RedwallProcess("roster", s, log_dir, "load").start()
    assert loader.proc.wait(60) == 0, loader.log_tail()
    roster = {r["device_id"]: r["grid_id"] for r in await pg.fetch("SELECT device_id, grid_id FROM roster_workers")}
    assert len(roster) == 80
    worker, sink = RedwallProcess("worker", s, log_dir).start(), RedwallProcess("sink", s, log_dir).start()
    url = f"http://127.0.0.1:{s.worker_metrics_port}/metrics"
    producer = AIOKafkaProducer(bootstrap_servers=s.broker, linger_ms=5)
    await producer.start()
    rng = random.Random(4)
    sent = 0

    async def minutes(first: int, last: int) -> None:
        nonlocal sent
        batches = [
            b for m in range(first, last) for d, g in sorted(roster.items()) if (b := batch(d, g, m, rng)) is not None
        ]
        futures = [await producer.send(s.topic_pings, json.dumps(b), key=b["device"].encode()) for b in batches]
        await asyncio.gather(*futures)
        sent += sum(len(b["pings"]) for b in batches)
        # A barrier every few simulated minutes keeps the partitions within that of each other, as
        # real time would; without it one partition could run hours ahead on the event clock.
        try:
            await until(lambda: metric(url, "redwall_patrol_pings_total") >= sent, what=f"minutes to {last} processed")
        except TimeoutError:
            text = urllib.request.urlopen(url, timeout=5).read().decode()
            print(
                "\n".join(line for line in text.splitlines() if line.startswith(("redwall_patrol", "redwall_events"))),
                sent,
            )
            raise

    try:
        worker.wait_http(url)
        sink.wait_http(f"http://127.0.0.1:{s.sink_metrics_port}/metrics")
        await minutes(0, 1)
        # A roster change while the worker runs: dev-0040 moves to the late shift and goes off duty.
        await pg.execute("UPDATE roster_workers SET shifts = '{late}' WHERE device_id = $1", LATE)
        await until(
            lambda: metric(url, "redwall_patrol_status_changes_total", 'status="off_duty"') >= 1,
            what="the roster change picked up",
        )
        for m in range(1, CRASH_AT, STEP):
            await minutes(m, min(m + STEP, CRASH_AT))
        # Crash the worker once everything it decided is durable; the new one rebuilds from Postgres.
        await until(
            lambda: pg.fetchval(
                "SELECT count(*) FROM patrol_status WHERE status IN ('off_post', 'offline') AND device_id = ANY($1)",
                list(WANDERERS + SILENT),
            ),
            what="statuses stored",
        )
        await asyncio.sleep(1.5)
        worker.kill()
        worker.start()
        worker.wait_http(url)
        await until(lambda: worker.log_path.read_text().count("patrol: owning") >= 2, what="the new worker assigned")
        sent = 0
        for m in range(CRASH_AT, MINUTES, STEP):
            await minutes(m, min(m + STEP, MINUTES))
        await asyncio.sleep(2)
        await check_alerts(s, roster)
        await check_postgres(pg, roster)
    finally:
        await producer.stop()
        worker.stop()
        sink.stop()


async def check_alerts(s, roster: dict[str, str]) -> None:

    alerts = {}
    async for record in read_topic(s, s.topic_alerts):
        alert = json.loads(record.value)
        alerts[alert["id"]] = alert
    got = sorted(
        (a["kind"], a["status"], a["grid"], tuple(a["devices"]), a["event_time"][11:19])
        for a in alerts.values()
        if a["kind"] != "coverage_gap"
    )
    expected = []
    for device in WANDERERS:
        expected += [
            ("off_post", "firing", roster[device], (device,), "08:32:00"),
            ("off_post", "resolved", roster[device], (device,), "09:31:00"),
        ]
    for device in SILENT:
        expected += [
            ("offline", "firing", roster[device], (device,), "08:49:30"),
            ("offline", "resolved", roster[device], (device,), "09:20:00"),
        ]
    assert got == sorted(expected)
    gaps = sorted(
        (a["status"], a["grid"], a["level"], a["owner"]) for a in alerts.values() if a["kind"] == "coverage_gap"
    )
    assert gaps == [
        ("firing", roster[LATE], "street", "xichangan"),
        ("resolved", roster[LATE], "street", "xichangan"),
    ], sorted((a["id"], a["devices"], a["body"]["en"]) for a in alerts.values() if a["kind"] == "coverage_gap")


async def check_postgres(pg, roster: dict[str, str]) -> None:
    """The audit trail and the live map."""

    async def all_on_post():
        return (
            await pg.fetchval(
                "SELECT count(*) FROM patrol_status WHERE status = 'on_post' AND device_id = ANY($1)", list(roster)
            )
            == 80
        )

    await until(all_on_post, what="every worker on post in patrol_status")
    live = await latest_positions(pg)
    mine = [row for row in live if row["device"] in roster]
    assert len(mine) == 80 and all(row["lat"] and row["status"] == "on_post" for row in mine)
    trail = await pg.fetch("SELECT status, reason FROM patrol_events WHERE device_id = 'dev-0001' ORDER BY event_time")
    assert [r["status"] for r in trail][-2:] == ["off_post", "on_post"]
