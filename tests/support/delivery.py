"""Alerts published to the test broker, and the delivery consumers run until a check holds."""

from __future__ import annotations

import asyncio
import time

from prometheus_client import CollectorRegistry

from consumers.deliver import run_delivery
from schemas import json


async def publish(settings, alerts: list[dict], topic: str | None = None) -> None:
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(bootstrap_servers=settings.broker)
    await producer.start()
    try:
        for a in alerts:
            # One key, so one partition: the consumer reads them in one fetch and sends one notification.
            await producer.send_and_wait(topic or settings.topic_alerts, json.dumps(a), key=b"one-partition")
    finally:
        await producer.stop()


async def deliver_until(settings, routing, done, *, group_prefix: str, limit: float = 40.0) -> float:
    """Run the delivery consumers until `done()` holds; returns the seconds it took."""
    stop = asyncio.Event()
    task = asyncio.create_task(run_delivery(settings, routing, CollectorRegistry(), stop, group_prefix=group_prefix))
    started = time.monotonic()
    try:
        while not await done():
            assert not task.done(), task.exception()
            assert time.monotonic() - started < limit, "delivery did not finish in time"
            await asyncio.sleep(0.2)
        return time.monotonic() - started
    finally:
        stop.set()
        await asyncio.wait_for(task, 20)
