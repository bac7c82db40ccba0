"""The incident history in PostgreSQL as the escalation engine rebuilds from it: how far the sink has
written into each partition of a topic (recorded in the transaction that wrote the rows), and, as of
that point, the incidents of some communities, the report and action ids they have seen, and the
reports of the unlocated queue."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta

import asyncpg

from schemas import json


@dataclass(frozen=True)
class Progress:
    """How far a written batch goes: per partition of `topic`, the offset after its last record, in the
    log of broker epoch `epoch` (offsets start again at 0 when the broker loses its log)."""

    topic: str
    epoch: str
    offsets: Mapping[int, int]


# Never backwards within an epoch: a consumer that took over a partition replays from the committed
# offset, which may lie below what was written already. A new epoch starts the count afresh.
_RECORD = """
INSERT INTO sink_offsets (topic, partition, epoch, next_offset)
SELECT $1, p, $2, o FROM unnest($3::int4[], $4::int8[]) AS t(p, o)
ON CONFLICT (topic, partition) DO UPDATE SET
    next_offset = CASE WHEN sink_offsets.epoch = excluded.epoch
                       THEN greatest(sink_offsets.next_offset, excluded.next_offset) ELSE excluded.next_offset END,
    epoch = excluded.epoch, updated_at = now()
"""
# The newest state event of every open incident of the communities, and of every one closed within
# `keep` of the newest change among them (on an event clock "now" is the newest event seen, so the
# engine's own cutoff can only lie later: it forgets the rest itself).
_STATES = """
WITH mine AS (
    SELECT id, status, updated_at, last_seq FROM incidents WHERE topic = $1 AND community_id = ANY($2::text[])
)
SELECT e.incident_id, e.payload FROM mine i
JOIN incident_events e ON e.incident_id = i.id AND e.seq = i.last_seq AND e.kind <> 'action_rejected'
WHERE i.status IN ('assigned', 'acknowledged') OR i.updated_at >= (SELECT max(updated_at) FROM mine) - $3::interval
"""
_SEEN = """
SELECT community_id, report_id, action_id FROM incident_events
WHERE incident_id = ANY($1::text[]) AND (report_id IS NOT NULL OR action_id IS NOT NULL)
"""
_REPORTS = """
SELECT l.incident_id, r.* FROM incident_reports l JOIN reports r ON r.id = l.report_id
WHERE l.incident_id = ANY($1::text[])
"""


@dataclass
class Snapshot:
    """The incidents topic as far as PostgreSQL has it: read the topic on from `offsets`."""

    offsets: dict[int, int] = field(default_factory=dict)  # partition -> next offset; absent: from the start
    states: list[dict] = field(default_factory=list)  # the newest state event of each incident
    seen: list[tuple[str, str | None, str | None]] = field(default_factory=list)  # (community, report, action)


async def record_progress(conn: asyncpg.Connection, progress: Progress) -> None:
    """In the caller's transaction, with the rows the batch wrote."""
    partitions = sorted(progress.offsets)
    await conn.execute(_RECORD, progress.topic, progress.epoch, partitions, [progress.offsets[p] for p in partitions])


async def written_offsets(conn: asyncpg.Connection | asyncpg.Pool, topic: str, epoch: str) -> dict[int, int]:
    """How far the sink has written into each partition of `topic` in this broker epoch."""
    rows = await conn.fetch(
        "SELECT partition, next_offset FROM sink_offsets WHERE topic = $1 AND epoch = $2", topic, epoch
    )
    return {r["partition"]: r["next_offset"] for r in rows}


async def incident_snapshot(
    pool: asyncpg.Pool, topic: str, epoch: str, wanted: Callable[[str], bool], keep: timedelta
) -> Snapshot:
    """The incidents of the `wanted` communities from `topic`, open or closed within `keep`, with every
    report and action id they have seen, and the offsets they are complete up to: all read in one
    snapshot, so no write of the sink falls between the offsets and the rows."""
    async with pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
        snapshot = Snapshot(await written_offsets(conn, topic, epoch))
        communities = [
            r[0]
            for r in await conn.fetch("SELECT DISTINCT community_id FROM incidents WHERE topic = $1", topic)
            if wanted(r[0])
        ]
        if not communities:
            return snapshot
        rows = await conn.fetch(_STATES, topic, communities, keep)
        snapshot.states = [json.loads(r["payload"]) for r in rows]
        snapshot.seen = [tuple(r) for r in await conn.fetch(_SEEN, [r["incident_id"] for r in rows])]
        return snapshot


async def reports_of(db: asyncpg.Pool | asyncpg.Connection, incidents: list[str]) -> dict[str, dict]:
    """The report linked to each of these incidents, as the geofence agent published it (a LocatedReport);
    an incident whose report the sink has not written yet is missing."""
    return {r["incident_id"]: _located(r) for r in await db.fetch(_REPORTS, incidents)} if incidents else {}


def _located(r: asyncpg.Record) -> dict:
    # accuracy is stored as float4: printed to float4's precision, it is the number the phone sent.
    accuracy = None if r["accuracy"] is None else float(f"{r['accuracy']:.7g}")
    report = {
        "id": r["id"],
        "device": r["device_id"],
        "category": r["category"],
        "severity": r["severity"],
        "text": r["text"],
        "location": {"lat": r["lat"], "lng": r["lng"], "accuracy": accuracy},
        "event_time": r["event_time"].isoformat(),
        "street": r["street_id"],
        "community": r["community_id"],
        "grid": r["grid_id"],
        "cell": r["cell"],
    }
    photos = json.loads(r["photos"])
    if photos:
        report["photos"] = photos
    if r["placed_by"]:  # a 12345 order's report keeps how it was placed across a rebuild
        report["placed_by"] = r["placed_by"]
    return report
