"""Schema migrations: the numbered SQL files in sinks/migrations/, applied in order, each once, each in
its own transaction, and recorded in `schema_migrations`."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from config.geometry import load_geometry
from config.settings import Settings
from sinks.postgres import seed_places

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
_FILE_NAME = re.compile(r"(\d{4})_([a-z0-9_]+)\.sql")
# Any constant works as long as every Redwall migrator uses the same one: it serialises them.
_ADVISORY_LOCK = 0x7265647761_6C6C  # "redwall"

_LEDGER = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version     integer PRIMARY KEY,
    name        text NOT NULL,
    applied_at  timestamptz NOT NULL DEFAULT now()
)
"""


class SchemaTooNew(RuntimeError):
    """The database holds migrations this code does not know: it was migrated by a newer Redwall."""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    path: Path

    @property
    def id(self) -> str:
        return f"{self.version:04d}_{self.name}"

    def sql(self) -> str:
        return self.path.read_text(encoding="utf-8")


def known_migrations(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    """The migrations shipped with this code, in version order; a misnamed file is an error."""
    migrations = []
    for path in sorted(directory.glob("*.sql")):
        match = _FILE_NAME.fullmatch(path.name)
        if match is None:
            raise ValueError(f"{path}: migration files are named NNNN_lower_case_name.sql")
        migrations.append(Migration(int(match[1]), match[2], path))
    versions = [m.version for m in migrations]
    if len(set(versions)) != len(versions):
        raise ValueError(f"{directory}: two migration files share a version number")
    return migrations


async def migrate(dsn: str, directory: Path = MIGRATIONS_DIR) -> list[str]:
    """Apply every migration the database lacks; returns the ids applied (empty when up to date)."""
    migrations = known_migrations(directory)
    conn = await asyncpg.connect(dsn)
    try:
        # A session lock, held across reading the ledger and applying, so that two processes
        # starting together do not both apply the same file.
        await conn.execute("SELECT pg_advisory_lock($1)", _ADVISORY_LOCK)
        try:
            return await _apply_missing(conn, migrations)
        finally:
            await conn.execute("SELECT pg_advisory_unlock($1)", _ADVISORY_LOCK)
    finally:
        await conn.close()


async def _apply_missing(conn: asyncpg.Connection, migrations: list[Migration]) -> list[str]:
    await conn.execute(_LEDGER)
    applied = {r["version"]: r["name"] for r in await conn.fetch("SELECT version, name FROM schema_migrations")}
    _refuse_unknown(applied, migrations)
    pending = [m for m in migrations if m.version not in applied]
    for migration in pending:
        async with conn.transaction():
            await conn.execute(migration.sql())
            await conn.execute(
                "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", migration.version, migration.name
            )
        log.info("applied migration %s", migration.id)
    return [m.id for m in pending]


def _refuse_unknown(applied: dict[int, str], migrations: list[Migration]) -> None:
    unknown = sorted(set(applied) - {m.version for m in migrations})
    if unknown:
        newest = unknown[-1]
        known = max((m.version for m in migrations), default=0)
        raise SchemaTooNew(
            f"the database schema has migration {newest:04d}_{applied[newest]}, but this Redwall only knows "
            f"migrations up to {known:04d}: run a Redwall at least as new as the one that migrated it, "
            f"or point DATABASE_URL at another database"
        )


async def migrate_and_seed(settings: Settings) -> list[str]:
    """`redwall migrate`: migrate, then upsert the places from the configured geometry."""
    applied = await migrate(settings.database_dsn)
    geometry = load_geometry(settings.geometry_path)
    conn = await asyncpg.connect(settings.database_dsn)
    try:
        places = await seed_places(conn, geometry)
    finally:
        await conn.close()
    log.info("seeded %d places from %s", places, settings.geometry_path)
    return applied
