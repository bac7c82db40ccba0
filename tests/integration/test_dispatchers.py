"""The demo's simulated dispatchers against the real worker and PostgreSQL: they find an open incident in
`incidents`, acknowledge and resolve it through the actions API with tokens of their own, and the engine's
history names them."""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime

import aiohttp
import pytest

from streams.demo.dispatch_desk import Desk, dispatcher_names
from streams.demo.dispatchers import Dispatchers, issue_tokens
from tests.support import factories
from tests.support.auth import device_headers
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration


class OnlyOne(Desk):
    """The desk, looking at one incident only: the session's database holds other tests' incidents too."""

    incident: str = ""

    def due(self, incidents, now):
        return super().due([i for i in incidents if i.id == self.incident], now)


async def test_simulated_dispatchers_acknowledge_and_resolve_through_the_actions_api(settings, pipeline, pg):
    rng = random.Random(4242)
    device = f"desk{rng.randrange(10**6)}-dev"
    report = factories.report(
        rng, device, category="sanitation", severity="low", event_time=datetime.now(UTC).isoformat()
    )
    async with aiohttp.ClientSession(headers=await device_headers(settings, device)) as http:
        async with http.post(f"{pipeline.url}/v1/reports", json=report) as resp:
            assert resp.status == 202
    incident = await eventually(
        lambda: pg.fetchval("SELECT incident_id FROM incident_reports WHERE report_id = $1", report["id"]), 60
    )
    assert incident, "no incident opened for the report"

    tokens = await issue_tokens(settings)
    desk = OnlyOne(
        dispatcher_names(sorted(n[4:] for n in tokens if n != "sim-street")),
        neglect=0.0,
        ack_share=(0.0, 0.0),
        resolve_share=(0.0, 0.0),
    )
    desk.incident = incident
    dispatchers = Dispatchers(settings, pipeline.url, tokens, desk, poll_seconds=0.5)
    stop = asyncio.Event()
    running = asyncio.create_task(dispatchers.run(stop))
    try:
        resolved = await eventually(
            lambda: pg.fetchval("SELECT status = 'resolved' FROM incidents WHERE id = $1", incident), 60
        )
    finally:
        stop.set()
        outcomes = await running
    assert resolved, outcomes
    history = await pg.fetch(
        "SELECT kind, actor FROM incident_events WHERE incident_id = $1 AND kind IN "
        "('acknowledged', 'resolved') ORDER BY seq",
        incident,
    )
    community = incident.split("-")[1]
    assert [(h["kind"], h["actor"]) for h in history] == [
        ("acknowledged", f"sim-{community}"),
        ("resolved", f"sim-{community}"),
    ]
    assert set(outcomes) <= {"ack:done", "ack:pending", "resolve:done", "resolve:pending"}, outcomes
