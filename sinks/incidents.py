"""Incident events into Postgres: the append-only audit trail, the current state of each incident and
the report links, in one idempotent transaction per batch, with how far into the topic the batch goes
(what the engine's rebuild reads, sinks/incident_history.py)."""

from __future__ import annotations

from datetime import datetime

import asyncpg

from schemas import json
from schemas.records import UNLOCATED
from sinks.incident_history import Progress, record_progress
from sinks.postgres import transaction
from sinks.sql import as_columns, row_count, storable, unnest_insert

_INSERT_EVENTS = unnest_insert(
    "incident_events",
    [
        ("id", "text"),
        ("incident_id", "text"),
        ("seq", "int4"),
        ("kind", "text"),
        ("event_time", "timestamptz"),
        ("actor", "text"),
        ("reason", "text"),
        ("reason_code", "text"),
        ("from_level", "text"),
        ("to_level", "text"),
        ("community_id", "text"),
        ("category", "text"),
        ("report_id", "text"),
        ("action_id", "text"),
        ("ceiling", "bool"),
        ("payload", "jsonb"),
    ],
    "(id)",
)
# A report links to one incident: the one it opened or joined, or, once the street placed an unlocated
# report, the incident it opened in its community (a replay of the unlocated link never takes it back).
_UNLOCATED_ID = f"'inc-{UNLOCATED}-%'"
_INSERT_LINKS = unnest_insert(
    "incident_reports",
    [("report_id", "text"), ("incident_id", "text"), ("linked_at", "timestamptz")],
    "(report_id)",
    order=f"report_id, incident_id LIKE {_UNLOCATED_ID}",
    update=(
        "incident_id = excluded.incident_id, linked_at = excluded.linked_at "
        f"WHERE incident_reports.incident_id LIKE {_UNLOCATED_ID} AND excluded.incident_id NOT LIKE {_UNLOCATED_ID}"
    ),
)
_STATE_COLUMNS = (
    "id",
    "street_id",
    "community_id",
    "grid_id",
    "category",
    "severity",
    "priority",
    "status",
    "level",
    "owner",
    "opened_at",
    "ack_by",
    "resolve_by",
    "report_count",
    "last_report_at",
    "sensitive_zone",
    "ceiling_exceeded",
    "last_seq",
    "updated_at",
    "topic",
    # The clocks (migration 0014): the rules' version, the open pause, the requests waiting for the street.
    "rules_version",
    "paused_since",
    "pause_reason",
    "pause_approved",
    "pause_counts_until",
    "requests_pending",
    "courtyard_id",  # migration 0019
)
_TYPES = (
    ("text",) * 10
    + ("timestamptz",) * 3
    + ("int4", "timestamptz", "bool", "bool", "int4", "timestamptz", "text")
    + ("text", "timestamptz", "text", "bool", "timestamptz", "int4")
    + ("text",)
)
_UPSERT_STATE = f"""
INSERT INTO incidents ({", ".join(_STATE_COLUMNS)})
SELECT DISTINCT ON (id) * FROM unnest({", ".join(f"${i}::{t}[]" for i, t in enumerate(_TYPES, 1))})
    AS t({", ".join(_STATE_COLUMNS)})
ORDER BY id, last_seq DESC
ON CONFLICT (id) DO UPDATE SET {", ".join(f"{c} = excluded.{c}" for c in _STATE_COLUMNS[1:])}
WHERE excluded.last_seq > incidents.last_seq
"""


class IncidentSink:
    """Writes redwall.incidents.v1 batches; every write is safe to repeat with the same batch."""

    def __init__(self, pool: asyncpg.Pool):
        self.pool = pool

    async def write(self, events: list[dict], progress: Progress | None = None) -> dict[str, int]:
        """`progress`: how far into the incidents topic the batch goes, recorded with its rows. Without
        it (a write by hand) the state belongs to no topic, and no rebuild takes it."""
        topic = progress.topic if progress else None
        stateful = [e for e in events if "state" in e and e["kind"] != "action_rejected"]
        links = [(e["report"], e["incident"], datetime.fromisoformat(e["when"])) for e in events if e.get("report")]
        async with transaction(self.pool) as conn:
            inserted = await conn.execute(_INSERT_EVENTS, *as_columns([_event_row(e) for e in events], 16))
            # The state rows carry their seq: of several events of one incident the newest wins, and
            # a replayed older event never overwrites a newer state.
            await conn.execute(
                _UPSERT_STATE, *as_columns([_state_row(e, topic) for e in stateful], len(_STATE_COLUMNS))
            )
            linked = await conn.execute(_INSERT_LINKS, *as_columns(links, 3))
            if progress:
                await record_progress(conn, progress)
        return {"incident_events": row_count(inserted), "incident_reports": row_count(linked)}


def _event_row(e: dict) -> tuple:
    return (
        e["id"],
        e["incident"],
        int(e["seq"]),
        e["kind"],
        datetime.fromisoformat(e["when"]),
        storable(e["actor"]),
        storable(e["reason"]),
        e["reason_code"],
        e.get("from_level"),
        e.get("to_level"),
        e["community"],
        e.get("category"),
        e.get("report"),
        e.get("action"),
        e["ceiling"] == "yes",
        json.dumps(e).decode(),
    )


def _state_row(e: dict, topic: str | None) -> tuple:
    s, parse = e["state"], datetime.fromisoformat
    pause = s.get("pause") or {}
    return (
        e["incident"],
        e["street"],
        e["community"],
        e.get("grid"),
        e["category"],
        e["severity"],
        s["priority"],
        s["status"],
        s["level"],
        s["owner"],
        parse(s["opened_at"]),
        s.get("ack_by") and parse(s["ack_by"]),
        s.get("resolve_by") and parse(s["resolve_by"]),
        int(s["reports"]),
        parse(s["last_report_at"]),
        "sensitive_zone" in s["flags"],
        "ceiling_exceeded" in s["flags"],
        int(e["seq"]),
        parse(e["when"]),
        topic,
        s.get("rules"),
        pause.get("since") and parse(pause["since"]),
        pause.get("reason"),
        bool(pause.get("approved_by")),
        pause.get("counts_until") and parse(pause["counts_until"]),
        len(s.get("requests") or ()),
        e.get("courtyard"),
    )
