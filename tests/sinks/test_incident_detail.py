"""An incident's detail for the console (sinks/incident_detail.py), read from what the real incident and
report sinks wrote into a schema of the test's own."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import asyncpg

from config.roster import ROLES
from sinks.incident_detail import incident_detail
from sinks.incidents import IncidentSink
from sinks.postgres import PostgresSink
from tests.support.scratch import scratch_schema

OPENED = datetime(2026, 12, 6, 6, 0, tzinfo=UTC)
INCIDENT = "inc-c01-0123456789ab"


def event(seq: int, kind: str, when: datetime, actor: str, **extra) -> dict:
    state = {
        "status": "assigned",
        "level": "street",
        "owner": "xichangan",
        "priority": "high",
        "opened_at": OPENED.isoformat(),
        "ack_by": (OPENED + timedelta(minutes=30)).isoformat(),
        "resolve_by": (OPENED + timedelta(hours=4)).isoformat(),
        "reports": 2 if seq > 2 else 1,
        "last_report_at": OPENED.isoformat(),
        "cluster_cell": "8c31aa4298d1bff",
        "flags": [],
    }
    if seq >= 2:
        state["missed"] = {"acknowledge": (OPENED + timedelta(minutes=30)).isoformat()}
    return {
        "id": f"{INCIDENT}:{seq:05d}",
        "incident": INCIDENT,
        "seq": seq,
        "kind": kind,
        "when": when.isoformat(),
        "actor": actor,
        "reason": f"{kind} reason",
        "reason_code": kind,
        "street": "xichangan",
        "community": "c01",
        "grid": "c01-g01",
        "category": "safety_hazard",
        "severity": "high",
        "ceiling": "no",
        "state": state,
        **extra,
    }


def field_report(report_id: str, when: datetime, text: str, photos: list[str]) -> dict:
    return {
        "id": report_id,
        "device": "dev-detail-1",
        "category": "safety_hazard",
        "severity": "high",
        "text": text,
        "location": {"lat": 39.91, "lng": 116.37, "accuracy": 4.0},
        "event_time": when.isoformat(),
        "street": "xichangan",
        "community": "c01",
        "grid": "c01-g01",
        "cell": "8c31aa4298d1bff",
        "photos": photos,
    }


async def test_an_incident_with_its_reports_history_reporter_and_missed_deadline(pg, database_url):
    async with scratch_schema(pg, database_url) as dsn:
        pool = await asyncpg.create_pool(dsn, min_size=1, max_size=2)
        try:
            await pool.execute(
                "INSERT INTO roster_workers (device_id, name, role, grid_id, team, shifts) "
                "VALUES ('dev-detail-1', '王芳', 'grid_worker', 'c01-g01', 't1', '{day}')"
            )
            await PostgresSink(pool).write_reports(
                [
                    field_report("r-late", OPENED + timedelta(minutes=40), "又发现一处", []),
                    field_report("r-first", OPENED, "楼道堆放易燃物", ["https://photos.example/1.jpg"]),
                ]
            )
            rejected = {
                **event(2, "action_rejected", OPENED + timedelta(minutes=35), "zhao"),
                "id": f"{INCIDENT}:rejected:a1",
                "action": "a1",
            }
            await IncidentSink(pool).write(
                [
                    event(1, "opened", OPENED, "dev-detail-1", report="r-first", courtyard="c01-g01-y03"),
                    event(2, "deadline_missed", OPENED + timedelta(minutes=30), "system", courtyard="c01-g01-y03"),
                    rejected,
                    event(
                        3,
                        "report_merged",
                        OPENED + timedelta(minutes=40),
                        "dev-detail-1",
                        report="r-late",
                        courtyard="c01-g01-y03",
                    ),
                ]
            )
            detail = await incident_detail(pool, INCIDENT)
            assert await incident_detail(pool, "inc-c01-ffffffffffff") is None
        finally:
            await pool.close()
    incident, reports, events = detail["incident"], detail["reports"], detail["events"]
    assert incident["status"] == "assigned" and incident["report_count"] == 2
    assert incident["courtyard_id"] == "c01-g01-y03"  # the 院落 of the report that opened it
    assert incident["missed"] == {"acknowledge": (OPENED + timedelta(minutes=30)).isoformat()}
    assert [r["id"] for r in reports] == ["r-first", "r-late"]  # in the order they were filed
    assert reports[0]["text"] == "楼道堆放易燃物" and reports[0]["photos"] == ["https://photos.example/1.jpg"]
    assert (reports[0]["reporter"], reports[0]["reporter_role_name"]) == ("王芳", ROLES["grid_worker"])
    assert [(e["seq"], e["kind"]) for e in events] == [
        (1, "opened"),
        (2, "deadline_missed"),
        (2, "action_rejected"),
        (3, "report_merged"),
    ]
    assert events[0]["actor_name"] == "王芳" and events[2]["actor"] == "zhao" and events[2]["actor_name"] is None


def paused(seq: int, kind: str, when: datetime, **state) -> dict:
    """An incident event of the pause's story, as the engine publishes it (IncidentEvent validates it)."""
    from schemas.records import IncidentEvent

    e = event(seq, kind, when, "street-1")
    e["state"].pop("missed", None)
    e["state"] |= {
        "rules": "0a1b2c3d4e5f",
        "limits": {"street": {"acknowledge": "30m", "resolve": "2wd"}},
        "clock": {"since": OPENED.isoformat(), "factor": 1, "paused": []},
        **state,
    }
    e["state"] = {k: v for k, v in e["state"].items() if v is not None}  # None: absent (an approved pause)
    return IncidentEvent.validate(e)


async def test_a_paused_incident_keeps_its_pause_requests_and_limits_until_resumed(pg, database_url):
    """The pause, the requests waiting for the street and the limits are stored with the incident's row (for
    Grafana) and in its detail (for the console); resuming it clears the row's pause."""
    since = OPENED + timedelta(hours=1)
    pause = {"since": since.isoformat(), "reason": "resident", "action": "act-p1", "actor": "c01-disp"}
    request = {"action": "act-p1", "kind": "pause", "actor": "c01-disp", "at": since.isoformat()}
    extension = {"action": "act-x1", "kind": "extend", "actor": "c01-disp", "at": since.isoformat(), "limit": "5wd"}
    approved = {**pause, "approved_by": "street-1"}
    remaining = {"resolve": 41400.0}
    async with scratch_schema(pg, database_url) as dsn:
        pool = await asyncpg.create_pool(dsn, min_size=1, max_size=2)
        try:
            sink, query = IncidentSink(pool), "SELECT * FROM incidents WHERE id = $1"
            await sink.write(
                [
                    paused(1, "opened", OPENED),
                    paused(2, "paused", since, pause=pause, requests=[request], ack_by=None),
                    paused(3, "requested", since, pause=pause, requests=[request, extension]),
                ]
            )
            row = await pool.fetchrow(query, INCIDENT)
            assert (row["paused_since"], row["pause_reason"], row["pause_approved"]) == (since, "resident", False)
            assert (row["requests_pending"], row["rules_version"]) == (2, "0a1b2c3d4e5f")
            await sink.write(
                [
                    paused(
                        4,
                        "approved",
                        since,
                        pause=approved,
                        requests=[extension],
                        remaining=remaining,
                        ack_by=None,
                        resolve_by=None,
                    )
                ]
            )
            detail = (await incident_detail(pool, INCIDENT))["incident"]
            row = await pool.fetchrow(query, INCIDENT)
            assert (row["pause_approved"], row["requests_pending"]) == (True, 1)
            await sink.write([paused(5, "resumed", since + timedelta(hours=2))])
            resumed = await pool.fetchrow(query, INCIDENT)
        finally:
            await pool.close()
    assert detail["pause"] == approved and detail["requests"] == [extension] and detail["remaining"] == remaining
    assert detail["limits"] == {"street": {"acknowledge": "30m", "resolve": "2wd"}}
    assert detail["paused_since"] == since and detail["clock"]["since"] == OPENED.isoformat()
    assert (resumed["paused_since"], resumed["pause_reason"], resumed["requests_pending"]) == (None, None, 0)
