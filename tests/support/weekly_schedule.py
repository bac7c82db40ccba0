"""For the weekly report's schedule and delivery tests: a maker that renders nothing (fixed bytes, counted
calls), the alerts a topic holds, and schedulers on the test's own topics with a clock set by hand."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from aiokafka import AIOKafkaConsumer

from consumers.report.deliver import publish
from consumers.report.schedule import WeeklySchedule
from schemas import json
from sinks.postgres import open_pool
from streams.topics import client_options

SUMMARY = "## 每周专报 2026-W49\n- 上报 **500** 件\n- 小事不出社区 **91%**"


@dataclass(frozen=True)
class Made:
    week: str
    html: str
    pdf: bytes
    summary: str
    figures: dict


@dataclass
class FixedMaker:
    """Stands in for the renderer only (PostgreSQL and Kafka stay real): a report of fixed bytes, slow
    enough (`seconds`) that two schedulers looking at once overlap."""

    seconds: float = 0.0
    calls: list[str] = field(default_factory=list)
    streets: list[str] = field(default_factory=list)  # the street of each call

    async def __call__(self, pool, settings, week: str, street: str | None = None) -> Made:
        self.calls.append(week)
        self.streets.append(street)
        await asyncio.sleep(self.seconds)
        return Made(week, f"<html><body><h1>专报 {week}</h1></body></html>", b"%PDF-1.7 " + week.encode(), SUMMARY, {})


async def scheduler(settings, maker, clock, make_district=None) -> WeeklySchedule:
    """A schedule on its own pool, publishing to the settings' alerts topic (the test's own); in a district,
    `maker` makes the district's report too unless `make_district` is given."""
    pool = await open_pool(settings.database_dsn, max_size=2)
    kafka = client_options(settings)
    announce = lambda alert: publish(settings, kafka, alert)  # noqa: E731
    return WeeklySchedule(settings, pool, maker, announce, clock=clock, make_district=make_district or maker)


async def alerts_on(settings, *, wait: float = 3.0) -> list[dict]:
    """Every alert on the settings' alerts topic, read from its start for `wait` seconds."""
    consumer = AIOKafkaConsumer(
        settings.topic_alerts, **client_options(settings), auto_offset_reset="earliest", enable_auto_commit=False
    )
    await consumer.start()
    try:
        found = []
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait
        while loop.time() < deadline:
            batches = await consumer.getmany(timeout_ms=300)
            found += [json.loads(m.value) for messages in batches.values() for m in messages]
        return found
    finally:
        await consumer.stop()
