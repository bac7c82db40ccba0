"""Consumer lag measured from outside, against the real broker."""

from __future__ import annotations

import dataclasses
import uuid

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from prometheus_client import CollectorRegistry

from consumers.lag import LagMonitor, lag_records
from streams.topics import ensure_topics


def test_lag_is_never_negative_because_tansu_end_offsets_trail():
    assert lag_records(end=10, committed=4) == 6
    assert lag_records(end=1, committed=30) == 0


@pytest.mark.integration
async def test_lag_per_group_topic_and_partition(settings):
    run = uuid.uuid4().hex[:8]
    settings = dataclasses.replace(settings, topic_alerts=f"lag-test-{run}", partitions=2)
    await ensure_topics(settings, (settings.topic_alerts,))
    producer = AIOKafkaProducer(bootstrap_servers=settings.broker)
    await producer.start()
    try:
        for _i in range(10):  # one batch each, so Tansu's end offset is exact here
            await producer.send_and_wait(settings.topic_alerts, b"x", partition=0)
    finally:
        await producer.stop()
    group = f"redwall-lag-{run}"
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.broker, group_id=group, enable_auto_commit=False)
    await consumer.start()
    try:
        tp = TopicPartition(settings.topic_alerts, 0)
        consumer.assign([tp])
        await consumer.commit({tp: 4})
    finally:
        await consumer.stop()

    registry = CollectorRegistry()
    monitor = LagMonitor(settings, registry, group_prefix=group)
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.broker)
    offsets = AIOKafkaConsumer(bootstrap_servers=settings.broker, enable_auto_commit=False)
    await admin.start()
    await offsets.start()
    try:
        lags = await monitor.poll(admin, offsets)
    finally:
        await offsets.stop()
        await admin.close()

    # Partition 1 was never committed by the group, so it is not shown at all.
    assert lags == {(group, settings.topic_alerts, "0"): 6}
    labels = {"group": group, "topic": settings.topic_alerts, "partition": "0"}
    assert registry.get_sample_value("redwall_consumer_lag_records", labels) == 6
    assert registry.get_sample_value("redwall_consumer_lag_polls_total", {"outcome": "ok"}) == 1
