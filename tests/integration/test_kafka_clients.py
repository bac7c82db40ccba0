"""Device makers are not tied to aiokafka: reports and ping batches published to the embedded broker with
confluent-kafka (librdkafka) reach PostgreSQL, and a librdkafka consumer in a group reads the located
reports back (with a short session timeout: Tansu makes a group join wait about half of it)."""

from __future__ import annotations

import asyncio
import random
import time
import uuid

import confluent_kafka
import pytest

from schemas import json
from tests.support import factories
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration


def produce(settings, topic: str, records: list[tuple[str, dict]]) -> None:
    producer = confluent_kafka.Producer({"bootstrap.servers": settings.broker, "linger.ms": 5})
    failed = []
    for key, value in records:
        producer.produce(topic, json.dumps(value), key.encode(), on_delivery=lambda e, _: e and failed.append(e))
    assert producer.flush(30) == 0 and not failed, failed


def consume_until(settings, topic: str, wanted: set[str], limit: float = 60.0) -> set[str]:
    """Ids of `wanted` read back by a group member, timing its join and reads."""
    consumer = confluent_kafka.Consumer(
        {
            "bootstrap.servers": settings.broker,
            "group.id": f"librdkafka-{uuid.uuid4().hex[:8]}",
            "auto.offset.reset": "earliest",
            "session.timeout.ms": 6000,
            "heartbeat.interval.ms": 1000,
        }
    )
    consumer.subscribe([topic])
    seen, started = set(), time.monotonic()
    try:
        while not wanted <= seen and time.monotonic() - started < limit:
            message = consumer.poll(1.0)
            if message is not None and message.error() is None:
                seen.add(json.loads(message.value()).get("id"))
    finally:
        consumer.close()
    print(
        f"\nlibrdkafka {confluent_kafka.libversion()[0]} consumer read {len(wanted & seen)} located reports "
        f"in {time.monotonic() - started:.1f} s (group join included)"
    )
    return wanted & seen


async def test_librdkafka_publishes_reports_and_pings_that_reach_postgres(settings, pipeline, pg):
    rng = random.Random(1717)
    run = f"rdk{rng.randrange(10**6)}"
    reports = [factories.report(rng, f"{run}-dev-{i}") for i in range(5)]
    batches = [factories.ping_batch(rng, f"{run}-dev-{i}", 10) for i in range(5)]
    await asyncio.to_thread(produce, settings, settings.topic_reports, [(r["device"], r) for r in reports])
    await asyncio.to_thread(produce, settings, settings.topic_pings, [(b["device"], b) for b in batches])

    ids = {r["id"] for r in reports}
    stored = await eventually(
        lambda: pg.fetchval("SELECT count(*) FROM reports WHERE id = ANY($1) HAVING count(*) = 5", list(ids)), 90
    )
    fixes = await eventually(
        lambda: pg.fetchval("SELECT count(*) FROM positions WHERE device_id LIKE $1 HAVING count(*) = 50", f"{run}-%"),
        90,
    )
    assert (stored, fixes) == (5, 50)
    assert await asyncio.to_thread(consume_until, settings, settings.topic_located_reports, ids) == ids
