"""Working-time deadlines through a real worker, broker and PostgreSQL in event time (REDWALL_CLOCK=event):
an incident opened on a Tuesday morning with 4 working hours to resolve, acknowledged, paused (waiting for
the resident), the pause approved by a street dispatcher (a community dispatcher may not: 403), resumed in
the afternoon; then the early warning and the breach, each at the instant the calendar says once the paused
working time is added, in PostgreSQL's incident_events and on redwall.alerts.v1 in that order."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime

import aiohttp
import pytest

from schemas import json
from sinks.credentials import issue_dispatcher_token
from streams.escalation.control import broadcast, tick
from streams.escalation.engine import incident_id
from streams.topics import read_topic
from tests.support.event_time import event_time_street
from tests.support.incident_factories import PLAIN, located, produce_reports
from tests.support.working_time import bj, working_rules_file

pytestmark = pytest.mark.integration


@pytest.fixture
async def street(settings, tmp_path):
    """A worker and sinks of the test's own (topics, ports), on event time, with working-time rules."""
    async with event_time_street(settings, tmp_path, "wt", escalation_rules_path=working_rules_file(tmp_path)) as got:
        yield got[:2]


async def events_of(pg, incident: str, count: int, timeout: float = 60.0) -> list[tuple[str, str, datetime]]:
    """The incident's events in PostgreSQL, in order, once there are `count` of them."""
    limit = time.monotonic() + timeout
    while True:
        rows = await pg.fetch(
            "SELECT kind, reason_code, event_time FROM incident_events WHERE incident_id = $1 ORDER BY seq, event_time",
            incident,
        )
        if len(rows) >= count or time.monotonic() > limit:
            return [tuple(r) for r in rows]
        await asyncio.sleep(0.3)


async def post(http, url: str, incident: str, body: dict) -> tuple[int, dict]:
    async with http.post(f"{url}/v1/incidents/{incident}/actions", json=body) as answer:
        return answer.status, await answer.json()


async def test_a_pause_approved_and_resumed_moves_the_warning_and_the_breach_by_the_paused_working_time(street, pg):
    run, s = street
    url = f"http://{s.web_host}:{s.web_port}"
    report = located(f"{run}-r1", "sanitation", "medium", PLAIN, bj("2026-12-08", "10:00"))  # the grid: 4wh
    incident = incident_id(report["community"], report["id"])
    started = time.perf_counter()
    await produce_reports(s, [report])
    assert [e[0] for e in await events_of(pg, incident, 1)] == ["opened"]
    community = {
        "Authorization": f"Bearer {await issue_dispatcher_token(s.database_url, f'{run}-c', 'community', 'c03')}"
    }
    street_one = {"Authorization": f"Bearer {await issue_dispatcher_token(s.database_url, f'{run}-s', 'street')}"}

    def at(day: str, hm: str) -> str:
        return bj(day, hm).isoformat()

    async with aiohttp.ClientSession(headers=community) as http:
        status, ack = await post(
            http, url, incident, {"action": "ack", "reason": "收到", "time": at("2026-12-08", "10:05")}
        )
        assert (status, ack["verdict"]) == (200, "acknowledged"), ack
        body = {
            "action": "pause",
            "pause_reason": "resident",
            "reason": "居民不在家",
            "time": at("2026-12-08", "10:30"),
        }
        status, paused = await post(http, url, incident, body)
        assert (status, paused["verdict"]) == (200, "paused"), paused
        request = paused["action"]
        body = {"action": "approve", "request": request, "reason": "自己批", "time": at("2026-12-08", "10:35")}
        status, refused = await post(http, url, incident, body)
        assert status == 403 and refused["errors"][0]["field"] == "action", refused
        assert "approve" in refused["errors"][0]["reason"] and "street" in refused["errors"][0]["reason"]
    async with aiohttp.ClientSession(headers=street_one) as http:
        body = {"action": "approve", "request": request, "reason": "同意挂起", "time": at("2026-12-08", "10:40")}
        status, approved = await post(http, url, incident, body)
        assert (status, approved["verdict"]) == (200, "approved"), approved
        assert "resolve_by" not in approved["event"]["state"] and approved["event"]["state"]["remaining"]["resolve"] > 0
    await broadcast(s, tick(bj("2026-12-08", "16:00")))  # past 14:00, the deadline without the pause: nothing
    async with aiohttp.ClientSession(headers=community) as http:
        body = {"action": "resume", "reason": "居民回来了", "time": at("2026-12-08", "16:05")}
        status, resumed = await post(http, url, incident, body)
        assert (status, resumed["verdict"]) == (200, "resumed"), resumed
    # Paused 10:30-16:05: 335 working minutes; 14:00 + 335 working minutes = Wednesday 11:35 (17:00 ends
    # Tuesday's hours). The warning at 80 % of 4 working hours counted: Wednesday 10:47.
    moved = resumed["event"]["state"]["resolve_by"]
    assert moved == at("2026-12-09", "11:35")
    for when in (
        bj("2026-12-09", "10:46"),
        bj("2026-12-09", "10:47"),
        bj("2026-12-09", "11:34"),
        bj("2026-12-09", "11:35"),
    ):
        await broadcast(s, tick(when))
    rows = await events_of(pg, incident, 7)
    assert [(kind, code) for kind, code, _ in rows] == [
        ("opened", "report"),
        ("acknowledged", "ack"),
        ("paused", "pause"),
        ("approved", "approve"),
        ("resumed", "resume"),
        ("warned", "warning_resolve"),
        ("escalated", "deadline_resolve"),
    ]
    assert rows[5][2] == bj("2026-12-09", "10:47") and rows[6][2] == bj("2026-12-09", "11:35")
    alerts = [json.loads(r.value) async for r in read_topic(s, s.topic_alerts)]
    mine = [(a["kind"], a["owner"]) for a in alerts if a["incident"] == incident]
    assert mine == [
        ("incident_opened", "c03-g01"),
        ("approval_requested", "xichangan"),
        ("deadline_warning", "c03-g01"),
        ("incident_escalated", "c03"),
        ("deadline_breached", "c03-g01"),
    ]
    print(
        f"\nopen, pause, approve, resume, warning and breach through the worker: {time.perf_counter() - started:.1f} s"
    )
