"""Helpers for sink tests that need a database of their own: the session's PostgreSQL seen through an
empty, migrated schema, and what the catalog says about the position partitions."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import asyncpg

from sinks.migrate import MIGRATIONS_DIR, migrate


def with_search_path(dsn: str, schema: str) -> str:
    parts = urlsplit(dsn)
    return urlunsplit(parts._replace(query=urlencode(parse_qsl(parts.query) + [("search_path", schema)])))


@contextlib.asynccontextmanager
async def scratch_schema(
    pg: asyncpg.Connection, database_url: str, *, migrations: Path = MIGRATIONS_DIR
) -> AsyncIterator[str]:
    """A DSN whose tables live in a new schema, migrated with `migrations`; dropped afterwards."""
    schema = f"scratch_{uuid.uuid4().hex[:10]}"
    await pg.execute(f"CREATE SCHEMA {schema}")
    dsn = with_search_path(database_url, schema)
    try:
        await migrate(dsn, migrations)
        yield dsn
    finally:
        await pg.execute(f"DROP SCHEMA {schema} CASCADE")


async def partitions_by_day(conn: asyncpg.Connection) -> dict[str, int]:
    """Every partition of `positions` in the catalog (pg_inherits), with the rows it holds."""
    names = [
        r["relname"]
        for r in await conn.fetch(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = 'positions'::regclass ORDER BY 1"
        )
    ]
    return {name: await conn.fetchval(f'SELECT count(*) FROM "{name}"') for name in names}
