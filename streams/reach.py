"""Whether PostgreSQL and Kafka answer, and, when they do not, one line naming the setting used, where its
value came from, and the fix: what every `redwall` command prints in place of a traceback."""

from __future__ import annotations

import asyncio
import logging
import re
import socket
import time
from typing import Callable

import asyncpg
from aiokafka.errors import KafkaConnectionError, KafkaTimeoutError

from config.addresses import FILE_NAME
from config.settings import Settings
from streams.topics import wait_for_broker

# Where a variable's value came from, e.g. "set in the environment"; given by the CLI, which knows.
Origin = Callable[[str], str]
NEXT_TO_DEMO = f"next to a running `redwall demo`, run this from its directory (it writes {FILE_NAME} there)"


class Unreachable(Exception):
    """PostgreSQL or Kafka did not answer; the message is the one line to print."""


async def check(settings: Settings, needs: tuple[str, ...], origin: Origin, patience: float = 0.0) -> None:
    """Unreachable unless every service in `needs` ("postgres", "kafka") answers within `patience`
    seconds (services starting beside them wait; a person at a prompt does not)."""
    if "postgres" in needs:
        await _retrying(lambda: _postgres(settings), patience, lambda e: postgres_line(settings, origin, e))
    if "kafka" in needs:
        quiet = logging.getLogger("aiokafka")
        level, quiet.level = quiet.level, logging.CRITICAL  # its own line per failed try; ours is enough
        try:
            admin = await wait_for_broker(settings, timeout=patience)
        except (KafkaConnectionError, KafkaTimeoutError, OSError) as error:
            raise Unreachable(kafka_line(settings, origin, error)) from None
        finally:
            quiet.setLevel(level)
        await admin.close()


def explain(error: BaseException, settings: Settings, origin: Origin) -> str | None:
    """The one line for an error met while talking to PostgreSQL or Kafka, None for any other error."""
    if isinstance(error, (KafkaConnectionError, KafkaTimeoutError)):
        return kafka_line(settings, origin, error)
    if isinstance(error, asyncpg.UndefinedTableError):
        return (f"the database at DATABASE_URL={masked(settings.database_url)} ({origin('DATABASE_URL')}) has no "
                f"Redwall tables ({error}): run `redwall migrate` first")
    if _from_postgres(error):
        return postgres_line(settings, origin, error)
    return None


def postgres_line(settings: Settings, origin: Origin, error: BaseException) -> str:
    return (f"cannot reach PostgreSQL at DATABASE_URL={masked(settings.database_url)} ({origin('DATABASE_URL')}): "
            f"{_why(error)}. Start PostgreSQL there or set DATABASE_URL; {NEXT_TO_DEMO}")


def kafka_line(settings: Settings, origin: Origin, error: BaseException) -> str:
    return (f"cannot reach Kafka at REDWALL_BROKER={settings.broker} ({origin('REDWALL_BROKER')}): "
            f"{_why(error)}. Start the broker there or set REDWALL_BROKER; {NEXT_TO_DEMO}")


def masked(url: str) -> str:
    """A DSN fit to print: its password replaced by ***."""
    return re.sub(r"(://[^:/@]*):[^@/]+@", r"\1:***@", url)


async def _postgres(settings: Settings) -> None:
    conn = await asyncpg.connect(settings.database_dsn, timeout=5)
    await conn.close()


async def _retrying(attempt, patience: float, line) -> None:
    deadline = time.monotonic() + patience
    while True:
        try:
            return await attempt()
        except (OSError, asyncio.TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
            if time.monotonic() >= deadline or isinstance(error, asyncpg.InvalidAuthorizationSpecificationError):
                raise Unreachable(line(error)) from None
            await asyncio.sleep(0.5)


def _from_postgres(error: BaseException) -> bool:
    """A connection error raised inside asyncpg (OSError and TimeoutError carry no sign of who met them)."""
    if isinstance(error, (asyncpg.PostgresConnectionError, asyncpg.InvalidAuthorizationSpecificationError,
                          asyncpg.InvalidCatalogNameError, asyncpg.CannotConnectNowError)):
        return True
    if not isinstance(error, (OSError, asyncio.TimeoutError, asyncpg.InterfaceError)):
        return False
    tb = error.__traceback__
    while tb is not None:
        if tb.tb_frame.f_globals.get("__name__", "").startswith("asyncpg"):
            return True
        tb = tb.tb_next
    return False


def _why(error: BaseException) -> str:
    if isinstance(error, ConnectionRefusedError) or "Errno 111" in str(error) or "refused" in str(error).lower():
        return "connection refused"
    if isinstance(error, socket.gaierror):
        return "unknown host name"
    if isinstance(error, (asyncio.TimeoutError, KafkaTimeoutError)):
        return "no answer in time"
    if isinstance(error, KafkaConnectionError):
        return "no broker answered"
    text = str(error).splitlines()[0] if str(error) else type(error).__name__
    return text[:200]
