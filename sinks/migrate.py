"""Schema migrations: the numbered SQL files in sinks/migrations/, applied in order, each once, each in
its own transaction, and recorded in `schema_migrations`; then the roles and grants of sinks/grants.py.
Processes wait for them before their work (`prepare_schema`)."""

from __future__ import annotations

import asyncio
import logging
import re
import time
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from config.geometry import load_geometry
from config.settings import Settings
from sinks import roles
from sinks.connect import connect
from sinks.postgres import seed_places

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
_FILE_NAME = re.compile(r"(\d{4})_([a-z0-9_]+)\.sql")
# Any constant works as long as every Redwall migrator uses the same one: it serialises them.
_ADVISORY_LOCK = 0x7265647761_6C6C  # "redwall"

SCHEMA_POLL_SECONDS = 2.0
# Whether this role may migrate: it owns the ledger (a superuser counts), or may create the first one.
_MAY_MIGRATE = """
SELECT CASE WHEN to_regclass('schema_migrations') IS NULL THEN has_schema_privilege(current_schema(), 'CREATE')
            ELSE pg_has_role((SELECT relowner FROM pg_class WHERE oid = to_regclass('schema_migrations')), 'USAGE') END
"""

_LEDGER = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version     integer PRIMARY KEY,
    name        text NOT NULL,
    applied_at  timestamptz NOT NULL DEFAULT now()
)
"""


class SchemaTooNew(RuntimeError):
    """The database holds migrations this code does not know: it was migrated by a newer Redwall."""


class SchemaNotReady(RuntimeError):
    """The database lacks migrations (or grants) this process needs, and nobody applied them in time."""


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


async def migrate(dsn: str, directory: Path = MIGRATIONS_DIR, *, role_secrets: str = "") -> list[str]:
    """Apply every migration the database lacks, then the roles and grants of sinks/grants.py; returns the
    ids applied (empty when up to date)."""
    conn = await asyncpg.connect(dsn)
    try:
        return await migrate_on(conn, directory, role_secrets=role_secrets)
    finally:
        await conn.close()


async def migrate_on(
    conn: asyncpg.Connection, directory: Path = MIGRATIONS_DIR, *, role_secrets: str = ""
) -> list[str]:
    """`migrate` on a connection of the caller's. With `role_secrets` (REDWALL_PG_ROLE_SECRETS_DIR) it also
    makes or updates the processes' login roles."""
    migrations = known_migrations(directory)
    if role_secrets:
        roles.read_passwords(role_secrets)  # a missing password file stops it before anything changes
    # A session lock, held across reading the ledger, applying and granting, so that two processes
    # starting together do not both apply the same file.
    await conn.execute("SELECT pg_advisory_lock($1)", _ADVISORY_LOCK)
    try:
        applied = await _apply_missing(conn, migrations)
        await roles.apply(conn, role_secrets)  # after every migration: a new table gets its grants at once
        return applied
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", _ADVISORY_LOCK)


async def prepare_schema(settings: Settings) -> None:
    """Before a process starts its work: the database holds every migration this code knows. The owner of
    the tables (the demo, the tests, a one-role setup) migrates it now; a process's own role cannot, and
    waits for `redwall migrate` up to REDWALL_CONNECT_TIMEOUT_SECONDS, then raises SchemaNotReady."""
    conn = await connect(settings)
    try:
        deadline = time.monotonic() + settings.connect_timeout_seconds
        while missing := await _missing(conn):
            if await conn.fetchval(_MAY_MIGRATE):
                await migrate_on(conn, role_secrets=settings.pg_role_secrets_dir)
                return
            left = deadline - time.monotonic()
            if left <= 0:
                raise SchemaNotReady(
                    f"the database lacks {missing} after REDWALL_CONNECT_TIMEOUT_SECONDS="
                    f"{settings.connect_timeout_seconds:g}: run `redwall migrate` as the owner of its tables"
                )
            log.warning(
                "the database lacks %s: waiting for `redwall migrate` (run as the owner), giving up in "
                "%.0f s (REDWALL_CONNECT_TIMEOUT_SECONDS)",
                missing,
                left,
            )
            await asyncio.sleep(min(SCHEMA_POLL_SECONDS, left))
    finally:
        await conn.close()


async def _missing(conn: asyncpg.Connection) -> str:
    """What this code needs and the database lacks, in words; empty when it lacks nothing."""
    migrations = known_migrations()
    try:
        rows = await conn.fetch("SELECT version, name FROM schema_migrations")
    except asyncpg.UndefinedTableError:
        return "every migration"
    except asyncpg.InsufficientPrivilegeError:
        return "this role's grants (it may not read schema_migrations)"
    applied = {r["version"]: r["name"] for r in rows}
    _refuse_unknown(applied, migrations)
    pending = [m.id for m in migrations if m.version not in applied]
    return f"migration{'s' * (len(pending) > 1)} {', '.join(pending)}" if pending else ""


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
    """`redwall migrate`: migrate, make the roles and grants, then upsert the places from the configured geometry."""
    conn = await connect(settings)
    try:
        applied = await migrate_on(conn, role_secrets=settings.pg_role_secrets_dir)
        places = await seed_places(conn, load_geometry(settings.geometry_path))
    finally:
        await conn.close()
    log.info("seeded %d places from %s", places, settings.geometry_path)
    return applied
