"""Patrol monitoring on Faust: a device agent on the positions, a grid agent on the status changes,
timers for silence, coverage and advisories, and the roster re-read from Postgres.

Devices are spread over the positions partitions, while coverage needs every device of a grid in one
place: so status changes go to redwall.patrol.v1 keyed by the assigned grid, and the grid agent,
which owns whole grids, groups alerts and counts who is on post. Both rebuild their state from
Postgres (and the alerts topic) whenever their partitions change, since Tansu's changelog recovery
cannot be trusted (KAFKA-NOTES.md).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import asyncpg
import faust
from aiokafka.partitioner import murmur2
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from schemas import json
from sinks.patrol import device_states, read_roster, roster_fingerprint
from sinks.postgres import is_retriable
from streams import clock as clocks
from streams import memory_profile
from streams.faust_consumer import handling
from streams.patrol import table as patrol_table
from streams.patrol.advisories import Advisor, advise
from streams.patrol.coverage import PatrolAlerts
from streams.patrol.monitor import PatrolMonitor
from streams.produce import Out, send_all
from streams.topics import client_options, ensure_topics, read_topic

log = logging.getLogger(__name__)

BATCH_RECORDS = 2000
BATCH_WITHIN_SECONDS = 0.05
# Devices one timer tick checks; ~0.05 s of work, so 100,000 devices are each checked every 10 ticks.
TICK_DEVICES = 10_000


class PatrolMetrics:
    """Pings, status changes and alerts by street (of the device's assigned grid, or the alert's grid);
    devices held and batch time measure the worker itself."""

    def __init__(self, registry: CollectorRegistry):
        self.pings = Counter(
            "redwall_patrol_pings_total",
            "Pings seen by the patrol monitor, by street and outcome (good, unrostered, or the GPS quality reason)",
            ["street", "outcome"],
            registry=registry,
        )
        self.changes = Counter(
            "redwall_patrol_status_changes_total",
            "Patrol status changes, by street and new status",
            ["street", "status"],
            registry=registry,
        )
        self.alerts = Counter(
            "redwall_patrol_alerts_total",
            "Patrol alerts, by street, kind and status",
            ["street", "kind", "status"],
            registry=registry,
        )
        self.devices = Gauge("redwall_patrol_devices", "Devices whose state this worker holds", registry=registry)
        self.batch_seconds = Histogram(
            "redwall_patrol_batch_seconds",
            "Time to handle one batch of position records",
            buckets=(1e-3, 3e-3, 1e-2, 3e-2, 0.1, 0.3, 1, 3),
            registry=registry,
        )


def partition_of(key: str, partitions: int) -> int:
    """Kafka's default partitioner (murmur2), which the ingest and the geofence agents both follow."""
    return (murmur2(key.encode()) & 0x7FFFFFFF) % partitions


class Ownership:
    """Which devices and grids this worker owns now; rebuilds state when that changes."""

    def __init__(
        self,
        app: faust.App,
        settings,
        monitor: PatrolMonitor,
        alerts: PatrolAlerts,
        grids: list[str],
        *,
        kafka: dict | None = None,
    ):
        self.app, self.settings, self.monitor, self.alerts, self.all_grids = app, settings, monitor, alerts, grids
        self.kafka = client_options(settings, kafka)
        self.pool: asyncpg.Pool | None = None
        self.lock = asyncio.Lock()
        self.partitions: dict[str, int] = {}
        self.assigned: frozenset = frozenset()
        self.devices: list[str] = []
        # Each rostered device's positions partition, hashed once per roster: murmur2 in pure Python over
        # 100,000 devices held the event loop ~0.4 s at every rebalance.
        self.device_partitions: dict[str, int] = {}
        self.grids: list[str] = []
        self.fingerprint: str | None = None
        self.cursor = 0

    async def ready(self) -> None:
        """Before any work: the roster is loaded and the state of what this worker owns is rebuilt."""
        async with self.lock:
            if self.pool is None:
                self.pool = await asyncpg.create_pool(self.settings.database_dsn, min_size=0, max_size=2)
                self.partitions = await ensure_topics(
                    self.settings, (self.settings.topic_positions, self.settings.topic_patrol), kafka=self.kafka
                )
                await self.refresh_roster(force=True)
            assigned = frozenset((tp.topic, tp.partition) for tp in self.app.consumer.assignment())
            if assigned != self.assigned:
                await self._rebuild(assigned)

    async def refresh_roster(self, force: bool = False) -> None:
        fingerprint = await roster_fingerprint(self.pool)
        if fingerprint == self.fingerprint and not force:
            return
        roster, events = await read_roster(self.pool, self.monitor.registry.grids)
        if not roster.workers:
            log.warning("the roster in Postgres is empty: run `redwall roster load`; no device is on duty")
        self.monitor.roster, self.monitor.events, self.fingerprint = roster, events, fingerprint
        n = self.partitions[self.settings.topic_positions]
        self.device_partitions = {device: partition_of(device, n) for device in roster.workers}
        self.devices = self._owned_devices()
        log.info("patrol: roster of %d workers, %d major-event periods", len(roster.workers), len(events.periods))

    def due(self) -> list[str]:
        """The devices to check on this tick: all of them, or a round-robin slice when there are many,
        so that a tick never holds the event loop for long. Changes carry the deadline's own time,
        so checking a device a few ticks later changes when an alert is sent, not what it says."""
        if len(self.devices) <= TICK_DEVICES:
            return self.devices
        start = self.cursor % len(self.devices)
        self.cursor = start + TICK_DEVICES
        return self.devices[start : self.cursor]

    def _owned(self, keys, topic: str) -> list[str]:
        n = self.partitions[topic]
        owned = self._assigned(topic)
        return [k for k in keys if partition_of(k, n) in owned]

    def _owned_devices(self) -> list[str]:
        owned = self._assigned(self.settings.topic_positions)
        return [device for device, p in self.device_partitions.items() if p in owned]

    def _assigned(self, topic: str) -> set[int]:
        return {p for t, p in self.assigned if t == topic}

    def partition(self, device: str) -> int:
        """The device's partition of the positions topic, which its changelog records follow."""
        p = self.device_partitions.get(device)
        return partition_of(device, self.partitions[self.settings.topic_positions]) if p is None else p

    async def _rebuild(self, assigned: frozenset) -> None:
        self.assigned = assigned
        self.devices = self._owned_devices()
        owned = set(self.devices)
        self.monitor.forget(owned.__contains__)
        missing = self.monitor.unsettled(self.devices)
        self.monitor.restore(missing, await device_states(self.pool, missing, self.settings.gps_max_accuracy_m))
        grids = self._owned(self.all_grids, self.settings.topic_patrol)
        new = [g for g in grids if g not in self.grids]
        for grid in [g for g in self.alerts.grids if g not in grids]:
            del self.alerts.grids[grid]
        self.grids = grids
        if new:
            await self._restore_grids(new)
        log.info("patrol: owning %d devices and %d grids", len(self.devices), len(grids))

    async def _restore_grids(self, grids: list[str]) -> None:
        """Statuses (and since when) from Postgres, open alerts from the alerts topic read from the start."""
        rows = await self.pool.fetch(
            "SELECT device_id, grid_id, status, since FROM patrol_status WHERE grid_id = ANY($1)", grids
        )
        statuses: dict[str, list] = {grid: [] for grid in grids}
        for row in rows:
            statuses[row["grid_id"]].append((row["device_id"], row["status"], row["since"]))
        open_alerts: dict[str, dict] = {}
        async for record in read_topic(self.settings, self.settings.topic_alerts, kafka=self.kafka):
            alert = json.loads(record.value)
            if (
                alert.get("grid") in statuses
                and alert["id"].startswith("patrol:")
                and alert["kind"] != "patrol_advisory"
            ):
                base = alert["id"].removesuffix(":resolved")
                if alert["status"] == "firing":
                    open_alerts[base] = alert
                else:
                    open_alerts.pop(base, None)
        for grid, rows_of_grid in statuses.items():
            self.alerts.restore(grid, rows_of_grid, [a for a in open_alerts.values() if a["grid"] == grid])


def install(
    app: faust.App,
    settings,
    registry,
    metrics_registry: CollectorRegistry,
    *,
    kafka: dict | None = None,
    also: Callable[[int, bytes | None, bytes], list[Out]] = lambda partition, key, value: [],
) -> PatrolMonitor:
    """`also`: another reader of each position record (the tasks' arrivals), so the positions are read once."""
    clock = clocks.from_settings(settings)
    # The table's store holds the monitor's states, so they exist once; patrol_table.py says how its
    # changelog is written (once per device per batch, on a status change, with the batch's records).
    changelog = patrol_table.changelog_topic(app, settings)
    table = app.Table(
        patrol_table.NAME, partitions=settings.partitions, key_type=str, value_type=bytes, changelog_topic=changelog
    )
    monitor = PatrolMonitor(settings, registry, clock, table.data, table.changelog_topic_name)
    places = {g: (registry.communities[area.parent].parent, area.parent) for g, area in registry.grids.items()}
    alerts = PatrolAlerts(
        timedelta(seconds=settings.patrol_group_seconds),
        timedelta(seconds=settings.patrol_coverage_grace_seconds),
        monitor.required,
        places.__getitem__,
        settings.timezone,
    )
    advisor = Advisor(
        settings.advisory_min_reports,
        timedelta(seconds=settings.advisory_repeat_seconds),
        timedelta(seconds=settings.advisory_window_seconds),
        places.__getitem__,
        settings.timezone,
    )
    own = Ownership(app, settings, monitor, alerts, list(registry.grids), kafka=kafka)
    monitor.partition_of = own.partition
    memory_profile.install(app)
    metrics = PatrolMetrics(metrics_registry)
    raw = dict(key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw")

    def alert_outs(found: list[dict]) -> list[Out]:
        for a in found:
            metrics.alerts.labels(a["street"], a["kind"], a["status"]).inc()
        return [Out(settings.topic_alerts, a["grid"].encode(), json.dumps(a)) for a in found]

    def changelog_and_counts() -> list[Out]:
        for counter, metric in ((monitor.pings, metrics.pings), (monitor.statuses, metrics.changes)):
            for labels, n in counter.items():
                metric.labels(*labels).inc(n)
            counter.clear()
        metrics.devices.set(len(own.devices))
        return monitor.changelog_records()

    @app.agent(app.topic(settings.topic_positions, **raw), name="patrol-devices")
    async def patrol_devices(stream):
        async for events in stream.take_events(BATCH_RECORDS, within=BATCH_WITHIN_SECONDS):
            with handling(app, events):
                await own.ready()
                started = time.perf_counter()
                outs = []
                for event in events:
                    msg = event.message
                    try:
                        outs += monitor.positions(msg.value, msg.partition)
                        outs += also(msg.partition, msg.key, msg.value)
                    except (ValueError, KeyError, TypeError) as exc:  # the geofence agent validated it; defence only
                        log.error(
                            "patrol: skipping bad record %s[%d]@%d: %s", msg.topic, msg.partition, msg.offset, exc
                        )
                outs += changelog_and_counts()
                metrics.batch_seconds.observe(time.perf_counter() - started)
                await send_all(app.producer, outs)

    @app.agent(app.topic(settings.topic_patrol, **raw), name="patrol-grids")
    async def patrol_grids(stream):
        async for events in stream.take_events(BATCH_RECORDS, within=BATCH_WITHIN_SECONDS):
            with handling(app, events):
                await own.ready()
                found, made, workers = [], datetime.now(UTC), monitor.roster.workers
                for event in events:
                    record = json.loads(event.message.value)
                    if record.get("type") == "status":
                        # The roster's string for the device, not the record's: a grid keeps 100,000 of them.
                        device = getattr(workers.get(record["device"]), "device", record["device"])
                        found += alerts.status(
                            device,
                            record["grid"],
                            sys.intern(record["status"]),
                            datetime.fromisoformat(record["event_time"]),
                            made,
                        )
                await send_all(app.producer, alert_outs(found))

    @app.timer(settings.patrol_tick_seconds, name="patrol-tick")
    async def patrol_tick():
        if not app.consumer.assignment():
            return  # no partitions yet: nothing is ours to watch
        await own.ready()
        now = clock.now()
        if now is None:
            return  # an event clock that has seen no event yet
        outs = monitor.tick(own.due(), now)
        outs += changelog_and_counts()
        await send_all(app.producer, outs + alert_outs(alerts.tick(own.grids, now, datetime.now(UTC))))

    @app.timer(settings.roster_refresh_seconds, name="patrol-roster")
    @_outlives_postgres("roster refresh (the roster in hand holds)")
    async def patrol_roster():
        if own.pool is not None:
            async with own.lock:
                await own.refresh_roster()

    @app.timer(settings.advisory_every_seconds, name="patrol-advisories")
    @_outlives_postgres("hot-spot advisories")
    async def patrol_advisories():
        now = clock.now()
        # One worker looks, to spare Postgres: the owner of the patrol topic's partition 0, as the consumer
        # says now. Two that both think so (a rebalance, a paused worker) still advise once: advise() claims.
        owner = any(tp.topic == settings.topic_patrol and tp.partition == 0 for tp in app.consumer.assignment())
        if own.pool is None or now is None or not owner:
            return
        by_grid = monitor.roster.by_grid()
        sent = await advise(
            own.pool,
            advisor,
            now,
            lambda g: by_grid.get(g, []),
            lambda found: send_all(app.producer, alert_outs(found)),
        )
        if sent:
            log.info("patrol: %d advisories: %s", len(sent), ", ".join(a["id"] for a in sent))

    return monitor


def _outlives_postgres(what: str):
    """A Faust timer that raises crashes the whole worker: one that finds Postgres away logs it and
    tries again on its next run."""

    def wrap(timer):
        @functools.wraps(timer)
        async def run():
            try:
                await timer()
            except Exception as exc:
                if not is_retriable(exc):
                    raise
                log.warning("patrol: %s skipped, Postgres unavailable: %s: %s", what, type(exc).__name__, exc)

        return run

    return wrap
