"""Major-event periods put in force at run time (`redwall major-event start`: a control record on every
partition of the actions topic), stored by the sink with how far into that topic it has read, so that
a worker's rebuild still knows a period long after the topic dropped the record."""

from __future__ import annotations

from datetime import datetime

import asyncpg

from sinks.incident_history import Progress, record_progress, written_offsets
from sinks.postgres import transaction

# Sent to every partition, so one command arrives as several records: one row. A later command with
# the same id (a period extended or cut short) replaces it, as it does in the engine.
_UPSERT = """
INSERT INTO runtime_major_events (topic, id, name, starts, ends, deadline_factor, commanded_at)
SELECT DISTINCT ON (id) $1, * FROM unnest($2::text[], $3::text[], $4::timestamptz[], $5::timestamptz[],
                                          $6::float8[], $7::timestamptz[]) AS t(id, name, starts, ends, factor, at)
ORDER BY id, at DESC
ON CONFLICT (topic, id) DO UPDATE SET name = excluded.name, starts = excluded.starts, ends = excluded.ends,
    deadline_factor = excluded.deadline_factor, commanded_at = excluded.commanded_at
WHERE excluded.commanded_at >= runtime_major_events.commanded_at
"""


class MajorEventSink:
    """Writes the major-event control records of one batch of the actions topic (the sink's decoder
    keeps only those) and how far the batch goes, even when it held none."""

    def __init__(self, pool: asyncpg.Pool):
        self.pool = pool

    async def write(self, controls: list[dict], progress: Progress) -> dict[str, int]:
        rows = [
            (
                c["period"]["id"],
                c["period"]["name"],
                datetime.fromisoformat(c["period"]["start"]),
                datetime.fromisoformat(c["period"]["end"]),
                float(c["period"]["deadline_factor"]),
                datetime.fromisoformat(c["time"]),
            )
            for c in controls
        ]
        async with transaction(self.pool) as conn:
            status = "INSERT 0 0"
            if rows:
                status = await conn.execute(_UPSERT, progress.topic, *[list(column) for column in zip(*rows)])
            await record_progress(conn, progress)
        return {"runtime_major_events": int(status.rsplit(" ", 1)[1])}


async def runtime_periods(pool: asyncpg.Pool, topic: str, epoch: str) -> tuple[list[dict], dict[int, int]]:
    """The periods stored from `topic`, as control records' periods, and the offsets they are complete
    up to (read in one snapshot)."""
    async with pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
        offsets = await written_offsets(conn, topic, epoch)
        rows = await conn.fetch(
            "SELECT id, name, starts, ends, deadline_factor FROM runtime_major_events "
            "WHERE topic = $1 ORDER BY commanded_at, id",
            topic,
        )
    periods = [
        {
            "id": r["id"],
            "name": r["name"],
            "start": r["starts"].isoformat(),
            "end": r["ends"].isoformat(),
            "deadline_factor": r["deadline_factor"],
        }
        for r in rows
    ]
    return periods, offsets
