"""The unlocated queue in Postgres: a report outside every street is stored with no place; once the
street places it, the report's place is filled in and its link moves to the incident it opened in the
community, whatever replays come after."""

from __future__ import annotations

import uuid

import pytest

from config.rules import load_rules
from sinks.incidents import IncidentSink
from sinks.postgres import PostgresSink
from streams.escalation.agents import places_of
from streams.escalation.engine import IncidentEngine, incident_id
from tests.support.clock import ManualClock
from tests.support.incident_factories import T0, TZ, action, calendar, located, registry

pytestmark = pytest.mark.integration

OUTSIDE = (39.93, 116.41)


@pytest.fixture
async def sink(database_url):
    sink = await PostgresSink.connect(database_url)
    yield sink
    await sink.close()


async def test_a_placed_report_gets_its_place_and_its_link_moves_to_the_new_incident(sink, pg):
    engine = IncidentEngine(load_rules(), ManualClock(T0), places=places_of(registry()), tz=TZ, calendar=calendar())
    outside = located(f"u-{uuid.uuid4().hex[:8]}", "sanitation", "low", OUTSIDE)
    opened = engine.report(outside)
    unlocated = opened.events[0]["incident"]
    placed = engine.action(action(f"a-{outside['id']}", unlocated, "reassign", T0, owner="c03-g02"))
    [report] = placed.reports
    moved = engine.report(report)
    incidents = IncidentSink(sink.pool)

    assert await sink.write_reports([outside, outside]) == {"reports": 1}
    await incidents.write(opened.events + placed.events)
    assert (
        await pg.fetchval("SELECT incident_id FROM incident_reports WHERE report_id = $1", outside["id"]) == unlocated
    )
    # The placed report, with a redelivery of the first in the same batch: the place is filled in, once.
    assert await sink.write_reports([outside, report]) == {"reports": 1}
    assert await sink.write_reports([report, outside]) == {"reports": 0}
    row = await pg.fetchrow("SELECT street_id, community_id, grid_id FROM reports WHERE id = $1", outside["id"])
    assert tuple(row) == ("xichangan", "c03", "c03-g02")
    await incidents.write(moved.events)
    await incidents.write(opened.events)  # a replay of the unlocated opening does not take the report back
    new = incident_id("c03", outside["id"])
    assert await pg.fetchval("SELECT incident_id FROM incident_reports WHERE report_id = $1", outside["id"]) == new
    states = dict(await pg.fetch("SELECT id, status FROM incidents WHERE id = ANY($1)", [unlocated, new]))
    assert states == {unlocated: "closed", new: "assigned"}
    community = await pg.fetchval("SELECT community_id FROM incidents WHERE id = $1", unlocated)
    assert community == "unlocated"
