"""Consumer lag per group, topic and partition, measured from outside the consumers (as an exporter
would), so a consumer that died or hangs still shows its lag growing.

Lag is the partition's end offset (ListOffsets, "latest") minus the group's committed offset.
On Apache Kafka that is exact: records written but not yet committed by the group. On Tansu, the
embedded broker, the end offset is under-reported as the base offset of the newest record batch
plus one (KAFKA-NOTES.md), so lag is a lower bound, short by up to the records of that newest
producer batch: it can read 0 while one batch is still unconsumed, but it grows with every new
batch while a group stands still, which is what the "lag growing" alert needs. A group committed
past that under-reported end would read negative; it is shown as 0.
"""

from __future__ import annotations

import asyncio
import logging

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError
from prometheus_client import CollectorRegistry, Counter, Gauge

from config.settings import Settings
from streams.clock import stopped_within
from streams.topics import client_options

log = logging.getLogger(__name__)

POLL_SECONDS = 5.0
GROUP_PREFIX = "redwall"  # the Faust worker's group is the app id "redwall"; the sinks' "redwall-sink-*"


class LagMetrics:
    def __init__(self, registry: CollectorRegistry):
        self.lag = Gauge(
            "redwall_consumer_lag_records",
            "End offset minus the group's committed offset (a lower bound on Tansu: see consumers/lag.py)",
            ["group", "topic", "partition"],
            registry=registry,
        )
        self.polls = Counter(
            "redwall_consumer_lag_polls",
            "Lag measurements, by outcome (ok/failed)",
            ["outcome"],
            registry=registry,
        )


def lag_records(end: int, committed: int) -> int:
    """Records behind; never negative, because Tansu's end offset can trail a group's commit."""
    return max(0, end - committed)


class LagMonitor:
    """Every `interval` seconds: list the Redwall consumer groups, fetch their committed offsets on
    Redwall's topics and the topics' end offsets, and set one gauge per (group, topic, partition)."""

    def __init__(
        self,
        settings: Settings,
        registry: CollectorRegistry,
        *,
        interval: float = POLL_SECONDS,
        group_prefix: str = GROUP_PREFIX,
        kafka: dict | None = None,
    ):
        self.settings, self.kafka = settings, client_options(settings, kafka)
        self.metrics = LagMetrics(registry)
        self.interval = interval
        self.group_prefix = group_prefix
        self._shown: set[tuple[str, str, str]] = set()

    async def run(self, stop: asyncio.Event | None = None) -> None:
        stop = stop or asyncio.Event()
        admin = AIOKafkaAdminClient(**self.kafka, request_timeout_ms=5000)
        offsets = AIOKafkaConsumer(**self.kafka, enable_auto_commit=False)
        await admin.start()
        await offsets.start()
        try:
            while not stop.is_set():
                await self.poll(admin, offsets)
                await stopped_within(stop, self.interval)
        finally:
            await offsets.stop()
            await admin.close()

    async def poll(self, admin: AIOKafkaAdminClient, offsets: AIOKafkaConsumer) -> dict[tuple[str, str, str], int]:
        """One measurement; a broker error is counted and logged, and the last values stay shown."""
        try:
            lags = await self.measure(admin, offsets)
        except (KafkaError, OSError) as exc:
            self.metrics.polls.labels("failed").inc()
            log.warning("consumer lag: measurement failed, keeping the last values: %s", exc)
            return {}
        self._show(lags)
        self.metrics.polls.labels("ok").inc()
        return lags

    async def measure(self, admin: AIOKafkaAdminClient, offsets: AIOKafkaConsumer) -> dict[tuple[str, str, str], int]:
        partitions = await self._partitions(offsets)
        ends = await offsets.end_offsets(partitions) if partitions else {}
        groups = [g for g, _ in await admin.list_consumer_groups() if g.startswith(self.group_prefix)]
        lags = {}
        for group in groups:
            # Explicit partitions: Tansu cannot answer the "all topics" form of OffsetFetch.
            committed = await admin.list_consumer_group_offsets(group, partitions=partitions)
            for tp, meta in committed.items():
                if meta.offset >= 0 and tp in ends:  # -1: the group never committed on this partition
                    lags[(group, tp.topic, str(tp.partition))] = lag_records(ends[tp], meta.offset)
        return lags

    async def _partitions(self, offsets: AIOKafkaConsumer) -> list[TopicPartition]:
        await offsets.topics()  # refreshes metadata, so partitions added since the last poll are seen
        return [
            TopicPartition(topic, p)
            for topic in self.settings.all_topics
            for p in sorted(offsets.partitions_for_topic(topic) or ())
        ]

    def _show(self, lags: dict[tuple[str, str, str], int]) -> None:
        for labels in self._shown - lags.keys():
            self.metrics.lag.remove(*labels)  # the group is gone or no longer reads that partition
        for labels, value in lags.items():
            self.metrics.lag.labels(*labels).set(value)
        self._shown = set(lags)
