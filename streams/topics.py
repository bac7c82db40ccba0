"""The Kafka plumbing every process shares: reaching the broker, creating Redwall's topics with the
configured partition count before any worker starts, reading a topic through, producing a few records.

Each takes `kafka`, the client options its process built once at start (`client_options`) and hands down;
without it (a test, a one-off call) they are built from the settings for that one client.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from typing import TypeVar

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaConnectionError, KafkaError, KafkaTimeoutError, TopicAlreadyExistsError

from config.kafka_security import kafka_options
from config.settings import Settings
from sinks.connect import patiently, reason
from streams.produce import BATCHED, Out, producing, send_all

log = logging.getLogger(__name__)
T = TypeVar("T")

# How long read_topic keeps waiting for records its end offsets promise, before it gives up on them.
UNFINISHED_READ_SECONDS = 30.0


def client_options(settings: Settings, kafka: dict | None = None) -> dict:
    """The keyword arguments of every aiokafka client: `kafka` when a process handed them down, else
    built from the settings (config/kafka_security.py; an SSL context and a password file read)."""
    return kafka_options(settings) if kafka is None else kafka


async def wait_for_broker(
    settings: Settings, timeout: float | None = None, *, kafka: dict | None = None
) -> AIOKafkaAdminClient:
    """An admin client connected to the broker, trying again while it starts up: for `timeout` seconds
    (default REDWALL_CONNECT_TIMEOUT_SECONDS), each failure logged, then `sinks.connect.GaveUp`."""
    return await with_admin(settings, _keep, timeout, kafka=kafka, close=False)


async def with_admin(
    settings: Settings,
    work: Callable[[AIOKafkaAdminClient], Awaitable[T]],
    timeout: float | None = None,
    *,
    kafka: dict | None = None,
    close: bool = True,
) -> T:
    """`work(admin)`'s result, on a new admin client for each attempt. The whole exchange is tried again
    while the broker is starting: a broker that accepts connections may still answer "node not ready"
    or "no leader" for a few seconds, and a process starting then must wait, not exit."""
    kafka = client_options(settings, kafka)

    async def attempt() -> T:
        admin = AIOKafkaAdminClient(**kafka, request_timeout_ms=5000)
        try:
            await admin.start()
            result = await work(admin)
        except BaseException:
            await admin.close()
            raise
        if close:
            await admin.close()
        return result

    return await patiently(
        attempt,
        seconds=settings.connect_timeout_seconds if timeout is None else timeout,
        service="Kafka",
        setting="REDWALL_BROKER",
        address=settings.broker,
        retriable=broker_retriable,
        why=kafka_reason,
    )


async def _keep(admin: AIOKafkaAdminClient) -> AIOKafkaAdminClient:
    return admin


def broker_retriable(error: BaseException) -> bool:
    """A failure that time may cure: no connection yet, no answer in time, or an error the broker itself
    marks as passing (a node or a leader not ready yet)."""
    return isinstance(error, (KafkaTimeoutError, OSError)) or (isinstance(error, KafkaError) and error.retriable)


def kafka_reason(error: BaseException) -> str:
    """A failure to reach the broker, in a few words."""
    if isinstance(error, KafkaTimeoutError):
        return "no answer in time"
    if isinstance(error, KafkaConnectionError):
        return "no broker answered"
    return reason(error)


async def ensure_topics(
    settings: Settings,
    topics: tuple[str, ...] | None = None,
    *,
    partitions: int | None = None,
    configs: dict[str, str] | None = None,
    kafka: dict | None = None,
) -> dict[str, int]:
    """Create every topic that is missing (existing ones are left alone), with `partitions` (else the
    settings') and topic `configs`; return partitions per topic."""
    topics = topics or settings.all_topics

    async def ensure(admin: AIOKafkaAdminClient) -> dict[str, int]:
        existing = set(await admin.list_topics())
        missing = [t for t in topics if t not in existing]
        if missing:
            new = [
                NewTopic(
                    t,
                    num_partitions=partitions or settings.partitions,
                    replication_factor=1,
                    topic_configs=configs or {},
                )
                for t in missing
            ]
            with contextlib.suppress(TopicAlreadyExistsError):  # another process created it between list and create
                await admin.create_topics(new)
            log.info("created topics %s", ", ".join(missing))
        described = await admin.describe_topics(list(topics))
        return {t["topic"]: len(t["partitions"]) for t in described}

    return await with_admin(settings, ensure, kafka=kafka)


async def produce_records(
    settings: Settings, topic: str, records: list[tuple[bytes | None, bytes]], *, kafka: dict | None = None
) -> None:
    """Send (key, value) records and return once the broker has every one of them."""
    async with producing(client_options(settings, kafka), **BATCHED) as producer:
        await send_all(producer, [Out(topic, key, value) for key, value in records])


async def read_topic(
    settings: Settings,
    topic: str,
    idle_seconds: float | None = None,
    partitions: Iterable[int] | None = None,
    start: Mapping[int, int] | None = None,
    *,
    kafka: dict | None = None,
) -> AsyncIterator[ConsumerRecord]:
    """Every record of a topic, from the start until the broker has had nothing more for `idle_seconds`
    (REDWALL_KAFKA_IDLE_SECONDS unless given).

    Tansu under-reports end offsets (KAFKA-NOTES.md), so the end is found by reading, not from
    offsets.
    `partitions` limits it to those partitions (a worker rebuilding the state of its assignment);
    `start` begins the partitions it names at those offsets (or at the first record still kept, if
    retention has removed the records before it) instead of at their first record.
    """
    # earliest: a start offset the log no longer holds is read from the oldest record kept, not skipped.
    consumer = AIOKafkaConsumer(
        **client_options(settings, kafka), enable_auto_commit=False, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        await consumer.topics()  # fetches metadata; a new consumer knows no partitions before it
        wanted = consumer.partitions_for_topic(topic) or () if partitions is None else partitions
        partitions = [TopicPartition(topic, p) for p in wanted]
        consumer.assign(partitions)
        start = start or {}
        first = [tp for tp in partitions if tp.partition not in start]
        if first:  # with no argument it would seek every partition
            await consumer.seek_to_beginning(*first)
        for tp in partitions:
            if tp.partition in start:
                consumer.seek(tp, start[tp.partition])
        # Tansu's end offsets are low (the last batch's base offset + 1) but never past the log, so
        # everything before them is there to read: a quiet spell before they are reached is a slow fetch
        # on a loaded machine, not the end (which cost a rebuild the events after the sink's offsets).
        ends = await consumer.end_offsets(partitions) if partitions else {}
        deadline = asyncio.get_running_loop().time() + UNFINISHED_READ_SECONDS
        idle = settings.kafka_idle_seconds if idle_seconds is None else idle_seconds
        while True:
            batch = await consumer.getmany(timeout_ms=int(idle * 1000), max_records=10_000)
            for records in batch.values():
                for record in records:
                    yield record
            if not batch and (await _reached(consumer, ends) or asyncio.get_running_loop().time() > deadline):
                break
    finally:
        await consumer.stop()


async def _reached(consumer: AIOKafkaConsumer, ends: Mapping[TopicPartition, int]) -> bool:
    for tp, end in ends.items():
        if await consumer.position(tp) < end:
            return False
    return True
