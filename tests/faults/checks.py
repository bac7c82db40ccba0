"""What the fault tests compare: the rows in PostgreSQL against what the load generators had accepted,
and, when something is missing, where along the pipeline it was last seen."""

from __future__ import annotations

from datetime import datetime

import asyncpg

from config.settings import Settings
from schemas import json
from streams.topics import read_topic
from tests.faults.load import Accepted


async def stored_pings(pg: asyncpg.Connection, since: datetime) -> set[tuple[str, datetime]]:
    rows = await pg.fetch("SELECT device_id, event_time FROM positions WHERE event_time >= $1", since)
    return {(r["device_id"], r["event_time"]) for r in rows}


async def stored_reports(pg: asyncpg.Connection, ids: set[str]) -> set[str]:
    return {r["id"] for r in await pg.fetch("SELECT id FROM reports WHERE id = ANY($1)", list(ids))}


async def everything_stored(pg: asyncpg.Connection, accepted: Accepted, since: datetime) -> bool:
    pings = await stored_pings(pg, since)
    return accepted.pings <= pings and accepted.reports <= await stored_reports(pg, accepted.reports)


async def pings_on_topic(settings: Settings, topic: str) -> set[tuple[str, datetime]]:
    found = set()
    async for record in read_topic(settings, topic):
        try:
            batch = json.loads(record.value)
            found.update((batch["device"], datetime.fromisoformat(p["time"])) for p in batch["pings"])
        except (json.JSONDecodeError, KeyError, TypeError, ValueError):
            continue  # a malformed record the worker dead-lettered
    return found


async def explain_missing(settings: Settings, pg: asyncpg.Connection, accepted: Accepted, since: datetime) -> str:
    """Which accepted pings and reports are not in Postgres, and whether the worker published them."""
    missing = accepted.pings - await stored_pings(pg, since)
    reports = accepted.reports - await stored_reports(pg, accepted.reports)
    if not missing and not reports:
        return ""
    on_input = await pings_on_topic(settings, settings.topic_pings)
    on_output = await pings_on_topic(settings, settings.topic_positions)
    devices = sorted({d for d, _ in missing})
    where = {
        topic: await ids_on_topic(settings, topic, reports)
        for topic in (
            settings.topic_reports,
            settings.topic_located_reports,
            settings.topic_incidents,
            settings.topic_deadletter,
        )
    }
    return (
        f"{len(missing)} accepted pings of {len(devices)} devices missing from Postgres (e.g. {sorted(missing)[:3]}); "
        f"on {settings.topic_pings}: {len(missing & on_input)}, published on {settings.topic_positions} by the "
        f"worker: {len(missing & on_output)}; {len(reports)} accepted reports missing: {sorted(reports)[:5]}, "
        f"found on: {where}"
    )


async def ids_on_topic(settings: Settings, topic: str, ids: set[str]) -> list[str]:
    """Where each of these report ids appears on a topic: 'partition@offset'."""
    found = []
    async for record in read_topic(settings, topic):
        if any(i.encode() in record.value for i in ids):
            found.append(f"{record.partition}@{record.offset}")
    return found
