"""A process's first connection to PostgreSQL (and, through streams/topics.py, to Kafka), tried again for
REDWALL_CONNECT_TIMEOUT_SECONDS: services started beside it (compose, systemd, Kubernetes) come up in any
order, and the postgres image's first start runs a server without TCP for a while before the real one.

Each failed attempt is one warning naming the setting and the address; when time is up, `GaveUp`,
which every `redwall` command prints as one line with the fix (streams/reach.py). A wait of 0 is one
attempt, silent: what a person at a prompt wants.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import asyncpg

from config.pg_security import masked
from config.settings import Settings

log = logging.getLogger(__name__)

T = TypeVar("T")
FIRST_PAUSE, LONGEST_PAUSE = 0.5, 2.0  # seconds between attempts: quick at first, then a line every 2 s
ATTEMPT_SECONDS = 5.0  # one attempt at most, so a server that takes the SYN but never answers is tried again


class GaveUp(Exception):
    """`service` at `setting`=`address` did not answer within `seconds`; `last` is the last failure."""

    def __init__(self, service: str, setting: str, address: str, seconds: float, last: BaseException):
        super().__init__(f"{service} at {setting}={address}: {reason(last)}")
        self.service, self.setting, self.address, self.seconds, self.last = service, setting, address, seconds, last


async def patiently(
    attempt: Callable[[], Awaitable[T]],
    *,
    seconds: float,
    service: str,
    setting: str,
    address: str,
    retriable: Callable[[BaseException], bool],
    why: Callable[[BaseException], str] | None = None,
) -> T:
    """`attempt()`'s result, trying again after each retriable failure until `seconds` have passed."""
    why = why or reason
    deadline, pause = time.monotonic() + seconds, FIRST_PAUSE
    while True:
        try:
            return await attempt()
        except Exception as error:
            left = deadline - time.monotonic()
            if not retriable(error):
                raise
            if left <= 0:
                raise GaveUp(service, setting, address, seconds, error) from None
            log.warning(
                "%s at %s=%s is not answering (%s): trying again in %.1f s, giving up in %.0f s "
                "(REDWALL_CONNECT_TIMEOUT_SECONDS=%g)",
                service,
                setting,
                address,
                why(error),
                min(pause, left),
                left,
                seconds,
            )
            await asyncio.sleep(min(pause, left))
            pause = min(pause * 2, LONGEST_PAUSE)


async def connect(settings: Settings, seconds: float | None = None) -> asyncpg.Connection:
    """A connection to DATABASE_URL, waiting up to `seconds` (default REDWALL_CONNECT_TIMEOUT_SECONDS)."""
    return await patiently(
        lambda: asyncpg.connect(settings.database_dsn, timeout=ATTEMPT_SECONDS),
        seconds=settings.connect_timeout_seconds if seconds is None else seconds,
        service="PostgreSQL",
        setting="DATABASE_URL",
        address=masked(settings.database_url),
        retriable=retriable,
    )


def retriable(error: BaseException) -> bool:
    """Whether connecting to PostgreSQL may succeed later. A missing role or database and a refused
    password are among them: `redwall migrate` (or the image's first start) may be making them now."""
    if isinstance(error, ssl.SSLCertVerificationError):
        return False  # a certificate from another CA, or for another name, does not mend itself
    if isinstance(error, asyncpg.InterfaceError):
        return not isinstance(error, ValueError)  # asyncpg's ClientConfigurationError: our DSN is wrong
    return isinstance(
        error,
        (
            OSError,
            asyncio.TimeoutError,
            asyncpg.PostgresConnectionError,
            asyncpg.CannotConnectNowError,
            asyncpg.InvalidAuthorizationSpecificationError,
            asyncpg.InvalidCatalogNameError,
            asyncpg.TooManyConnectionsError,
        ),
    )


def reason(error: BaseException) -> str:
    """A failure to connect, in a few words."""
    text = str(error)
    if isinstance(error, ConnectionRefusedError) or "Errno 111" in text or "refused" in text.lower():
        return "connection refused"
    if isinstance(error, socket.gaierror):
        return "unknown host name"
    if isinstance(error, asyncio.TimeoutError):
        return "no answer in time"
    return (text.splitlines()[0] if text else type(error).__name__)[:200]
