"""Rebuilding the escalation engines of newly assigned partitions, for history of any age: from
PostgreSQL as far as the sink has written it, then from the topics from there on.

Why this way: the engine holds incidents for `[retention] closed` (30 days: those can be reopened)
and deadlines of any length, but Kafka keeps a topic only for its retention (7 days in
docker-compose) and the embedded Tansu only while it runs. The topic alone loses the old events;
PostgreSQL alone lags the topic (the sink may be behind, or down). Compacted topics keyed by
incident would keep each newest state but not the seen ids, the unlocated queue's reports or the
periods, and Tansu's memory storage would lose them all the same. So the sink records, in the
transaction that writes the rows, the offset after the last record it wrote in each partition
(`sink_offsets`, with the broker's epoch), and a rebuild reads, in one snapshot, those offsets and
the state as of them, then each topic from those offsets on. `IncidentEngine.restore` keeps the
newest seq, so an overlap costs nothing.

- Incidents: the newest state event of each incident of the partition's streets (a street's partition is
  Kafka's default partitioner's over the key of streams/escalation/keys.py, as reports and actions are
  keyed), when it is open or was closed within `[retention] closed`; deadlines and clusters follow from
  the state.
- Seen report and action ids: those of the incidents loaded. No other can come again and matter: the
  input topics redeliver only what is younger than their retention, and the ingest API refuses a
  report older than REDWALL_INGEST_MAX_AGE_DAYS (keep it no longer than `[retention] closed`). An
  action refused for an incident nobody knows is not remembered: redelivered, it is refused again
  under the same event id, which PostgreSQL stores once.
- The unlocated queue's reports: from `reports`; only one the report sink has not written yet is
  looked for on the located reports topic, in the partition of the queue's key.
- Run-time major-event periods: stored by the sink from the actions topic with offsets of their own,
  then that topic from there.
- Offsets of another broker epoch (Tansu restarted empty and numbers from 0 again) say nothing about
  this log: the topic is then read from its start, over what PostgreSQL kept. Offsets come from the
  records the sink wrote, never from end offsets (Tansu under-reports those); the end of a topic is
  found by reading until it stays idle.
- Lost all the same: events the broker dropped before the sink wrote them (a Tansu restart, or a sink
  down for longer than the topic's retention).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import asyncpg

from config.major_events import Period
from schemas import json
from schemas.records import UNLOCATED
from sinks.incident_history import incident_snapshot, reports_of
from sinks.major_events import runtime_periods
from sinks.postgres import until_rebuilt
from streams.broker_epoch import broker_epoch
from streams.escalation.control import MajorEventRecords, period_of
from streams.escalation.engine import OPEN, IncidentEngine, incident_id
from streams.escalation.keys import IncidentKeys
from streams.patrol.agents import partition_of
from streams.topics import client_options, ensure_topics, read_topic

log = logging.getLogger(__name__)


@dataclass
class Rebuilt:
    engines: dict[int, IncidentEngine]
    periods: list[Period]
    from_postgres: int  # incident states
    from_topic: int  # incident events read from the offsets on
    offsets: dict[int, int]  # where the incidents topic was read from (absent: its start)


class Sources:
    """What a rebuild reads from, reached once: PostgreSQL, the broker's epoch, and the partition count of
    the topic whose keys place the state (`keyed`) on partitions."""

    def __init__(self, settings, keyed: str, *, kafka: dict | None = None):
        self.settings, self.keyed, self.kafka = settings, keyed, client_options(settings, kafka)
        self.pool: asyncpg.Pool | None = None
        self.epoch: str | None = None
        self.partitions: int | None = None

    async def _connect(self) -> None:
        if self.pool is None:
            self.pool = await asyncpg.create_pool(self.settings.database_dsn, min_size=0, max_size=2)
        if self.epoch is None:
            self.epoch = await broker_epoch(self.settings, kafka=self.kafka)
        if self.partitions is None:
            self.partitions = (await ensure_topics(self.settings, (self.keyed,), kafka=self.kafka))[self.keyed]


class History(Sources):
    """Where a worker's engines come back from: PostgreSQL, then the topics. Street keys place incidents on
    the located reports' partitions."""

    def __init__(self, settings, keep_closed: timedelta, keys: IncidentKeys, *, kafka: dict | None = None):
        super().__init__(settings, settings.topic_located_reports, kafka=kafka)
        self.keep_closed, self.keys = keep_closed, keys

    def partition(self, community: str) -> int:
        """The partition of the located reports that a community's incidents live on."""
        return partition_of(self.keys.of(community).decode(), self.partitions)

    async def rebuild(self, partitions: set[int], new_engine: Callable[[], IncidentEngine]) -> Rebuilt:
        """New engines for these partitions, filled. While PostgreSQL is unreachable, or not migrated yet,
        it tries again: the agent waits, and its records wait in Kafka."""
        what = f"escalation: rebuild of partitions {sorted(partitions)}"
        return await until_rebuilt(lambda: self._rebuild(partitions, new_engine), what, "0010", log)

    async def _rebuild(self, partitions: set[int], new_engine) -> Rebuilt:
        await self._connect()
        s, where = self.settings, self.partition
        engines = {p: new_engine() for p in partitions}
        snapshot = await incident_snapshot(
            self.pool, s.topic_incidents, self.epoch, lambda community: where(community) in partitions, self.keep_closed
        )
        for event in snapshot.states:
            _restore(engines[where(event["community"])], event)
        for community, report, action in snapshot.seen:
            engines[where(community)].remember(community, report, action)
        stored, action_offsets = await runtime_periods(self.pool, s.topic_actions, self.epoch)
        offsets = {p: o for p, o in snapshot.offsets.items() if p in partitions}
        tail, later = await asyncio.gather(
            self._tail(engines, offsets),
            self._periods(partitions, {p: o for p, o in action_offsets.items() if p in partitions}),
        )
        await self._unlocated(engines)
        return Rebuilt(engines, [period_of(p) for p in stored] + later, len(snapshot.states), tail, offsets)

    async def _tail(self, engines: dict[int, IncidentEngine], offsets: dict[int, int]) -> int:
        """The incident events PostgreSQL does not have yet."""
        read = 0
        async for record in read_topic(
            self.settings,
            self.settings.topic_incidents,
            partitions=engines.keys(),
            start=offsets,
            kafka=self.kafka,
        ):
            _restore(engines[record.partition], json.loads(record.value))
            read += 1
        return read

    async def _periods(self, partitions: set[int], offsets: dict[int, int]) -> list[Period]:
        """Major-event periods on the actions topic that the sink has not stored yet."""
        decode, periods = MajorEventRecords().decode, []
        async for record in read_topic(
            self.settings,
            self.settings.topic_actions,
            partitions=partitions,
            start=offsets,
            kafka=self.kafka,
        ):
            control = decode(record.value)
            if control is not None:
                periods.append(period_of(control["period"]))
        return periods

    async def _unlocated(self, engines: dict[int, IncidentEngine]) -> None:
        """The reports of the unlocated queue's incidents, kept to place them; from PostgreSQL, and from the
        located reports topic only for an open one whose report the sink has not written yet."""
        queue = self.partition(UNLOCATED)
        engine = engines.get(queue)
        if engine is None:
            return
        held = [i.id for i in engine.incidents.values() if i.community == UNLOCATED]
        found = await reports_of(self.pool, held)
        for report in found.values():
            engine.restore_unlocated(report)
        missing = {i for i in held if i not in found and engine.incidents[i].status in OPEN}
        if not missing:
            return
        # The queue's key may be a street's too: its reports are the ones with no community.
        async for record in read_topic(
            self.settings, self.settings.topic_located_reports, partitions=[queue], kafka=self.kafka
        ):
            report = json.loads(record.value) if record.key == self.keys.unlocated else None
            if report is not None and not report.get("community") and incident_id(UNLOCATED, report["id"]) in missing:
                engine.restore_unlocated(report)


def _restore(engine: IncidentEngine, event: dict) -> None:
    engine.clock.observe(datetime.fromisoformat(event["when"]))
    engine.restore(event)
