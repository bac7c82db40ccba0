"""One incident as a dispatcher reads it on the console: its current state and deadlines (and those it
missed, its limits, its open pause and the requests waiting for the street), its reports (text, photos, reporter from the roster, times) and its history (who did what,
when, why), read from the tables the incident and report sinks write."""

from __future__ import annotations

import asyncpg

from config.roster import ROLES
from schemas import json

MAX_REPORTS = 200  # a cluster of more is shown by its count and its newest reports
MAX_EVENTS = 500
# From the newest state (schemas/records.py IncidentState): what the clocks run on, for the console.
_CLOCK_KEYS = ("missed", "limits", "clock", "pause", "requests", "remaining", "warned")
_EMPTY = {"requests": [], "pause": None}

_INCIDENT = """
SELECT i.id, i.community_id, i.grid_id, i.courtyard_id, i.category, i.severity, i.priority, i.status, i.level, i.owner, i.opened_at,
       i.ack_by, i.resolve_by, i.report_count, i.last_report_at, i.sensitive_zone, i.ceiling_exceeded, i.updated_at,
       i.rules_version, i.paused_since, i.pause_reason, i.pause_approved, i.pause_counts_until, i.requests_pending,
       (SELECT e.payload -> 'state' FROM incident_events e
        WHERE e.incident_id = i.id AND e.kind <> 'action_rejected' ORDER BY e.seq DESC LIMIT 1) AS state
FROM incidents i WHERE i.id = $1
"""
_REPORTS = """
SELECT * FROM (
    SELECT r.id, r.device_id, w.name AS reporter, w.role AS reporter_role, w.team, r.category, r.severity, r.text,
           r.photos, r.lat, r.lng, r.accuracy, r.grid_id, r.event_time, r.received_at
    FROM incident_reports l JOIN reports r ON r.id = l.report_id LEFT JOIN roster_workers w USING (device_id)
    WHERE l.incident_id = $1 ORDER BY r.event_time DESC LIMIT $2) newest
ORDER BY event_time
"""
_EVENTS = """
SELECT e.seq, e.kind, e.event_time, e.actor, w.name AS actor_name, e.reason, e.reason_code, e.from_level, e.to_level,
       e.report_id, e.action_id
FROM incident_events e LEFT JOIN roster_workers w ON w.device_id = e.actor WHERE e.incident_id = $1
ORDER BY e.seq, e.kind = 'action_rejected', e.event_time LIMIT $2
"""


async def incident_detail(db: asyncpg.Pool | asyncpg.Connection, incident: str) -> dict | None:
    """The incident with its reports and history, or None when PostgreSQL has no row of it (yet)."""
    row = await db.fetchrow(_INCIDENT, incident)
    if row is None:
        return None
    reports = [_report(r) for r in await db.fetch(_REPORTS, incident, MAX_REPORTS)]
    events = [dict(r) for r in await db.fetch(_EVENTS, incident, MAX_EVENTS)]
    state = _json(row["state"]) or {}
    incident = {k: v for k, v in dict(row).items() if k != "state"}
    incident |= {k: state.get(k, _EMPTY.get(k, {})) for k in _CLOCK_KEYS}
    return {"incident": incident, "reports": reports, "events": events}


def _report(row: asyncpg.Record) -> dict:
    report = dict(row)
    report["photos"] = _json(report["photos"]) or []
    report["reporter_role_name"] = ROLES.get(report["reporter_role"])  # the roster's roles, named in config/roster.py
    return report


def _json(value):
    return json.loads(value) if isinstance(value, (str, bytes)) else value
