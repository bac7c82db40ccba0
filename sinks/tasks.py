"""Tasks to a person in PostgreSQL (migration 0018): the sink of redwall.tasks.v1, and the reads of the phone
(its own tasks), the console (a scope's list, one task's history) and the tasks agent's rebuild (the open tasks
of its devices, with how far the sink has written). Times of a task's `state` stay as the record carries them
(RFC 3339); every other time is a datetime. Who should go to a task: sinks/task_candidates.py."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import asyncpg

from schemas import json
from schemas.tasks import CLOSED
from sinks.incident_history import Progress, record_progress, written_offsets
from sinks.postgres import connection, transaction
from sinks.sql import as_columns, row_count, unnest_insert

_INSERT_EVENTS = unnest_insert(
    "task_events",
    [
        ("task_id", "text"),
        ("seq", "int4"),
        ("event", "text"),
        ("at", "timestamptz"),
        ("device", "text"),
        ("actor", "text"),
        ("record", "jsonb"),
    ],
    "(task_id, seq)",
)
_INSERT_REFUSALS = unnest_insert(
    "task_refusals",
    [("action_id", "text"), ("task_id", "text"), ("at", "timestamptz"), ("record", "jsonb")],
    "(action_id)",
)
_STATE = (
    ("id", "text"),
    ("kind", "text"),
    ("status", "text"),
    ("device", "text"),
    ("created_by", "text"),
    ("created_role", "text"),
    ("street_id", "text"),
    ("community_id", "text"),
    ("grid_id", "text"),
    ("courtyard_id", "text"),
    ("lat", "float8"),
    ("lng", "float8"),
    ("radius_m", "float8"),
    ("note", "text"),
    ("incident_id", "text"),
    ("report_id", "text"),
    ("created_at", "timestamptz"),
    ("arrive_by", "timestamptz"),
    ("done_by", "timestamptz"),
    ("accepted_at", "timestamptz"),
    ("arrived_at", "timestamptz"),
    ("arrive_seconds", "float8"),
    ("done_at", "timestamptz"),
    ("unconfirmed", "bool"),
    ("late_arrive", "timestamptz"),
    ("late_done", "timestamptz"),
    ("seq", "int4"),
    ("state", "jsonb"),
)
# Of several events of one task in a batch the newest wins; a replayed older event never overwrites a newer state.
_UPSERT_STATE = unnest_insert(
    "tasks",
    _STATE,
    "(id)",
    order="id, seq DESC",
    update=", ".join(f"{c} = excluded.{c}" for c, _ in _STATE[1:]) + " WHERE excluded.seq > tasks.seq",
)
_OPEN = f"status NOT IN ({', '.join(repr(s) for s in CLOSED)})"
# The newest event's time is when a closed task closed (done or cancelled are its last events).
_OF_DEVICE = f"""
SELECT t.state FROM tasks t JOIN task_events e ON e.task_id = t.id AND e.seq = t.seq
WHERE t.device = $1 AND (t.{_OPEN} OR e.at >= $2)
ORDER BY t.{_OPEN} DESC, t.created_at DESC, t.id LIMIT $3"""
_IN_SCOPE = f"""
SELECT t.state, w.name AS worker, c.name AS courtyard_name, g.name AS grid_name FROM tasks t
LEFT JOIN roster_workers w ON w.device_id = t.device
LEFT JOIN courtyards c ON c.id = t.courtyard_id
LEFT JOIN grids g ON g.id = t.grid_id
WHERE ($1::text IS NULL OR t.community_id = $1) AND ($6::text IS NULL OR t.street_id = $6)
  AND CASE WHEN $2::text IS NULL THEN true WHEN $2 = 'open' THEN t.{_OPEN} ELSE t.status = $2 END
  AND ($3::timestamptz IS NULL OR t.created_at >= $3) AND ($4::text IS NULL OR t.device = $4)
ORDER BY t.{_OPEN} DESC, t.created_at DESC, t.id LIMIT $5"""
_DETAIL = """
SELECT t.state, w.name AS worker, c.name AS courtyard_name, g.name AS grid_name,
       array(SELECT (seq, event, at, actor, record->>'reason') FROM task_events WHERE task_id = t.id ORDER BY seq)
           AS events,
       array(SELECT (action_id, at, record->>'actor', record->>'reason') FROM task_refusals WHERE task_id = t.id
             ORDER BY at, action_id) AS refusals
FROM tasks t
LEFT JOIN roster_workers w ON w.device_id = t.device
LEFT JOIN courtyards c ON c.id = t.courtyard_id
LEFT JOIN grids g ON g.id = t.grid_id
WHERE t.id = $1"""
_OPEN_DEVICES = f"SELECT DISTINCT device FROM tasks WHERE {_OPEN}"
_NEWEST = f"""
SELECT e.record FROM tasks t JOIN task_events e ON e.task_id = t.id AND e.seq = t.seq
WHERE t.{_OPEN} AND t.device = ANY($1::text[]) ORDER BY t.id"""


class TaskSink:
    """Writes redwall.tasks.v1 batches (TaskEvent records); every write is safe to repeat with the same batch."""

    def __init__(self, pool: asyncpg.Pool):
        self.pool = pool

    async def write(self, events: list[dict], progress: Progress | None = None) -> dict[str, int]:
        """`progress`: how far into the tasks topic the batch goes, recorded with its rows for the rebuild."""
        # A refusal changes no seq: it would collide with the event of that seq, so it is kept by its action.
        refused = [_refusal_row(e) for e in events if e["event"] == "refused"]
        kept = [e for e in events if e["event"] != "refused"]
        async with transaction(self.pool) as conn:
            inserted = await conn.execute(_INSERT_EVENTS, *as_columns([_event_row(e) for e in kept], 7))
            states = [_state_row(e) for e in kept if "state" in e]
            await conn.execute(_UPSERT_STATE, *as_columns(states, len(_STATE)))
            refusals = await conn.execute(_INSERT_REFUSALS, *as_columns(refused, 4))
            if progress:
                await record_progress(conn, progress)
        return {"task_events": row_count(inserted), "task_refusals": row_count(refusals)}


def _event_row(e: dict) -> tuple:
    when = datetime.fromisoformat(e["when"])
    return (e["task"], int(e["seq"]), e["event"], when, e["device"], e["actor"], json.dumps(e).decode())


def _refusal_row(e: dict) -> tuple:
    return (e.get("action") or e["id"], e["task"], datetime.fromisoformat(e["when"]), json.dumps(e).decode())


def _state_row(e: dict) -> tuple:
    s, late = e["state"], e["state"]["late"]
    creator, location = s["creator"], s["location"]

    def time(value: str | None) -> datetime | None:
        return datetime.fromisoformat(value) if value else None

    return (
        *(s["id"], s["kind"], s["status"], s["device"], creator["subject"], creator["role"]),
        *(s.get("street"), s.get("community"), s.get("grid"), s.get("courtyard")),
        *(location["lat"], location["lng"], s["radius_m"], s["note"], s.get("incident"), s.get("report")),
        *(time(s[k]) for k in ("created_at", "arrive_by", "done_by")),
        *(time(s.get("accepted_at")), time(s.get("arrived_at")), s.get("arrive_seconds"), time(s.get("done_at"))),
        *(s["unconfirmed"] == "yes", time(late.get("arrive")), time(late.get("done"))),
        *(int(e["seq"]), json.dumps(s).decode()),
    )


async def tasks_of_device(
    db, device: str, *, include_closed_since: datetime | None = None, limit: int = 100
) -> list[dict]:
    """A phone's own tasks, the open ones first, then the newest: each its state. Closed ones only when they
    closed at or after `include_closed_since` (None: none)."""
    async with connection(db) as conn:
        rows = await conn.fetch(_OF_DEVICE, device, include_closed_since, limit)
    return [json.loads(r["state"]) for r in rows]


async def tasks_in_scope(
    db,
    *,
    community: str | None = None,
    status: str | None = "open",
    since: datetime | None = None,
    device: str | None = None,
    limit: int = 500,
    street: str | None = None,
) -> list[dict]:
    """The console's list: the tasks of `community` and of `street` (None: any), open ones first, then the newest.
    `status` "open" keeps those not done or cancelled, another status those in it, None all; `since` those
    created from then on. Each is its state with the worker's roster name and the courtyard's and grid's."""
    async with connection(db) as conn:
        rows = await conn.fetch(_IN_SCOPE, community, status, since, device, limit, street)
    return [
        {
            **json.loads(r["state"]),
            "worker": r["worker"],
            "courtyard_name": r["courtyard_name"],
            "grid_name": r["grid_name"],
        }
        for r in rows
    ]


async def task_detail(db, task_id: str) -> dict | None:
    """{"task": state with the worker's, courtyard's and grid's names, "events": [{seq, event, when, actor, reason}], "refusals": [{action, when, actor, reason}]}
    in order, or None for a task PostgreSQL does not hold."""
    async with connection(db) as conn:
        row = await conn.fetchrow(_DETAIL, task_id)
    if row is None:
        return None
    return {
        "task": {**json.loads(row["state"]), **{k: row[k] for k in ("worker", "courtyard_name", "grid_name")}},
        "events": [dict(zip(("seq", "event", "when", "actor", "reason"), e, strict=True)) for e in row["events"]],
        "refusals": [dict(zip(("action", "when", "actor", "reason"), r, strict=True)) for r in row["refusals"]],
    }


async def owner_of(db, task_id: str) -> tuple[str, str | None] | None:
    """(device, community) of a task: its worker's device keys a dispatcher's cancel, its community says whose
    it is; None for an unknown task."""
    async with connection(db) as conn:
        row = await conn.fetchrow("SELECT device, community_id FROM tasks WHERE id = $1", task_id)
    return (row["device"], row["community_id"]) if row else None


async def task_snapshot(
    pool: asyncpg.Pool, topic: str, epoch: str, owned: Callable[[str], bool]
) -> tuple[list[dict], dict[int, int]]:
    """The newest event (a TaskEvent) of every open task of the `owned` devices, and how far the sink has written
    into `topic` in broker epoch `epoch`: read in one snapshot, so no write falls between the rows and the offsets
    (read the topic on from them)."""
    async with pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
        offsets = await written_offsets(conn, topic, epoch)
        devices = [r["device"] for r in await conn.fetch(_OPEN_DEVICES) if owned(r["device"])]
        rows = await conn.fetch(_NEWEST, devices) if devices else []
    return [json.loads(r["record"]) for r in rows], offsets
