"""What `redwall demo` tells its user: where everything runs (the banner), and at the end what the day
amounted to (the summary, counted in PostgreSQL from the demo's start). Times are the street's, to the
minute."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from pathlib import Path

import asyncpg

from config.addresses import FILE_NAME
from config.settings import Settings
from schemas.display import local_minute
from streams.demo import day as demo_day
from streams.reach import masked

# What the day amounted to, each counted from the demo's start ($1).
COUNTS = {
    "reports": "SELECT count(*) FROM reports WHERE received_at >= $1",
    "pings": "SELECT count(*) FROM positions WHERE event_time >= $1",
    "deadletters": "SELECT count(*) FROM dead_letters WHERE received_at >= $1",
    "incidents": "SELECT count(*) FROM incidents WHERE opened_at >= $1",
    "open": "SELECT count(*) FROM incidents WHERE opened_at >= $1 AND status IN ('assigned', 'acknowledged')",
    "resolved": "SELECT count(*) FROM incidents WHERE opened_at >= $1 AND status = 'resolved'",
    "escalated": "SELECT count(DISTINCT incident_id) FROM incident_events WHERE event_time >= $1 AND kind = 'escalated'",
    "hotline": "SELECT count(*) FROM hotline_orders WHERE stored_at >= $1",
    "tasks": "SELECT count(*) FROM tasks WHERE created_at >= $1",
    "tasks_done": "SELECT count(*) FROM tasks WHERE created_at >= $1 AND status = 'done'",
    "tasks_arrived": "SELECT count(*) FROM tasks WHERE created_at >= $1 AND arrived_at IS NOT NULL",
}
SETTLING = ("reports", "pings", "deadletters", "hotline")  # still arriving for a moment after the phones stop


def banner(
    settings: Settings,
    *,
    started: datetime,
    workdir: Path,
    consoles: dict[str, tuple[str, str]],
    own: dict[str, bool],
    dispatchers: bool,
) -> str:
    ingest = f"http://{settings.web_host}:{settings.web_port}"
    console = f"http://{settings.web_host}:{settings.console_port}/?token="
    broker = "its own Tansu, in memory" if own["broker"] else "REDWALL_BROKER"
    database = "its own, deleted at the end" if own["postgres"] else "DATABASE_URL"
    acting = "simulated dispatchers act on incidents" if dispatchers else "nobody acts on incidents but you"
    return (
        f"\nRedwall is running since {local_minute(started, settings.timezone)} ({settings.timezone}); "
        f"a {demo_day.DAY_HOURS}-hour working day takes {demo_day.DAY_HOURS * 60 // demo_day.COMPRESSION} minutes "
        f"(deadlines and report rate x{demo_day.COMPRESSION}); {acting}.\n"
        f"  Kafka broker           {settings.broker}  ({broker})\n"
        f"  PostgreSQL             {masked(settings.database_url)}  ({database})\n"
        f"  ingest API             {ingest}/v1/reports  {ingest}/v1/pings  {ingest}/v1/hotline/orders\n"
        f"  worker metrics         http://{settings.web_host}:{settings.worker_metrics_port}/metrics\n"
        f"  sink metrics           http://{settings.web_host}:{settings.sink_metrics_port}/metrics\n"
        f"  delivery metrics       http://{settings.web_host}:{settings.deliver_metrics_port}/metrics\n"
        + "".join(f"  {'console ' + name:<22} {console}{token}  ({note})\n" for name, (token, note) in consoles.items())
        + f"  device tokens          {workdir}/device-tokens (0600; `redwall devices list|add|revoke`)\n"
        f"  webhooks               {settings.routing_path} -> {workdir}/inbox.log\n"
        f"  logs                   {workdir}/{{worker,sink,deliver,console,inbox,simulate,dispatchers,hotline}}.log\n"
        f"  other commands         `redwall devices add ...`, `redwall settings` ... run in this directory read\n"
        f"                         ./{FILE_NAME} (removed when the demo stops; the environment's variables win)\n"
        "Press Ctrl-C to stop.\n"
    )


def summary(settings: Settings, started: datetime, *, settle: bool = True) -> str:
    """Two lines: the day in the street's time and in words, then `summary: reports=N ...` (the last line)."""
    counts = asyncio.run(_counts(settings.database_dsn, started, settle))
    ended = datetime.now(UTC)
    day = (
        f"the demo's day, {local_minute(started, settings.timezone)} to {local_minute(ended, settings.timezone)} "
        f"({settings.timezone}): incidents opened {counts['incidents']}, resolved {counts['resolved']}, "
        f"escalated {counts['escalated']}, still open {counts['open']}; 12345 orders {counts['hotline']}; "
        f"tasks to a person {counts['tasks']}, done {counts['tasks_done']}, arrival confirmed by GPS "
        f"{counts['tasks_arrived']}"
    )
    figures = {
        "reports": counts["reports"],
        "pings": counts["pings"],
        "rows": counts["reports"] + counts["pings"],
        "deadletters": counts["deadletters"],
        "incidents": counts["incidents"],
        "open": counts["open"],
        "hotline": counts["hotline"],
    }
    return day + "\nsummary: " + " ".join(f"{k}={v}" for k, v in figures.items())


async def _counts(dsn: str, since: datetime, settle: bool, quiet: float = 3.0, limit: float = 60.0) -> dict[str, int]:
    """The counts once those still arriving stop changing (the pipeline has drained what the phones sent)."""
    conn = await asyncpg.connect(dsn)
    try:
        last, stable_since, started = None, time.monotonic(), time.monotonic()
        while True:
            now = {name: await conn.fetchval(sql, since) for name, sql in COUNTS.items()}
            settled = {k: now[k] for k in SETTLING}
            if settled != last:
                last, stable_since = settled, time.monotonic()
            if not settle or time.monotonic() - stable_since >= quiet or time.monotonic() - started >= limit:
                return now
            await asyncio.sleep(0.5)
    finally:
        await conn.close()
