"""The district's own queue (区级待定位) in its weekly report, on the real PostgreSQL: the reports outside every
grid that the escalation engine opens in the district's queue, placed in a street by hand, left waiting, or
closed there; counted by UNLOCATED_QUEUE as of the week's end, shown as a line of its own, never in the totals."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from config.rules import load_rules
from config.sample.district import district_path
from config.settings import Settings
from consumers.report.make import make_district
from sinks.incidents import IncidentSink
from streams.escalation.agents import places_of
from streams.escalation.engine import IncidentEngine
from streams.escalation.keys import IncidentKeys
from streams.geofence.registry import GridRegistry
from tests.support.clock import ManualClock
from tests.support.incident_factories import TZ, action, calendar, located

pytestmark = pytest.mark.integration

WEEK = "2037-W12"  # Monday 2037-03-16 00:00 to Monday 2037-03-23 00:00 in Beijing
TUESDAY = datetime(2037, 3, 17, 2, 0, tzinfo=UTC)
OUTSIDE = (39.93, 116.41)  # in no grid of the district


class Queue:
    """The engine of a district of two streets, whose events the test writes to PostgreSQL at the end."""

    def __init__(self):
        district = GridRegistry.load(district_path(2))
        self.clock, self.events = ManualClock(TUESDAY), []
        streets = IncidentKeys(district.geometry).streets_of
        self.engine = IncidentEngine(
            load_rules(), self.clock, places=places_of(district), tz=TZ, calendar=calendar(), streets=streets
        )
        self.east = next(g.id for g in district.grids.values() if district.geometry.street_of(g.id) == "xinjiekou")

    def receive(self, at: datetime) -> str:
        """A report outside every grid at `at`: the incident it opens in the district's queue."""
        self.clock.set(at)
        report = {k: v for k, v in located(f"q-{uuid.uuid4().hex[:10]}", where=OUTSIDE, at=at).items() if v is not None}
        events = self.engine.report(report).events  # after any deadline that fell due on the way
        [opened] = [e for e in events if e["kind"] == "opened"]
        assert (opened["street"], opened["community"]) == ("xicheng", "unlocated")
        self.events += events
        return opened["incident"]

    def act(self, incident: str, verb: str, at: datetime, **extra) -> None:
        self.clock.set(at)
        done = self.engine.action(action(f"a-{uuid.uuid4().hex[:10]}", incident, verb, at, **extra))
        assert [e["reason"] for e in done.events if e["kind"] == "action_rejected"] == []
        self.events += done.events
        for report in done.reports:  # placed: it opens an incident in its street's community
            self.events += self.engine.report(report).events


async def test_the_districts_queue_of_the_week_is_its_own_line_received_placed_waiting_never_in_the_totals(scratch):
    queue = Queue()
    queue.receive(TUESDAY - timedelta(days=6))  # last week's: not this week's
    queue.act(queue.receive(TUESDAY), "reassign", TUESDAY + timedelta(hours=1), owner=queue.east)
    queue.receive(TUESDAY + timedelta(hours=2))  # waiting
    late = queue.receive(TUESDAY + timedelta(hours=3))
    queue.act(queue.receive(TUESDAY + timedelta(hours=4)), "resolve", TUESDAY + timedelta(hours=5))
    queue.act(late, "reassign", TUESDAY + timedelta(days=6), owner=queue.east)  # placed after the week's end
    pool = await asyncpg.create_pool(scratch, min_size=0, max_size=1)
    try:
        await IncidentSink(pool).write(queue.events)
    finally:
        await pool.close()

    settings = Settings.from_env(database_url=scratch, geometry_path=district_path(2))
    made = await make_district(scratch, settings, WEEK)
    assert made.figures["queue"] == {"received": 4, "placed": 1, "waiting": 2}
    t = made.figures["totals"]  # the placed one is xinjiekou's, opened there this week; the queue is in no street
    assert (t["incidents_opened"], t["incidents"]) == (1, 1)
    page = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", made.html))
    line = (
        "区级待定位 ：本周街道外上报 4 件，截至本周末已指派到街道 1 件（计入所在街道），"
        "仍待定位 2 件（不在任何街道的数字里），未指派即关闭 1 件。"
    )
    assert line in page
    assert "> 区级待定位：本周街道外上报 4 件" in made.summary
