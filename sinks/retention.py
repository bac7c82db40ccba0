"""Retention of personal data: drops whole days of position history older than the retention, makes the
days ahead, and deletes stale latest positions, GPS flags, dead letters and 12345 orders (with their
events and clock alerts; the repeat-caller hash earlier). Run hourly by `redwall sink`
and on demand by `redwall retention [--dry-run]`; one run at a time across processes."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

import asyncpg

from config.hotline import load_hotline
from config.settings import Settings
from sinks.partitions import Window, create_partitions, existing_partitions, utc_day

log = logging.getLogger(__name__)

# Any constant works while every Redwall process uses the same: it keeps two runs from overlapping.
ADVISORY_LOCK = 0x7265647761_7274  # "redwa" "rt"
DROP_LOCK_TIMEOUT = "5s"  # dropping a partition locks `positions`; never queue every insert behind it

# Rows handled one by one, per name (a table, or what goes of its rows): (the table; the rows, given $1 =
# the cut-off; what becomes of them). Few rows each: one per device, per refused fix, per status change,
# per refused record, per 12345 order. dead_letters is not partitioned: its key (topic, partition,
# offset) has no time in it, and failed_at is the worker's clock, not stable across a replay. Patrol
# status changes stay as the audit trail; the fix each one carried is position history, so its location
# goes. A 12345 order goes with its events and clock alerts (those first: they name it), and an event
# whose order never came goes by its own time; its repeat-caller hash goes earlier, the masked number stays.
_EXPIRED_ORDER = "order_id IN (SELECT id FROM hotline_orders WHERE dispatched_at < $1)"
ROWS = {
    "latest_positions": ("latest_positions", "event_time < $1", "DELETE FROM latest_positions WHERE {}"),
    "position_flags": ("position_flags", "event_time < $1", "DELETE FROM position_flags WHERE {}"),
    "patrol_events": (
        "patrol_events",
        "event_time < $1 AND lat IS NOT NULL",
        "UPDATE patrol_events SET lat = NULL, lng = NULL, accuracy = NULL WHERE {}",
    ),
    "dead_letters": ("dead_letters", "failed_at < $1", "DELETE FROM dead_letters WHERE {}"),
    "hotline_order_events": (
        "hotline_order_events",
        f"{_EXPIRED_ORDER} OR (event_time < $1 AND order_id NOT IN (SELECT id FROM hotline_orders))",
        "DELETE FROM hotline_order_events WHERE {}",
    ),
    "hotline_clock_alerts": ("hotline_clock_alerts", _EXPIRED_ORDER, "DELETE FROM hotline_clock_alerts WHERE {}"),
    "hotline_orders": ("hotline_orders", "dispatched_at < $1", "DELETE FROM hotline_orders WHERE {}"),
    "hotline_contact_hash": (
        "hotline_orders",
        "dispatched_at < $1 AND contact_hash IS NOT NULL",
        "UPDATE hotline_orders SET contact_hash = NULL WHERE {}",
    ),
}


class NotMigrated(RuntimeError):
    """The database lacks migration 0006 or 0009: run `redwall migrate` first."""


@dataclass(frozen=True)
class RetentionPolicy:
    position_days: int = Settings.position_retention_days
    days_ahead: int = Settings.position_days_ahead
    dead_letter_days: int = Settings.dead_letter_retention_days
    # From config/hotline.toml [retention]; None leaves the 12345 orders alone.
    hotline_orders: timedelta | None = None
    contact_hash: timedelta | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> RetentionPolicy:
        hotline = load_hotline(settings.hotline_path)
        return cls(
            settings.position_retention_days,
            settings.position_days_ahead,
            settings.dead_letter_retention_days,
            hotline.keep_orders,
            hotline.keep_contact_hash,
        )

    def cutoffs(self, now: datetime) -> dict[str, datetime]:
        """Rows older than these go, per name of ROWS. Position data goes by whole UTC day, like the partitions."""
        first_day = Window.at(now, self.position_days, self.days_ahead).first
        positions = datetime.combine(first_day, time(), UTC)
        found = {
            "latest_positions": positions,
            "position_flags": positions,
            "patrol_events": positions,
            "dead_letters": now - timedelta(days=self.dead_letter_days),
        }
        # The hash first: a dry run then counts the same rows as the run.
        if self.contact_hash is not None:
            found["hotline_contact_hash"] = now - self.contact_hash
        if self.hotline_orders is not None:
            expired = now - self.hotline_orders
            found |= dict.fromkeys(("hotline_order_events", "hotline_clock_alerts", "hotline_orders"), expired)
        return found


@dataclass
class RetentionResult:
    dry_run: bool
    skipped: bool = False  # another process was running retention: nothing done
    dropped: dict[str, int] = field(default_factory=dict)  # partition -> rows it held
    created: list[date] = field(default_factory=list)
    # name of ROWS -> rows deleted (patrol_events: located; hotline_contact_hash: orders whose hash went)
    removed: dict[str, int] = field(default_factory=dict)

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
        for name, cutoff in policy.cutoffs(now).items():
            result.removed[name] = await _remove_older(conn, name, cutoff, dry_run)
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


async def _remove_older(conn: asyncpg.Connection, name: str, cutoff: datetime, dry_run: bool) -> int:
    table, rows, action = ROWS[name]
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
