"""Producing and awaiting the broker, one way for every process: send a batch of records, then return only
once the broker holds every one of them. A failed send raises here, so an agent acknowledges its input
batch, an HTTP answer says 202, or a consumer commits its offset only after what it produced is written."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterable
from typing import NamedTuple

from aiokafka import AIOKafkaProducer

# For records that carry many pings (KAFKA-NOTES.md): aiokafka's defaults send one request per message
# and block on a record larger than 16 KB.
BATCHED = {"linger_ms": 5, "max_batch_size": 1_048_576, "max_request_size": 16_777_216}


class Out(NamedTuple):
    """One record to produce: where, under which key, what bytes."""

    topic: str
    key: bytes | None
    value: bytes
    partition: int | None = None  # None: the producer's partitioner picks it from the key


async def send_all(producer, records: Iterable[Out]) -> None:
    """Send every record, then wait until the broker has acknowledged them all; the first failed send
    raises. `producer` is Faust's (`app.producer`) or a started AIOKafkaProducer."""
    send = producer.send
    # Sending them all before awaiting any lets the producer batch them into few requests.
    if isinstance(producer, AIOKafkaProducer):
        futures = [await send(r.topic, r.value, r.key, r.partition) for r in records]
    else:  # Faust's producer takes (topic, key, value, partition, timestamp, headers)
        futures = [await send(r.topic, r.key, r.value, r.partition, None, None) for r in records]
    if futures:
        await asyncio.gather(*futures)


@contextlib.asynccontextmanager
async def producing(kafka: dict, **tuning) -> AsyncIterator[AIOKafkaProducer]:
    """A started aiokafka producer on the client options `kafka` (config/kafka_security.kafka_options),
    stopped on leaving the block; `tuning` adds producer settings (BATCHED for large records)."""
    producer = AIOKafkaProducer(**kafka, **tuning)
    await producer.start()
    try:
        yield producer
    finally:
        await producer.stop()
