"""Rebuilding the task books of newly assigned partitions: from PostgreSQL as far as the sink has written
(`sinks.tasks.task_snapshot`: the newest event of each open task of the partitions' devices, and the offsets
the sink reached, in one snapshot), then from redwall.tasks.v1 from those offsets on. The same way as the
escalation engine's (streams/escalation/rebuild.py says why: the topic alone forgets, PostgreSQL alone lags).
A task closed is never needed again: the sink keeps it. Lost all the same: the dwell a worker had begun inside
a courtyard (it is in memory only; the next fixes start it again)."""

from __future__ import annotations

import logging
from collections.abc import Callable

from schemas import json
from sinks.postgres import until_rebuilt
from sinks.tasks import task_snapshot
from streams.escalation.rebuild import Sources
from streams.patrol.agents import partition_of
from streams.tasks.book import TaskBook
from streams.topics import read_topic

log = logging.getLogger(__name__)


class TaskHistory(Sources):
    """Where a worker's task books come back from; device keys place tasks on the tasks topic's partitions."""

    def __init__(self, settings, *, kafka: dict | None = None):
        super().__init__(settings, settings.topic_tasks, kafka=kafka)

    async def rebuild(
        self, partitions: set[int], new_book: Callable[[], TaskBook]
    ) -> tuple[dict[int, TaskBook], int, int]:
        """(books, tasks from PostgreSQL, events from the topic); while PostgreSQL is away it tries again,
        and the agent's records wait in Kafka."""
        what = f"tasks: rebuild of partitions {sorted(partitions)}"
        return await until_rebuilt(lambda: self._rebuild(partitions, new_book), what, "0018", log)

    async def _rebuild(self, partitions: set[int], new_book) -> tuple[dict[int, TaskBook], int, int]:
        await self._connect()
        n, books = self.partitions, {p: new_book() for p in partitions}
        states, offsets = await task_snapshot(
            self.pool, self.settings.topic_tasks, self.epoch, lambda device: partition_of(device, n) in partitions
        )
        for event in states:
            books[partition_of(event["device"], n)].restore(event)
        read = 0
        async for record in read_topic(
            self.settings,
            self.settings.topic_tasks,
            partitions=books.keys(),
            start={p: o for p, o in offsets.items() if p in partitions},
            kafka=self.kafka,
        ):
            books[record.partition].restore(json.loads(record.value))
            read += 1
        return books, len(states), read
