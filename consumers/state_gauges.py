"""Gauges of the durable state in Postgres, for Prometheus: patrol devices by street, community and status,
and open incidents by street, community and level. Read from the tables the sinks write, so they stay right across
worker restarts and whichever worker holds a device or an incident; served by the sink process."""

from __future__ import annotations

import asyncio
import logging

import asyncpg
from prometheus_client import CollectorRegistry, Gauge

from streams.clock import stopped_within
from streams.metrics import show

log = logging.getLogger(__name__)

# What a read may meet while PostgreSQL goes away or comes back; none of it is a reason to stop the sink
# (seen: InternalClientError "another operation is in progress" on a connection an outage cut mid-query).
READ_FAILURES = (asyncpg.PostgresError, asyncpg.InterfaceError, asyncpg.exceptions.InternalClientError, OSError)

POLL_SECONDS = 5.0

# (street, community, label value, count). Communities are few (13 per street), so they may be labels; the
# street adds no series (a community lies in one) but lets a district's dashboards pick one.
PATROL_SQL = """
SELECT coalesce(c.street_id, ''), g.community_id, s.status, count(*)
FROM patrol_status s JOIN grids g ON g.id = s.grid_id LEFT JOIN communities c ON c.id = g.community_id
GROUP BY 1, 2, 3
"""
INCIDENTS_SQL = """
SELECT street_id, community_id, level, count(*)
FROM incidents
WHERE status IN ('assigned', 'acknowledged')
GROUP BY 1, 2, 3
"""


class _Polled:
    """One gauge set from one query; label sets that stop appearing are removed, not left stale."""

    def __init__(self, gauge: Gauge, sql: str):
        self.gauge, self.sql = gauge, sql
        self.shown: set[tuple[str, ...]] = set()

    async def poll(self, conn: asyncpg.Connection) -> None:
        values = {tuple(str(v) for v in row[:-1]): row[-1] for row in await conn.fetch(self.sql)}
        self.shown = show(self.gauge, self.shown, values)


class PolledGauges:
    """Gauges read from PostgreSQL every `interval` by `read(conn)`; a failed read (PostgreSQL away, a
    connection an outage cut mid-query) keeps the last values and is tried again next time."""

    name = "gauges"

    def __init__(self, pool: asyncpg.Pool, interval: float):
        self.pool, self.interval = pool, interval

    async def run(self, stop: asyncio.Event | None = None) -> None:
        stop = stop or asyncio.Event()
        while not stop.is_set():
            await self.poll()
            await stopped_within(stop, self.interval)

    async def poll(self) -> None:
        try:
            async with self.pool.acquire() as conn:
                try:
                    await self.read(conn)
                except READ_FAILURES:
                    conn.terminate()  # a query cut off mid-protocol leaves it unusable: the pool opens another
                    raise
        except READ_FAILURES as exc:
            log.warning("%s: PostgreSQL read failed, keeping the last values: %s", self.name, exc)

    async def read(self, conn: asyncpg.Connection) -> None:  # pragma: no cover - abstract
        raise NotImplementedError


class StateGauges(PolledGauges):
    name = "state gauges"

    def __init__(self, pool: asyncpg.Pool, registry: CollectorRegistry, *, interval: float = POLL_SECONDS):
        super().__init__(pool, interval)
        self.gauges = [
            _Polled(
                Gauge(
                    "redwall_patrol_devices_by_status",
                    "Devices by street, community and patrol status (patrol_status)",
                    ["street", "community", "status"],
                    registry=registry,
                ),
                PATROL_SQL,
            ),
            _Polled(
                Gauge(
                    "redwall_incidents_open_by_community",
                    "Open incidents by street, community and level (incidents)",
                    ["street", "community", "level"],
                    registry=registry,
                ),
                INCIDENTS_SQL,
            ),
        ]

    async def read(self, conn: asyncpg.Connection) -> None:
        for polled in self.gauges:
            await polled.poll(conn)
