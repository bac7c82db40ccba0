"""Tasks to a person on the Faust app: one agent over redwall.task-actions.v1, a book per partition, the
arrivals seen in the patrol agent's positions, a deadline timer, and the books rebuilt whenever a partition
is assigned (streams/tasks/rebuild.py).

Why the patrol agent hands over the fixes: a task's actions are keyed by its worker's device, as that
device's positions are, and Faust assigns the same partition numbers of topics with equal partition counts to
one worker: so the book that holds a device's tasks sits beside the agent reading its fixes, and the fixes
are read once. Only a batch of a device with an open task is looked at (a set lookup by the record's key).
"""

from __future__ import annotations

import asyncio
import collections
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime

import asyncpg
import faust
from prometheus_client import CollectorRegistry, Counter, Gauge

from config.calendar import WorkingCalendar
from config.roster import Roster
from config.tasks import TaskRules, load_task_rules
from schemas import json
from schemas.fields import FieldError
from schemas.tasks import TaskAction
from streams import clock as clocks
from streams.faust_consumer import handling
from streams.geofence.registry import GridRegistry
from streams.metrics import show
from streams.produce import Out, send_all
from streams.tasks.assign import Assigner
from streams.tasks.book import TaskBook
from streams.tasks.rebuild import TaskHistory

log = logging.getLogger(__name__)

BATCH_RECORDS = 500
BATCH_WITHIN_SECONDS = 0.02


class TaskMetrics:
    """By the task's street ("" for a refusal of no task, or a report outside every street)."""

    def __init__(self, registry: CollectorRegistry):
        self.events = Counter(
            "redwall_task_events_total", "Task events, by street and event", ["street", "event"], registry=registry
        )
        self.alerts = Counter(
            "redwall_task_alerts_total", "Task alerts, by street and kind", ["street", "kind"], registry=registry
        )
        self.open = Gauge(
            "redwall_tasks_open", "Open tasks held by this worker, by street", ["street"], registry=registry
        )
        self.shown_open: set[tuple[str, ...]] = set()
        self.assigned = Counter(
            "redwall_task_assignments_total",
            "生脸 reports turned into tasks, by street and outcome (assigned, nobody on duty)",
            ["street", "outcome"],
            registry=registry,
        )

    def count(self, events: list[dict], alerts: list[dict]) -> None:
        for e in events:
            self.events.labels(e.get("state", {}).get("street", ""), e["event"]).inc()
        for a in alerts:
            self.alerts.labels(a["street"], a["kind"]).inc()

    def count_open(self, books) -> None:
        """Open tasks per street; a street whose partition left this worker drops out (its new worker counts it)."""
        by_street = collections.Counter(t["street"] for b in books for t in b.tasks().values())
        self.shown_open = show(self.open, self.shown_open, {(s,): n for s, n in by_street.items()})


class Tasks:
    """The books of this worker's partitions, and how records reach them and results leave."""

    def __init__(self, app: faust.App, settings, rules: TaskRules, calendar: WorkingCalendar, registry, metrics, kafka):
        self.app, self.settings, self.rules, self.calendar, self.metrics = app, settings, rules, calendar, metrics
        self.registry = registry
        self.books: dict[int, TaskBook] = {}
        self.roster: Callable[[], Roster] = lambda: Roster(settings.timezone, {}, {})  # the patrol monitor's
        self.names: dict[str, str] = {}
        self.history = TaskHistory(settings, kafka=kafka)
        self.lock = asyncio.Lock()
        self.generation = 0
        self.clock = clocks.from_settings(settings)
        self._pool: asyncpg.Pool | None = None

    async def pool(self) -> asyncpg.Pool:
        if self._pool is None:
            self._pool = await asyncpg.create_pool(self.settings.database_dsn, min_size=0, max_size=2)
        return self._pool

    def new_book(self) -> TaskBook:
        return TaskBook(
            self.rules,
            self.calendar,
            self.settings.timezone,
            # Tasks carry their street from the edge; the one street of a one-street map for older records
            next(iter(self.registry.streets)) if len(self.registry.streets) == 1 else None,
            names=lambda device: self._name(device),
            places=self._place_name,
        )

    def _name(self, device: str) -> str:
        worker = self.roster().workers.get(device)
        return worker.name if worker else device

    def _place_name(self, place: str) -> str:
        area = self.registry.courtyards.get(place) or self.registry.grids.get(place)
        return area.name if area else place

    async def ensure(self, partitions: set[int]) -> None:
        async with self.lock:
            while missing := partitions - self.books.keys():
                generation, started = self.generation, time.perf_counter()
                books, from_pg, from_topic = await self.history.rebuild(missing, self.new_book)
                if generation != self.generation:
                    continue  # a revocation came during the read
                self.books.update(books)
                log.info(
                    "tasks: rebuilt partitions %s: %d tasks from PostgreSQL, then %d events from the topic in %.2f s",
                    sorted(missing),
                    from_pg,
                    from_topic,
                    time.perf_counter() - started,
                )

    def revoke(self, partitions: set[int]) -> None:
        self.generation += 1
        for p in partitions:
            self.books.pop(p, None)

    def outs(self, partition: int, events: list[dict], alerts: list[dict]) -> list[Out]:
        s = self.settings
        self.metrics.count(events, alerts)
        return [Out(s.topic_tasks, e["device"].encode(), json.dumps(e), partition) for e in events] + [
            Out(s.topic_alerts, (a.get("community") or a["owner"]).encode(), json.dumps(a)) for a in alerts
        ]

    def fixes(self, partition: int, key: bytes | None, value: bytes) -> list[Out]:
        """What one position batch means for the tasks of its device (called by the patrol agent)."""
        book = self.books.get(partition)
        if book is None or key is None or key.decode() not in book.watched:
            return []
        batch = json.loads(value)
        self.clock.observe(datetime.fromisoformat(batch["pings"][-1]["time"]))
        return self.outs(partition, *book.fixes(batch))

    def count_open(self) -> None:
        self.metrics.count_open(self.books.values())


def install(
    app: faust.App,
    settings,
    registry: GridRegistry,
    metrics_registry: CollectorRegistry,
    calendar: WorkingCalendar,
    dead_letter,
    *,
    kafka: dict | None = None,
) -> Tasks:
    """Load and check the task rules (a bad file stops start-up), then wire the agent, timer and signals."""
    rules = load_task_rules(settings.task_rules_path)
    tasks = Tasks(app, settings, rules, calendar, registry, TaskMetrics(metrics_registry), kafka)
    assigner = Assigner(settings, tasks)
    source = app.topic(
        settings.topic_task_actions, key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw"
    )

    @app.agent(source, name="tasks")
    async def task_actions(stream):
        async for events in stream.take_events(BATCH_RECORDS, within=BATCH_WITHIN_SECONDS):
            with handling(app, events):
                await tasks.ensure({e.message.partition for e in events})
                outs = []
                for event in events:
                    m = event.message
                    try:
                        action = TaskAction.decode(m.value)
                    except FieldError as error:
                        letter = dead_letter(error, m.value, m.topic, m.partition, m.offset, m.key)
                        outs.append(Out(letter.topic, letter.key, letter.value))
                        continue
                    if action["action"] == "assign":
                        outs += await assigner.assign(action)
                        continue
                    tasks.clock.observe(datetime.fromisoformat(action["time"]))
                    book = tasks.books[m.partition]
                    outs += tasks.outs(m.partition, *book.act(action, tasks.clock.now() or datetime.now(UTC)))
                await send_all(app.producer, outs)

    @app.timer(interval=1.0, name="task-deadlines")
    async def deadlines():
        now = tasks.clock.now()
        if now is None:
            return
        outs = []
        for partition, book in list(tasks.books.items()):
            outs += tasks.outs(partition, *book.tick(now))
        await send_all(app.producer, outs)
        tasks.count_open()

    @app.on_partitions_assigned.connect
    async def on_assigned(sender, assigned, **kwargs):
        mine = {tp.partition for tp in assigned if tp.topic == settings.topic_task_actions}
        asyncio.ensure_future(tasks.ensure(mine))

    @app.on_partitions_revoked.connect
    async def on_revoked(sender, revoked, **kwargs):
        tasks.revoke({tp.partition for tp in revoked if tp.topic == settings.topic_task_actions})

    return tasks
