"""A batch consumer: drains one topic into one sink write per batch and commits exactly that batch's
offsets after the write returned; while the sink is unavailable it retries the same batch. A sink may
also record, with its rows, how far into the topic each batch goes (`BatchSink.progress`)."""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.errors import KafkaError
from prometheus_client import CollectorRegistry, Counter, Histogram

from config.settings import Settings
from schemas.fields import FieldError
from schemas.records import Record
from sinks.incident_history import Progress
from sinks.postgres import SinkUnavailable
from streams.broker_epoch import broker_epoch
from streams.clock import stopped_within
from streams.topics import client_options

log = logging.getLogger(__name__)

FETCH_BYTES = 16 * 1024 * 1024  # records carry many pings; aiokafka's 1 MB default starves prefetch
MAX_BACKOFF_SECONDS = 5.0


@dataclass(frozen=True)
class BatchSink:
    """What one batch consumer drains, and where to."""

    name: str  # metric label and log name, e.g. "positions"
    topic: str
    group_id: str
    record: Record  # decodes and validates one Kafka value; a decoder may return None for one it does not keep
    write: Callable[..., Awaitable[Mapping[str, int]]]  # (records[, progress]) -> rows written per table
    event_time: Callable[[dict], str]  # the newest event time a record carries, RFC 3339
    # The write also takes a Progress (how far into each partition the batch goes, in this broker's
    # epoch) to record with its rows, and is called for every batch, even one with nothing to keep.
    progress: bool = False


class SinkMetrics:
    """The sink process's metrics, registered once per registry and shared by its consumers."""

    def __init__(self, registry: CollectorRegistry):
        self.batch_records = Histogram(
            "redwall_sink_batch_records",
            "Kafka records per sink write",
            ["sink"],
            registry=registry,
            buckets=(1, 10, 50, 100, 250, 500, 1000, 2500, 5000, 10000),
        )
        self.write_seconds = Histogram(
            "redwall_sink_write_seconds",
            "duration of one successful sink write",
            ["sink"],
            registry=registry,
        )
        self.records = Counter("redwall_sink_records", "rows newly written", ["table"], registry=registry)
        self.failures = Counter(
            "redwall_sink_failures",
            "failed writes (unavailable) and skipped records (undecodable)",
            ["table", "reason"],
            registry=registry,
        )
        self.event_to_sink = Histogram(
            "redwall_event_to_sink_seconds",
            "now minus the event time of the newest record in a written batch",
            ["stage"],
            registry=registry,
            buckets=(0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600),
        )


class BatchConsumer:
    def __init__(self, settings: Settings, sink: BatchSink, metrics: SinkMetrics, *, kafka: dict | None = None):
        self.settings, self.kafka = settings, client_options(settings, kafka)
        self.sink = sink
        self.metrics = metrics
        for reason in ("unavailable", "undecodable"):
            # Shown as 0 from the start, so failure rates and their alert have a series to read.
            metrics.failures.labels(sink.name, reason)

    def _consumer(self) -> AIOKafkaConsumer:
        return AIOKafkaConsumer(
            self.sink.topic,
            **self.kafka,
            group_id=self.sink.group_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_partition_fetch_bytes=FETCH_BYTES,
            fetch_max_bytes=FETCH_BYTES,
            # Tansu holds a group join for about half the session timeout; REDWALL_KAFKA_SESSION_SECONDS (6)
            # keeps start-up quick.
            session_timeout_ms=int(self.settings.kafka_session_seconds * 1000),
            heartbeat_interval_ms=int(self.settings.kafka_heartbeat_seconds * 1000),
        )

    async def run(self, stop: asyncio.Event | None = None) -> None:
        """Consume until `stop` is set (the batch in hand is finished first) or the task is cancelled."""
        stop = stop or asyncio.Event()
        epoch = await broker_epoch(self.settings, kafka=self.kafka) if self.sink.progress else None
        consumer = self._consumer()
        await consumer.start()
        try:
            timeout_ms = int(self.settings.sink_batch_seconds * 1000)
            while not stop.is_set():
                fetched = await consumer.getmany(timeout_ms=timeout_ms, max_records=self.settings.sink_batch_size)
                # The offsets of the records themselves: Tansu's end offsets are under-reported.
                progress = (
                    Progress(
                        self.sink.topic,
                        epoch,
                        {tp.partition: messages[-1].offset + 1 for tp, messages in fetched.items()},
                    )
                    if epoch
                    else None
                )
                if fetched and await self._write(self._decode(fetched), stop, progress):
                    await self._commit(consumer, fetched)
        finally:
            await consumer.stop()  # auto-commit is off, so stopping never commits anything

    def _decode(self, fetched: dict[TopicPartition, list[ConsumerRecord]]) -> list[dict]:
        records, decode = [], self.sink.record.decode
        for messages in fetched.values():
            for msg in messages:
                try:
                    record = decode(msg.value)
                except FieldError as exc:
                    # The producers validate; this is defence, so the record is logged and left out.
                    log.error(
                        "%s: skipping undecodable record %s[%d]@%d: %s",
                        self.sink.name,
                        msg.topic,
                        msg.partition,
                        msg.offset,
                        exc,
                    )
                    self.metrics.failures.labels(self.sink.name, "undecodable").inc()
                    continue
                if record is not None:
                    records.append(record)
        return records

    async def _write(self, records: list[dict], stop: asyncio.Event, progress: Progress | None) -> bool:
        """Write the batch, retrying while the sink is unavailable; False if stopped before it was written."""
        if not records and not progress:
            return True
        attempt = 0
        while True:
            started = time.perf_counter()
            try:
                written = await (self.sink.write(records, progress) if progress else self.sink.write(records))
            except SinkUnavailable as exc:
                attempt += 1
                self.metrics.failures.labels(self.sink.name, "unavailable").inc()
                delay = backoff(attempt)
                log.warning(
                    "%s: sink unavailable (attempt %d), retrying %d records in %.2f s: %s",
                    self.sink.name,
                    attempt,
                    len(records),
                    delay,
                    exc,
                )
                if await stopped_within(stop, delay):
                    return False
                continue
            self._observe(records, written, time.perf_counter() - started)
            return True

    async def _commit(self, consumer: AIOKafkaConsumer, fetched: dict[TopicPartition, list[ConsumerRecord]]) -> None:
        assigned = consumer.assignment()
        offsets = {tp: messages[-1].offset + 1 for tp, messages in fetched.items() if tp in assigned}
        if not offsets:
            return  # every partition moved away during the write; its new owner re-reads the records
        try:
            await consumer.commit(offsets)
        except KafkaError as exc:
            # Usually a rebalance during the write: the next owner re-reads these records, and the
            # sink's writes are idempotent, so not committing costs a replay, never a loss.
            log.warning("%s: commit of %s failed, the records will be replayed: %s", self.sink.name, offsets, exc)

    def _observe(self, records: list[dict], written: Mapping[str, int], seconds: float) -> None:
        m, name = self.metrics, self.sink.name
        m.batch_records.labels(name).observe(len(records))
        m.write_seconds.labels(name).observe(seconds)
        for table, rows in written.items():
            m.records.labels(table).inc(rows)
        if not records:
            return  # a batch with nothing this sink keeps: only its progress was recorded
        newest = max(datetime.fromisoformat(self.sink.event_time(r)) for r in records)
        m.event_to_sink.labels(name).observe((datetime.now(UTC) - newest).total_seconds())


def backoff(attempt: int, cap: float = MAX_BACKOFF_SECONDS) -> float:
    """Exponential from 0.1 s with full jitter, so restarted sinks do not hit Postgres in step."""
    return random.uniform(0, min(cap, 0.1 * 2**attempt))
