"""The Postgres sink: one idempotent transaction per batch of reports, positions or dead letters, and
the upsert of the street, community, grid and courtyard tables from the geometry."""

from __future__ import annotations

import asyncio
import base64
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime
from typing import TypeVar

import asyncpg

from schemas import json
from sinks.partitions import PositionHistory, create_partitions
from sinks.sql import as_columns, row_count, storable, unnest_insert

T = TypeVar("T")
MAX_REBUILD_RETRY_SECONDS = 5.0

# A fix stamped this far ahead of the database clock comes from a wrong phone clock; it is kept in
# the history but must not become the device's latest position, or it would pin it there.
FUTURE_TOLERANCE = "5 minutes"

_POSITION_COLUMNS = (
    "device_id",
    "event_time",
    "lat",
    "lng",
    "accuracy",
    "speed",
    "heading",
    "battery",
    "street_id",
    "community_id",
    "grid_id",
    "courtyard_id",
)
_COLS = ", ".join(_POSITION_COLUMNS)
_STAGE = "CREATE TEMP TABLE positions_stage (LIKE positions) ON COMMIT DELETE ROWS"
_INSERT_POSITIONS = f"INSERT INTO positions ({_COLS}) SELECT {_COLS} FROM positions_stage ON CONFLICT DO NOTHING"
_UPSERT_LATEST = f"""
INSERT INTO latest_positions ({_COLS})
SELECT DISTINCT ON (device_id) {_COLS} FROM positions_stage
WHERE event_time <= now() + interval '{FUTURE_TOLERANCE}'
ORDER BY device_id, event_time DESC
ON CONFLICT (device_id) DO UPDATE SET
    {", ".join(f"{c} = excluded.{c}" for c in _POSITION_COLUMNS[1:])}, updated_at = now()
WHERE excluded.event_time > latest_positions.event_time
"""


# A report outside every street is stored with no place; once the street's dispatchers place it, it
# comes again with its community (and grid), which fill the place in. Nothing else is ever rewritten.
_REPORT_COLUMNS = [
    ("id", "text"),
    ("device_id", "text"),
    ("category", "text"),
    ("severity", "text"),
    ("text", "text"),
    ("lat", "float8"),
    ("lng", "float8"),
    ("accuracy", "float4"),
    ("event_time", "timestamptz"),
    ("street_id", "text"),
    ("community_id", "text"),
    ("grid_id", "text"),
    ("cell", "text"),
    ("photos", "jsonb"),
    ("placed_by", "text"),
    ("courtyard_id", "text"),
]
_INSERT_REPORTS = unnest_insert(
    "reports",
    _REPORT_COLUMNS,
    "(id)",
    order="id, community_id NULLS LAST",
    update=(
        "street_id = excluded.street_id, community_id = excluded.community_id, grid_id = excluded.grid_id, "
        "courtyard_id = excluded.courtyard_id "
        "WHERE reports.community_id IS NULL AND excluded.community_id IS NOT NULL"
    ),
)
_INSERT_DEAD_LETTERS = unnest_insert(
    "dead_letters",
    [
        ("source_topic", "text"),
        ("partition", "int4"),
        ('"offset"', "int8"),
        ("reason", "text"),
        ("errors", "jsonb"),
        ("key", "bytea"),
        ("payload", "bytea"),
        ("failed_at", "timestamptz"),
    ],
    '(source_topic, partition, "offset")',
)


class SinkUnavailable(Exception):
    """Postgres cannot take the batch now (down, restarting, overloaded): retry the same batch later."""


def is_retriable(exc: BaseException) -> bool:
    """Whether a failed write may succeed unchanged later; anything else is a bug or bad config."""
    if isinstance(exc, asyncpg.InterfaceError):
        return not isinstance(exc, ValueError)  # asyncpg's DataError / ClientConfigurationError are ours
    return isinstance(
        exc,
        (
            OSError,  # refused, reset, and TimeoutError (acquire or command timeout)
            asyncpg.PostgresConnectionError,
            asyncpg.exceptions.OperatorInterventionError,  # admin shutdown, cannot connect now, cancelled
            asyncpg.exceptions.InsufficientResourcesError,  # too many connections, disk full
            asyncpg.exceptions.TransactionRollbackError,  # serialization failure, deadlock
            asyncpg.exceptions.ReadOnlySQLTransactionError,  # a replica during failover
            asyncpg.exceptions.LockNotAvailableError,
            # "another operation is in progress": a connection an outage cut off mid-query
            asyncpg.exceptions.InternalClientError,
        ),
    )


async def open_pool(dsn: str, *, max_size: int = 4, command_timeout: float = 60, init=None) -> asyncpg.Pool:
    """A pool for one writer. min_size=0: connecting is lazy, so a database that is down surfaces as
    SinkUnavailable on the first write instead of failing start-up."""
    return await asyncpg.create_pool(dsn, min_size=0, max_size=max_size, command_timeout=command_timeout, init=init)


@contextlib.asynccontextmanager
async def transaction(pool: asyncpg.Pool) -> AsyncIterator[asyncpg.Connection]:
    """One connection in one transaction; a retriable failure surfaces as SinkUnavailable."""
    try:
        async with pool.acquire(timeout=30) as conn, conn.transaction():
            yield conn
    except Exception as exc:
        if is_retriable(exc):
            raise SinkUnavailable(f"{type(exc).__name__}: {exc}") from exc
        raise


class PostgresSink:
    """Writes batches through an asyncpg pool; every write is safe to repeat with the same batch."""

    def __init__(self, pool: asyncpg.Pool, history: PositionHistory | None = None):
        self.pool = pool
        self.history = PositionHistory() if history is None else history

    @classmethod
    async def connect(
        cls, dsn: str, *, max_size: int = 4, command_timeout: float = 60, history: PositionHistory | None = None
    ) -> PostgresSink:
        # Each connection gets the temporary table fixes are copied into.
        pool = await open_pool(dsn, max_size=max_size, command_timeout=command_timeout, init=_prepare_connection)
        return cls(pool, history)

    async def close(self) -> None:
        await self.pool.close()

    def _transaction(self) -> contextlib.AbstractAsyncContextManager[asyncpg.Connection]:
        return transaction(self.pool)

    async def write_reports(self, reports: list[dict]) -> dict[str, int]:
        rows = [_report_row(r) for r in reports]
        async with self._transaction() as conn:
            status = await conn.execute(_INSERT_REPORTS, *as_columns(rows, len(_REPORT_COLUMNS)))
        return {"reports": row_count(status)}

    async def write_positions(self, batches: list[dict]) -> dict[str, int]:
        """History through COPY into a per-connection staging table, then the newest fix per device.
        Fixes outside the retention window are counted and left out (`PositionHistory.admit`)."""
        rows, days = self.history.admit([row for batch in batches for row in _position_rows(batch)])
        if not rows:
            return {"positions": 0, "latest_positions": 0}
        try:
            return await self._write_positions(rows, days)
        except asyncpg.CheckViolationError:  # "no partition of relation positions found for row"
            self.history.forget()  # a day we knew was dropped under us: make sure of every day again
        try:
            return await self._write_positions(rows, days)
        except asyncpg.CheckViolationError as exc:
            self.history.forget()  # dropped again at once (clocks apart?): the batch is retried later
            raise SinkUnavailable(f"a partition of positions went away during the write: {exc}") from exc

    async def _write_positions(self, rows: list[tuple], days: set) -> dict[str, int]:
        if missing := self.history.missing(days):
            # Its own short transaction: the lock it takes on `positions` must not last a whole batch.
            async with self._transaction() as conn:
                await create_partitions(conn, missing)
            self.history.made_sure(missing)
        async with self._transaction() as conn:
            await conn.copy_records_to_table("positions_stage", records=rows, columns=_POSITION_COLUMNS)
            history = await conn.execute(_INSERT_POSITIONS)
            latest = await conn.execute(_UPSERT_LATEST)
        return {"positions": row_count(history), "latest_positions": row_count(latest)}

    async def write_dead_letters(self, letters: list[dict]) -> dict[str, int]:
        rows = [_dead_letter_row(d) for d in letters]
        async with self._transaction() as conn:
            status = await conn.execute(_INSERT_DEAD_LETTERS, *as_columns(rows, 8))
        return {"dead_letters": row_count(status)}


async def _prepare_connection(conn: asyncpg.Connection) -> None:
    # ON COMMIT DELETE ROWS empties the stage at every commit, and a failed batch rolls back its
    # rows, so the stage never holds another batch's fixes.
    await conn.execute(_STAGE)


def _position_rows(batch: dict) -> list[tuple]:
    device, parse = batch["device"], datetime.fromisoformat
    return [
        (
            device,
            parse(p["time"]),
            p["lat"],
            p["lng"],
            p["accuracy"],
            p.get("speed"),
            p.get("heading"),
            p.get("battery"),
            p.get("street"),
            p.get("community"),
            p.get("grid"),
            p.get("courtyard"),
        )
        for p in batch["pings"]
    ]


def _report_row(r: dict) -> tuple:
    where = r["location"]
    photos = [storable(p) for p in r.get("photos", [])]
    return (
        r["id"],
        r["device"],
        r["category"],
        r["severity"],
        storable(r["text"]),
        where["lat"],
        where["lng"],
        where.get("accuracy"),
        datetime.fromisoformat(r["event_time"]),
        r.get("street"),
        r.get("community"),
        r.get("grid"),
        r["cell"],
        json.dumps(photos).decode(),
        r.get("placed_by"),  # a 12345 order's report: how its place was found (NULL: a phone's own point)
        r.get("courtyard"),
    )


def _dead_letter_row(d: dict) -> tuple:
    key = d.get("key_b64")
    errors = [{k: storable(v) for k, v in e.items()} for e in d["errors"]]
    return (
        d["source_topic"],
        int(d["partition"]),
        int(d["offset"]),
        storable(d["reason"]),
        json.dumps(errors).decode(),
        None if key is None else base64.b64decode(key),
        base64.b64decode(d["value_b64"]),
        datetime.fromisoformat(d["failed_at"]),
    )


async def seed_places(conn_or_pool: asyncpg.Connection | asyncpg.Pool, geometry) -> int:
    """Upsert the streets, their communities, grids and courtyards from `config.geometry.Geometry`; returns
    the number of places. Places gone from the geometry stay, since old events still name them."""
    levels = [
        ("streets", None, geometry.streets.values()),
        ("communities", "street_id", geometry.communities.values()),
        ("grids", "community_id", geometry.grids.values()),
        ("courtyards", "grid_id", geometry.courtyards.values()),
    ]
    async with connection(conn_or_pool) as conn, conn.transaction():
        for table, parent, areas in levels:  # parents first, for the foreign keys
            rows = [_place_row(area, *([area.parent] if parent else [])) for area in areas]
            await conn.executemany(_upsert_place(table, parent), rows)
    return len(geometry.streets) + len(geometry.communities) + len(geometry.grids) + len(geometry.courtyards)


@contextlib.asynccontextmanager
async def connection(conn_or_pool) -> AsyncIterator[asyncpg.Connection]:
    """A connection of its own for a DSN (closed after), of the pool (returned after), or the one given."""
    if isinstance(conn_or_pool, str):
        conn = await asyncpg.connect(conn_or_pool)
        try:
            yield conn
        finally:
            await conn.close()
    elif isinstance(conn_or_pool, asyncpg.Pool):
        async with conn_or_pool.acquire() as conn:
            yield conn
    else:
        yield conn_or_pool


def _upsert_place(table: str, parent: str | None) -> str:
    columns = ["id", "name", "name_en", "geometry", "properties"] + ([parent] if parent else [])
    params = ", ".join(f"${i}" for i in range(1, len(columns) + 1))
    updates = ", ".join(f"{c} = excluded.{c}" for c in columns[1:])
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({params}) ON CONFLICT (id) DO UPDATE SET {updates}"


def _place_row(area, *parent: str | None) -> tuple:
    return (
        area.id,
        area.name,
        area.name_en,
        json.dumps(_geojson(area.polygons)).decode(),
        json.dumps(dict(area.properties)).decode(),
        *parent,
    )


def _geojson(polygons) -> dict:
    """An Area's polygons (each: outer ring, then holes; points are (lng, lat)) as GeoJSON."""
    coordinates = [[[list(point) for point in ring] for ring in polygon] for polygon in polygons]
    if len(coordinates) == 1:
        return {"type": "Polygon", "coordinates": coordinates[0]}
    return {"type": "MultiPolygon", "coordinates": coordinates}


async def until_rebuilt(rebuild: Callable[[], Awaitable[T]], what: str, migration: str, log) -> T:
    """`rebuild()`'s answer, tried again while PostgreSQL is unreachable or lacks `migration` (backoff up to
    MAX_REBUILD_RETRY_SECONDS, each failure logged): a worker's agent waits for its state, its records in Kafka."""
    attempt = 0
    while True:
        try:
            return await rebuild()
        except (asyncpg.UndefinedTableError, asyncpg.UndefinedColumnError) as exc:
            why = f"the database lacks migration {migration} ({exc}): run `redwall migrate`"
        except Exception as exc:
            if not is_retriable(exc):
                raise
            why = str(exc)
        attempt += 1
        delay = min(MAX_REBUILD_RETRY_SECONDS, 0.25 * 2**attempt)
        log.warning("%s failed (attempt %d), again in %.1f s: %s", what, attempt, delay, why)
        await asyncio.sleep(delay)
