"""The scheduled retention job of `redwall sink`: applies sinks/retention.py at start and then every
REDWALL_RETENTION_INTERVAL_SECONDS, logging and counting what it removed."""

from __future__ import annotations

import asyncio
import logging
import time

import asyncpg
from prometheus_client import CollectorRegistry, Counter, Gauge

from config.settings import Settings
from sinks.retention import ROWS, RetentionPolicy, RetentionResult, apply_retention
from streams.clock import stopped_within

log = logging.getLogger(__name__)


class RetentionMetrics:
    def __init__(self, registry: CollectorRegistry):
        self.partitions = Counter(
            "redwall_retention_partitions_dropped", "daily position partitions dropped", registry=registry
        )
        self.rows = Counter(
            "redwall_retention_rows_removed",
            "rows removed by retention (positions: in dropped partitions; patrol_events: their location; "
            "hotline_contact_hash: orders whose repeat-caller hash was erased)",
            ["table"],
            registry=registry,
        )
        self.runs = Counter(
            "redwall_retention_runs",
            "retention runs by outcome (done, skipped: another process ran it, failed)",
            ["outcome"],
            registry=registry,
        )
        self.last_done = Gauge(
            "redwall_retention_last_done_timestamp_seconds", "Unix time of the last completed run", registry=registry
        )
        for table in ("positions", *ROWS):
            self.rows.labels(table)
        for outcome in ("done", "skipped", "failed"):
            self.runs.labels(outcome)

    def observe(self, result: RetentionResult) -> None:
        if result.skipped:
            self.runs.labels("skipped").inc()
            return
        self.partitions.inc(len(result.dropped))
        self.rows.labels("positions").inc(sum(result.dropped.values()))
        for table, rows in result.removed.items():
            self.rows.labels(table).inc(rows)
        self.runs.labels("done").inc()
        self.last_done.set(time.time())


class RetentionJob:
    def __init__(self, settings: Settings, pool: asyncpg.Pool, registry: CollectorRegistry):
        self.policy = RetentionPolicy.from_settings(settings)
        self.interval = settings.retention_interval_seconds
        self.pool = pool
        self.metrics = RetentionMetrics(registry)

    async def run(self, stop: asyncio.Event | None = None) -> None:
        """Run now, then every interval, until `stop` is set; a failed run is logged and tried next time."""
        stop = stop or asyncio.Event()
        while not stop.is_set():
            await self.run_once()
            await stopped_within(stop, self.interval)

    async def run_once(self) -> RetentionResult | None:
        try:
            async with self.pool.acquire(timeout=30) as conn:
                result = await apply_retention(conn, self.policy)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            # Postgres down or a drop that timed out on its lock: the next run finds the same work.
            self.metrics.runs.labels("failed").inc()
            log.warning("retention run failed, next try in %.0f s: %s: %s", self.interval, type(exc).__name__, exc)
            return None
        self.metrics.observe(result)
        log.info("%s", result.summary())
        return result
