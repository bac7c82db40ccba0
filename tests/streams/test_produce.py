"""streams/produce.py against the real broker: a batch is on the broker, where each record was aimed, when
`send_all` returns; a send that fails raises there. (Faust's producer takes the same helper in every agent:
tests/integration/test_pipeline.py, test_escalation.py, test_patrol.py.)"""

from __future__ import annotations

import uuid

import pytest
from aiokafka.errors import MessageSizeTooLargeError

from config.kafka_security import kafka_options
from streams.produce import BATCHED, Out, producing, send_all
from streams.topics import ensure_topics, read_topic

pytestmark = pytest.mark.integration


async def test_every_record_is_on_the_broker_when_send_all_returns(settings):
    topic = f"produce-{uuid.uuid4().hex[:8]}"
    await ensure_topics(settings, (topic,), partitions=3)
    outs = [Out(topic, b"k%d" % n, b"v%d" % n, n % 3) for n in range(30)] + [Out(topic, b"keyed", b"by key")]
    async with producing(kafka_options(settings), **BATCHED) as producer:
        await send_all(producer, outs)
        await send_all(producer, [])  # nothing to send is no error
    records = [r async for r in read_topic(settings, topic, idle_seconds=0.5)]
    assert sorted(r.value for r in records) == sorted(o.value for o in outs)
    placed = {r.value: r.partition for r in records}
    assert all(placed[o.value] == o.partition for o in outs[:30])
    assert {r.key for r in records if r.value == b"by key"} == {b"keyed"}


async def test_a_failed_send_raises(settings):
    topic = f"produce-{uuid.uuid4().hex[:8]}"
    await ensure_topics(settings, (topic,), partitions=1)
    async with producing(kafka_options(settings), max_request_size=1024) as producer:
        with pytest.raises(MessageSizeTooLargeError):
            await send_all(producer, [Out(topic, b"k", b"small"), Out(topic, b"k", b"x" * 4096)])
