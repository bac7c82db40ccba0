"""Retention of personal data: drops whole days of position history older than the retention, makes the
days ahead, and deletes stale latest positions, GPS flags and dead letters. Run hourly by `redwall sink`
and on demand by `redwall retention [--dry-run]`; one run at a time across processes."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

import asyncpg

from config.settings import Settings
from sinks.partitions import Window, create_partitions, existing_partitions, utc_day

log = logging.getLogger(__name__)

# Any constant works while every Redwall process uses the same: it keeps two runs from overlapping.
ADVISORY_LOCK = 0x7265647761_7274  # "redwa" "rt"
DROP_LOCK_TIMEOUT = "5s"  # dropping a partition locks `positions`; never queue every insert behind it

# Tables handled row by row: (the rows, given $1 = the cut-off; what becomes of them). Few rows each:
# one per device, per refused fix, per status change or per refused record. dead_letters is not
# partitioned: its key (topic, partition, offset) has no time in it, and failed_at is the worker's
# clock, not stable across a replay. Patrol status changes stay as the audit trail; the fix each one
# carried is position history, so its location goes.
_ROWS = {
    "latest_positions": ("event_time < $1", "DELETE FROM latest_positions WHERE {}"),
    "position_flags": ("event_time < $1", "DELETE FROM position_flags WHERE {}"),
    "patrol_events": (
        "event_time < $1 AND lat IS NOT NULL",
        "UPDATE patrol_events SET lat = NULL, lng = NULL, accuracy = NULL WHERE {}",
    ),
    "dead_letters": ("failed_at < $1", "DELETE FROM dead_letters WHERE {}"),
}


class NotMigrated(RuntimeError):
    """The database lacks migration 0006 or 0009: run `redwall migrate` first."""


@dataclass(frozen=True)
class RetentionPolicy:
    position_days: int = Settings.position_retention_days
    days_ahead: int = Settings.position_days_ahead
    dead_letter_days: int = Settings.dead_letter_retention_days

    @classmethod
    def from_settings(cls, settings: Settings) -> RetentionPolicy:
        return cls(settings.position_retention_days, settings.position_days_ahead, settings.dead_letter_retention_days)

    def cutoffs(self, now: datetime) -> dict[str, datetime]:
        """Rows older than these go, per table. Position data goes by whole UTC day, like the partitions."""
        first_day = Window.at(now, self.position_days, self.days_ahead).first
        positions = datetime.combine(first_day, time(), UTC)
        return {
            "latest_positions": positions,
            "position_flags": positions,
            "patrol_events": positions,
            "dead_letters": now - timedelta(days=self.dead_letter_days),
        }


@dataclass
class RetentionResult:
    dry_run: bool
    skipped: bool = False  # another process was running retention: nothing done
    dropped: dict[str, int] = field(default_factory=dict)  # partition -> rows it held
    created: list[date] = field(default_factory=list)
    removed: dict[str, int] = field(default_factory=dict)  # table -> rows deleted (patrol_events: located)

    def summary(self) -> str:
        if self.skipped:
            return "retention: skipped, another process holds the retention lock"
        drop, remove = ("would drop", "would remove") if self.dry_run else ("dropped", "removed")
        parts = ", ".join(f"{name} ({rows} rows)" for name, rows in self.dropped.items()) or "no partitions"
        rows = ", ".join(f"{n} from {table}" for table, n in self.removed.items())
        made = ", ".join(f"{d:%Y-%m-%d}" for d in self.created) or "none"
        return f"retention: {drop} {parts}; {remove} rows: {rows}; partitions made ahead: {made}"


async def apply_retention(
    conn: asyncpg.Connection, policy: RetentionPolicy, now: datetime | None = None, *, dry_run: bool = False
) -> RetentionResult:
    """One retention run on `conn` (outside a transaction). Repeating it changes nothing more."""
    now = now or datetime.now(UTC)
    if await conn.fetchval("SELECT to_regprocedure('positions_drop_partition(date)')") is None:
        raise NotMigrated(
            "the database lacks the partitions of the position history or their functions "
            "(migrations 0006, 0009): run `redwall migrate` first"
        )
    if not await conn.fetchval("SELECT pg_try_advisory_lock($1)", ADVISORY_LOCK):
        return RetentionResult(dry_run, skipped=True)
    try:
        result = RetentionResult(dry_run)
        window = Window.at(now, policy.position_days, policy.days_ahead)
        await _drop_expired(conn, window.first, result)
        if not dry_run:
            async with conn.transaction():
                result.created = await create_partitions(conn, Window(utc_day(now), window.last).days())
        for table, cutoff in policy.cutoffs(now).items():
            result.removed[table] = await _remove_older(conn, table, cutoff, dry_run)
        return result
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", ADVISORY_LOCK)


async def _drop_expired(conn: asyncpg.Connection, first_kept: date, result: RetentionResult) -> None:
    for day, name in sorted((await existing_partitions(conn)).items()):
        if day >= first_kept:
            break
        # Counted before the drop, outside its lock: the sink stores no fix in an expired day. Through the
        # parent, and dropped by the owner's function: the sink's role owns no partition (sinks/grants.py).
        start = datetime.combine(day, time(), UTC)
        rows = await conn.fetchval(
            "SELECT count(*) FROM positions WHERE event_time >= $1 AND event_time < $2",
            start,
            start + timedelta(days=1),
        )
        if not result.dry_run:
            try:
                async with conn.transaction():
                    await conn.execute(f"SET LOCAL lock_timeout = '{DROP_LOCK_TIMEOUT}'")
                    await conn.execute("SELECT positions_drop_partition($1)", day)
            except asyncpg.LockNotAvailableError:
                # A long query on `positions` holds it: this day goes at the next run, the others now.
                log.warning("retention: partition %s is busy, dropping it at the next run", name)
                continue
            log.info("retention: dropped partition %s (%d rows, UTC day %s)", name, rows, day)
        result.dropped[name] = rows


async def _remove_older(conn: asyncpg.Connection, table: str, cutoff: datetime, dry_run: bool) -> int:
    rows, action = _ROWS[table]
    if dry_run:
        return await conn.fetchval(f"SELECT count(*) FROM {table} WHERE {rows}", cutoff)
    status = await conn.execute(action.format(rows), cutoff)
    return int(status.rsplit(" ", 1)[1])  # "DELETE <n>" / "UPDATE <n>"


async def run_once(settings: Settings, *, dry_run: bool = False) -> RetentionResult:
    """`redwall retention [--dry-run]`: one run on a connection of its own."""
    conn = await asyncpg.connect(settings.database_dsn)
    try:
        return await apply_retention(conn, RetentionPolicy.from_settings(settings), dry_run=dry_run)
    finally:
        await conn.close()
