"""A database of a test's own on the session's PostgreSQL, for a test whose figures are counted over a
whole database (the demo's summary, a street's roster and places) and must see no other test's rows."""

from __future__ import annotations

import uuid
from urllib.parse import urlsplit, urlunsplit

import asyncpg


async def own_database(database_url: str, prefix: str) -> str:
    """A new empty database beside the one `database_url` names; its URL."""
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(database_url)
    try:
        await admin.execute(f"CREATE DATABASE {name}")
    finally:
        await admin.close()
    return urlunsplit(urlsplit(database_url)._replace(path=f"/{name}"))
