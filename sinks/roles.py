"""Applying sinks/grants.py: the processes' login roles made or updated from their password files, then
exactly the declared grants, in the transaction `redwall migrate` runs after its migrations."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path

import asyncpg

from config.errors import ConfigError
from sinks import scram
from sinks.grants import PROCESSES, TEMPORARY, function_grants, role, table_grants

log = logging.getLogger(__name__)

# Attributes a process's role must not have: each would reach past its grants.
_POWERS = ("rolsuper", "rolcreaterole", "rolcreatedb", "rolreplication", "rolbypassrls")
# Tables and views of the schema (partitions go with their table).
RELATIONS = """
SELECT c.relname FROM pg_class c
WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind IN ('r', 'p', 'v', 'm', 'f') AND NOT c.relispartition
ORDER BY 1"""


def read_passwords(directory: str) -> dict[str, str]:
    """login role -> password, from the files in `directory`; a missing or unusable file is a ConfigError."""
    passwords = {}
    for name, file in PROCESSES.values():
        path = Path(directory) / file
        try:
            password = path.read_text(encoding="utf-8").rstrip("\r\n")
        except FileNotFoundError:
            files = ", ".join(f for _, f in PROCESSES.values())
            raise ConfigError(
                f"{path}: no such file; REDWALL_PG_ROLE_SECRETS_DIR must hold {files} "
                f"(e.g. `openssl rand -base64 24 > {path}`)"
            ) from None
        except (OSError, UnicodeDecodeError) as error:
            raise ConfigError(
                f"{path}: cannot read the password of role {name} ({error}); make it a readable UTF-8 text file"
            ) from None
        if not password or "\0" in password:
            raise ConfigError(f"{path}: the password of role {name} is empty or holds a NUL; write one in the file")
        passwords[name] = password
    return passwords


async def apply(conn: asyncpg.Connection, secrets_dir: str = "") -> dict[str, str]:
    """Make or update the login roles (with `secrets_dir`), then grant what sinks/grants.py declares to every
    process role that exists; one transaction. Returns role -> what happened to its login."""
    passwords = read_passwords(secrets_dir) if secrets_dir else {}
    async with conn.transaction():
        done = {name: await _login(conn, name, password) for name, password in passwords.items()}
        present = [
            r["rolname"]
            for r in await conn.fetch(
                "SELECT rolname FROM pg_roles WHERE rolname = ANY($1::text[])", [name for name, _ in PROCESSES.values()]
            )
        ]
        await _refuse_powers(conn, present)
        await _grant(conn, present)
    for name, what in done.items():
        log.info("role %s: %s", name, what)
    return done


async def _login(conn: asyncpg.Connection, name: str, password: str) -> str:
    stored = None
    if await conn.fetchval("SELECT has_table_privilege('pg_authid', 'SELECT')"):  # a superuser: compare first
        stored = await conn.fetchval("SELECT rolpassword FROM pg_authid WHERE rolname = $1", name)
    exists = await conn.fetchval("SELECT true FROM pg_roles WHERE rolname = $1", name)
    if exists and scram.matches(password, stored):
        await conn.execute(f"ALTER ROLE {_ident(name)} LOGIN")
        return "password unchanged"
    secret = scram.verifier(password)  # base64, digits, "$" and ":" only: a plain literal holds it
    await conn.execute(f"{'ALTER' if exists else 'CREATE'} ROLE {_ident(name)} LOGIN PASSWORD '{secret}'")
    return "password set" if exists else "made"


async def _refuse_powers(conn: asyncpg.Connection, present: list[str]) -> None:
    rows = await conn.fetch(
        f"""
        SELECT r.rolname, {", ".join(_POWERS)},
               array(SELECT g.rolname FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid
                     WHERE m.member = r.oid ORDER BY 1) AS member_of
        FROM pg_roles r WHERE r.rolname = ANY($1::text[])""",
        present,
    )
    for row in rows:
        powers = [p.removeprefix("rol").upper() for p in _POWERS if row[p]]
        if powers or row["member_of"]:
            held = ", ".join(powers + [f"member of {g}" for g in row["member_of"]])
            raise ConfigError(
                f"PostgreSQL role {row['rolname']} holds more than its grants ({held}): a Redwall "
                f"process must not; take it away (ALTER ROLE {row['rolname']} NO..., REVOKE ... FROM "
                f"{row['rolname']}) or drop the role, then run `redwall migrate` again"
            )


async def _grant(conn: asyncpg.Connection, present: list[str]) -> None:
    schema, database = (
        _ident(await conn.fetchval("SELECT current_schema()")),
        _ident(await conn.fetchval("SELECT current_database()")),
    )
    # What exists: a database migrated to an earlier version (a test's) lacks some of what is declared.
    existing = {r["relname"] for r in await conn.fetch(RELATIONS)}
    tables = {table: holders for table, holders in table_grants().items() if table in existing}
    functions = {
        f: holders
        for f, holders in function_grants().items()
        if await conn.fetchval("SELECT to_regprocedure(quote_ident(current_schema()) || '.' || $1) IS NOT NULL", f)
    }
    statements = [f"REVOKE CREATE ON SCHEMA {schema} FROM PUBLIC"]
    statements += [f"REVOKE ALL ON FUNCTION {schema}.{f} FROM PUBLIC" for f in functions]
    if present:  # a deployment with process roles: other logins may not even connect (the demo's stays as it was)
        statements.append(f"REVOKE ALL ON DATABASE {database} FROM PUBLIC")
    for name in present:
        statements += _take_all(name, schema, database)
        if name in map(role, TEMPORARY):
            statements.append(f"GRANT TEMPORARY ON DATABASE {database} TO {_ident(name)}")
        statements += [
            f"GRANT {', '.join(privileges)} ON {schema}.{_ident(table)} TO {_ident(name)}"
            for table, holders in tables.items()
            for held, privileges in holders.items()
            if held == name
        ]
        statements += [
            f"GRANT EXECUTE ON FUNCTION {schema}.{f} TO {_ident(name)}"
            for f, holders in functions.items()
            if name in holders
        ]
    for statement in statements:
        await conn.execute(statement)
    await _sequences(conn, tables, present)
    if missing := undeclared(existing):
        log.warning("tables not in sinks/grants.py, so no Redwall process may use them: %s", ", ".join(missing))


def undeclared(relations: Iterable[str]) -> list[str]:
    """Those of the schema's tables and views (RELATIONS) that sinks/grants.py does not mention: nobody
    decided who may use them."""
    return sorted(set(relations) - set(table_grants()))


def _take_all(name: str, schema: str, database: str) -> list[str]:
    """Whatever the role held (grants of earlier versions, default privileges of an old init script)."""
    who = _ident(name)
    kinds = ("TABLES", "SEQUENCES", "FUNCTIONS")
    return (
        [f"REVOKE ALL ON ALL {kind} IN SCHEMA {schema} FROM {who}" for kind in kinds]
        + [f"ALTER DEFAULT PRIVILEGES IN SCHEMA {schema} REVOKE ALL ON {kind} FROM {who}" for kind in kinds]
        + [
            f"REVOKE ALL ON DATABASE {database} FROM {who}",
            f"GRANT CONNECT ON DATABASE {database} TO {who}",
            f"GRANT USAGE ON SCHEMA {schema} TO {who}",
        ]
    )


async def _sequences(conn: asyncpg.Connection, tables: dict, present: list[str]) -> None:
    """USAGE of a table's own sequences (serial columns) for the roles that may insert into it."""
    rows = await conn.fetch("""
        SELECT t.relname AS table, s.oid::regclass::text AS sequence
        FROM pg_depend d JOIN pg_class s ON s.oid = d.objid AND s.relkind = 'S'
        JOIN pg_class t ON t.oid = d.refobjid
        WHERE d.deptype IN ('a', 'i') AND t.relnamespace = current_schema()::regnamespace""")
    for row in rows:
        for name in present:
            if "INSERT" in tables.get(row["table"], {}).get(name, ()):
                await conn.execute(f"GRANT USAGE ON SEQUENCE {row['sequence']} TO {_ident(name)}")


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'
