"""Daily partitions of the position history (one per UTC day of event_time, migration 0006): which days
a fix may be stored in, and creating a missing day's partition before the sink inserts into it."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import asyncpg
from prometheus_client import CollectorRegistry, Counter

from config.settings import Settings

PREFIX = "positions_"
# Creating a partition locks the parent table: a long query on `positions` must not leave every
# insert queued behind the CREATE, so it gives up (retriable: the batch is retried with backoff).
LOCK_TIMEOUT = "5s"
_CREATE = "SELECT day FROM unnest($1::date[]) AS day WHERE positions_create_partition(day)"
# Partitions of `positions` (the one the search path finds), by name.
PARTITIONS_SQL = """
SELECT c.relname AS name
FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
WHERE i.inhparent = 'positions'::regclass
ORDER BY c.relname
"""


def utc_day(when: datetime) -> date:
    return when.astimezone(UTC).date()


def partition_name(day: date) -> str:
    # Padded by hand: strftime's %Y does not pad years before 1000 on glibc, to_char's YYYY does.
    return f"{PREFIX}{day.year:04d}{day.month:02d}{day.day:02d}"


def partition_day(name: str) -> date | None:
    """The UTC day a partition holds, or None for a table not made by positions_create_partition."""
    digits = name.removeprefix(PREFIX)
    if name == digits or len(digits) != 8 or not digits.isdigit():
        return None
    try:
        return date(int(digits[:4]), int(digits[4:6]), int(digits[6:]))
    except ValueError:
        return None


@dataclass(frozen=True)
class Window:
    """The UTC days a fix may be stored in: from the first day not yet expired to the last made ahead."""

    first: date
    last: date

    @classmethod
    def at(cls, now: datetime, retention_days: int, days_ahead: int) -> Window:
        # A day is expired once all of it is older than the retention: its end <= now - retention.
        return cls(utc_day(now - timedelta(days=retention_days)), utc_day(now + timedelta(days=days_ahead)))

    def days(self) -> list[date]:
        return [self.first + timedelta(days=n) for n in range((self.last - self.first).days + 1)]


@dataclass
class PositionHistory:
    """The sink's view of the partitions: keeps fixes inside the retention window, counts the rest,
    and creates each missing day once (it remembers the days it knows exist)."""

    retention_days: int = Settings.position_retention_days
    days_ahead: int = Settings.position_days_ahead
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)
    now: Callable[[], datetime] = lambda: datetime.now(UTC)
    known: set[date] = field(default_factory=set)

    def __post_init__(self):
        self.refused = Counter(
            "redwall_positions_refused",
            "fixes not stored: stamped before the retention window (expired) "
            "or after the partitions made ahead (future)",
            ["reason"],
            registry=self.registry,
        )
        for reason in ("expired", "future"):
            self.refused.labels(reason)

    @classmethod
    def from_settings(cls, settings: Settings, registry: CollectorRegistry) -> PositionHistory:
        return cls(settings.position_retention_days, settings.position_days_ahead, registry)

    def window(self) -> Window:
        return Window.at(self.now(), self.retention_days, self.days_ahead)

    def admit(self, rows: list[tuple], time_index: int = 1) -> tuple[list[tuple], set[date]]:
        """The rows inside the window and the days they fall on; the others are counted, not stored."""
        window, kept, days = self.window(), [], set()
        expired = future = 0
        for row in rows:
            day = utc_day(row[time_index])
            if day < window.first:
                expired += 1
            elif day > window.last:
                future += 1
            else:
                kept.append(row)
                days.add(day)
        self.refused.labels("expired").inc(expired)
        self.refused.labels("future").inc(future)
        return kept, days

    def missing(self, days: Iterable[date]) -> list[date]:
        """The days this sink has not yet made sure of; `made_sure` after creating them."""
        return sorted(set(days) - self.known)

    def made_sure(self, days: Iterable[date]) -> None:
        self.known.update(days)

    def forget(self) -> None:
        """After an insert found no partition (dropped by hand, or by a job on a clock ahead of ours)."""
        self.known.clear()


async def create_partitions(conn: asyncpg.Connection, days: list[date]) -> list[date]:
    """Create the partitions of `days` that do not exist; returns those made. Call inside a
    transaction and commit soon: creating one holds a lock on `positions` until the commit."""
    await conn.execute(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
    return [r["day"] for r in await conn.fetch(_CREATE, days)]


async def existing_partitions(conn: asyncpg.Connection) -> dict[date, str]:
    """Every daily partition of `positions`, by day (tables of other names are left alone)."""
    names = [r["name"] for r in await conn.fetch(PARTITIONS_SQL)]
    return {day: name for name in names if (day := partition_day(name)) is not None}
