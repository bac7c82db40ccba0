"""Whether PostgreSQL and Kafka answer, and, when they do not, one line naming the setting used, where its
value came from, and the fix: what every `redwall` command prints in place of a traceback."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from urllib.parse import urlsplit

import asyncpg
from aiokafka.errors import KafkaConnectionError, KafkaTimeoutError

from config.addresses import FILE_NAME
from config.kafka_security import uses_sasl
from config.pg_security import masked
from config.settings import Settings
from sinks.connect import GaveUp, connect
from sinks.migrate import SchemaNotReady, SchemaTooNew
from streams.topics import kafka_reason, wait_for_broker

# Where a variable's value came from, e.g. "set in the environment"; given by the CLI, which knows.
Origin = Callable[[str], str]
NEXT_TO_DEMO = f"next to a running `redwall demo`, run this from its directory (it writes {FILE_NAME} there)"


class Unreachable(Exception):
    """PostgreSQL or Kafka did not answer; the message is the one line to print."""


async def check(
    settings: Settings, needs: tuple[str, ...], origin: Origin, patience: float = 0.0, *, kafka: dict | None = None
) -> None:
    """Unreachable unless every service in `needs` ("postgres", "kafka") answers within `patience`
    seconds (services starting beside them wait, logging each failed attempt; a person at a prompt does not)."""
    if "postgres" in needs:
        try:
            conn = await connect(settings, patience)
        except GaveUp as error:
            raise Unreachable(postgres_line(settings, origin, error)) from None
        await conn.close()
    if "kafka" in needs:
        quiet = logging.getLogger("aiokafka")
        level, quiet.level = quiet.level, logging.CRITICAL  # its own lines per failed try; ours are enough
        try:
            admin = await wait_for_broker(settings, timeout=patience, kafka=kafka)
        except GaveUp as error:
            raise Unreachable(kafka_line(settings, origin, error)) from None
        finally:
            quiet.setLevel(level)
        await admin.close()


def explain(error: BaseException, settings: Settings, origin: Origin) -> str | None:
    """The one line for an error met while talking to PostgreSQL or Kafka, None for any other error."""
    if isinstance(error, GaveUp):
        return (kafka_line if error.service == "Kafka" else postgres_line)(settings, origin, error)
    if isinstance(error, (KafkaConnectionError, KafkaTimeoutError)):
        return kafka_line(settings, origin, error)
    if isinstance(error, (SchemaNotReady, SchemaTooNew)):
        return f"{error} (DATABASE_URL={masked(settings.database_url)}, {origin('DATABASE_URL')})"
    if isinstance(error, asyncpg.UndefinedTableError):
        return (
            f"the database at DATABASE_URL={masked(settings.database_url)} ({origin('DATABASE_URL')}) has no "
            f"Redwall tables ({error}): run `redwall migrate` first"
        )
    if isinstance(error, asyncpg.InsufficientPrivilegeError):
        user = urlsplit(settings.database_url).username or "(the default user)"
        return (
            f"PostgreSQL refused role {user} of DATABASE_URL={masked(settings.database_url)} "
            f"({origin('DATABASE_URL')}): {_why(error)}. Each Redwall process may do only its own part "
            f"(sinks/grants.py); run this as the owner, the role `redwall migrate` runs as"
        )
    if _from_postgres(error):
        return postgres_line(settings, origin, error)
    return None


def postgres_line(settings: Settings, origin: Origin, error: BaseException) -> str:
    last, within = _last(error)
    if isinstance(last, asyncpg.InvalidAuthorizationSpecificationError):
        fix = (
            "Check the user in DATABASE_URL and its password (REDWALL_PG_PASSWORD_FILE); the login role of each "
            "process is made by `redwall migrate` run as the owner with REDWALL_PG_ROLE_SECRETS_DIR"
        )
    else:
        fix = "Start PostgreSQL there or set DATABASE_URL" + (_LONGER if within else "")
    return (
        f"cannot reach PostgreSQL at DATABASE_URL={masked(settings.database_url)} ({origin('DATABASE_URL')})"
        f"{within}: {_why(last)}. {fix}; {NEXT_TO_DEMO}"
    )


def kafka_line(settings: Settings, origin: Origin, error: BaseException) -> str:
    last, within = _last(error)
    login = (
        " (with SASL a refused login looks the same: check REDWALL_KAFKA_USERNAME and its password)"
        if uses_sasl(settings)
        else ""
    )
    return (
        f"cannot reach Kafka at REDWALL_BROKER={settings.broker} ({origin('REDWALL_BROKER')}){within}: "
        f"{_why(last)}{login}. Start the broker there or set REDWALL_BROKER{_LONGER if within else ''}; "
        f"{NEXT_TO_DEMO}"
    )


_LONGER = ", or give it longer with REDWALL_CONNECT_TIMEOUT_SECONDS"


def _last(error: BaseException) -> tuple[BaseException, str]:
    """The failure itself, and " within REDWALL_CONNECT_TIMEOUT_SECONDS=N" when it was waited for."""
    if isinstance(error, GaveUp):
        return error.last, f" within REDWALL_CONNECT_TIMEOUT_SECONDS={error.seconds:g}" if error.seconds else ""
    return error, ""


def _from_postgres(error: BaseException) -> bool:
    """A connection error raised inside asyncpg (OSError and TimeoutError carry no sign of who met them)."""
    if isinstance(
        error,
        (
            asyncpg.PostgresConnectionError,
            asyncpg.InvalidAuthorizationSpecificationError,
            asyncpg.InvalidCatalogNameError,
            asyncpg.CannotConnectNowError,
        ),
    ):
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
    return kafka_reason(error)
