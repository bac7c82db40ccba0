"""The incident history as the escalation engine's rebuild reads it from PostgreSQL: what the incident
and major-event sinks record with their rows (sinks/incident_history.py, sinks/major_events.py), and
that an engine rebuilt from a snapshot is the engine that wrote it, in a schema of the test's own."""

from __future__ import annotations

from datetime import timedelta

import asyncpg
import pytest

from config.rules import load_rules
from schemas import json
from schemas.records import LocatedReport
from sinks.incident_history import Progress, incident_snapshot, reports_of, written_offsets
from sinks.incidents import IncidentSink
from sinks.major_events import MajorEventSink, runtime_periods
from sinks.postgres import PostgresSink
from streams.escalation.agents import places_of
from streams.escalation.control import MajorEventRecords, major_event, tick
from streams.escalation.engine import IncidentEngine
from tests.support.clock import ManualClock
from tests.support.incident_factories import PLAIN, T0, TZ, action, calendar, located, nearby, registry

pytestmark = pytest.mark.integration

RULES = load_rules()
TOPIC = "t.incidents"
OUTSIDE = (39.93, 116.41)  # in no grid of the street


@pytest.fixture
async def db(scratch):
    pool = await asyncpg.create_pool(scratch, min_size=0, max_size=2)
    yield pool
    await pool.close()


def new_engine(clock) -> IncidentEngine:
    return IncidentEngine(RULES, clock, places=places_of(registry()), tz=TZ, calendar=calendar())


async def test_offsets_are_recorded_with_the_rows_never_go_back_and_start_again_in_a_new_epoch(db):
    sink, engine = IncidentSink(db), new_engine(ManualClock(T0))
    opened = engine.report(located("h-1")).events
    await sink.write(opened, Progress(TOPIC, "epoch-1", {0: 5, 1: 3}))
    assert await written_offsets(db, TOPIC, "epoch-1") == {0: 5, 1: 3}
    await sink.write(opened, Progress(TOPIC, "epoch-1", {0: 4}))  # a consumer that took over replays from below
    assert await written_offsets(db, TOPIC, "epoch-1") == {0: 5, 1: 3}
    await sink.write([], Progress(TOPIC, "epoch-2", {0: 1}))  # the broker lost its log: offsets from 0 again
    assert await written_offsets(db, TOPIC, "epoch-2") == {0: 1}
    assert await written_offsets(db, TOPIC, "epoch-1") == {1: 3}
    assert await written_offsets(db, "t.other", "epoch-1") == {}


async def test_a_snapshot_rebuilds_the_engine_that_wrote_it(db):
    """Open incidents and those closed within `[retention] closed` (reopenable), with their deadlines,
    clusters and seen ids; not one closed earlier, nor one written by hand or from another topic."""
    clock = ManualClock(T0)
    engine, events = new_engine(clock), []
    events += engine.report(located("s-old", "dispute", "low", nearby(PLAIN, 30))).events
    old = events[-1]["incident"]
    events += engine.action(action("a-old", old, "resolve", T0)).events
    clock.set(T0 + timedelta(days=31))
    now = clock.now()
    events += engine.report(located("s-open", "sanitation", "medium", PLAIN, now)).events
    kept = events[-1]["incident"]
    events += engine.report(located("s-open-2", "sanitation", "medium", nearby(PLAIN, 1), now)).events  # merged
    events += engine.action(action("a-ack", kept, "ack", now)).events
    events += engine.report(located("s-done", "dispute", "low", nearby(PLAIN, -10), now)).events
    done = events[-1]["incident"]
    events += engine.action(action("a-done", done, "resolve", now)).events
    sink = IncidentSink(db)
    await sink.write(events, Progress(TOPIC, "epoch-1", {0: len(events)}))
    elsewhere = new_engine(ManualClock(now))
    await sink.write(
        elsewhere.report(located("s-other", "other", "low", nearby(PLAIN, 20), now)).events,
        Progress("t.other", "epoch-1", {0: 1}),
    )
    await sink.write(elsewhere.report(located("s-hand", "other", "low", nearby(PLAIN, 5), now)).events)

    snapshot = await incident_snapshot(db, TOPIC, "epoch-1", lambda community: True, RULES.keep_closed)
    assert snapshot.offsets == {0: len(events)}
    assert {e["incident"]: e["state"] for e in snapshot.states} == {
        i: engine.incidents[i].state() for i in (kept, done)
    }
    rebuilt = new_engine(ManualClock(now))
    for event in snapshot.states:
        rebuilt.restore(event)
    for community, report, act in snapshot.seen:
        rebuilt.remember(community, report, act)
    # Redelivered, the merged report and the ack are no-ops; a new ack on the resolved one is refused.
    assert rebuilt.report(located("s-open-2", "sanitation", "medium", nearby(PLAIN, 1), now)).events == []
    assert rebuilt.action(action("a-ack", kept, "ack", now)).events == []
    assert rebuilt.action(action("a-again", done, "reopen", now)).events[0]["kind"] == "reopened"
    # The open one's cluster and deadline, as the engine that wrote them had them.
    near = located("s-near", "sanitation", "medium", nearby(PLAIN, 2), now)
    assert rebuilt.report(near).events[0]["incident"] == engine.report(near).events[0]["incident"] == kept
    later = now + timedelta(hours=5)
    clock.set(later)
    rebuilt.clock.set(later)
    fired = [e["id"] for e in rebuilt.due().events if e["incident"] == kept]
    assert fired and fired == [e["id"] for e in engine.due().events if e["incident"] == kept]
    none = await incident_snapshot(db, TOPIC, "epoch-1", lambda community: False, RULES.keep_closed)
    assert (none.states, none.offsets) == ([], {0: len(events)})


async def test_the_unlocated_queues_report_comes_back_as_it_was_published(db):
    engine = new_engine(ManualClock(T0))
    report = {**located("u-1", "sanitation", "low", OUTSIDE), "photos": ["photo/u-1.jpg"]}
    report["location"]["accuracy"] = 12.3
    opened = engine.report(report).events
    reports = PostgresSink(db)
    await reports.write_reports([report])
    await IncidentSink(db).write(opened, Progress(TOPIC, "epoch-1", {0: 1}))
    queued = opened[0]["incident"]
    found = await reports_of(db, [queued, "inc-unlocated-000000000000"])
    assert list(found) == [queued]
    assert json.loads(json.dumps(LocatedReport.validate(found[queued]))) == LocatedReport.validate(report)


async def test_an_unplaceable_12345_orders_report_comes_back_still_saying_so(db):
    """Its point is the street's centre, not where the matter is: after a rebuild the street's placing of it
    must still never make it join a neighbour, so how it was placed is stored with it."""
    engine = new_engine(ManualClock(T0))
    report = {**located("12345-u-2", "dispute", "low", OUTSIDE), "device": "12345", "placed_by": "unlocated"}
    opened = engine.report(report).events
    await PostgresSink(db).write_reports([report])
    await IncidentSink(db).write(opened, Progress(TOPIC, "epoch-1", {0: 1}))
    found = await reports_of(db, [opened[0]["incident"]])
    assert found[opened[0]["incident"]]["placed_by"] == "unlocated"


async def test_major_events_are_stored_once_per_command_and_a_later_command_wins(db):
    sink, actions = MajorEventSink(db), "t.actions"
    start = major_event("drill", 480, 0.5, now=T0)
    shorter = major_event("drill", 2, 0.5, now=T0 + timedelta(hours=1))
    # One command reaches every partition: three records in one batch are one period.
    assert await sink.write([start, start, start], Progress(actions, "epoch-1", {0: 3, 1: 1, 2: 8})) == {
        "runtime_major_events": 1
    }
    await sink.write([shorter], Progress(actions, "epoch-1", {0: 4}))
    await sink.write([start], Progress(actions, "epoch-1", {1: 2}))  # a replay of the older command
    await sink.write([], Progress(actions, "epoch-1", {2: 20}))  # a batch of actions and ticks only
    periods, offsets = await runtime_periods(db, actions, "epoch-1")
    assert periods == [
        {
            "id": "drill",
            "name": "drill",
            "start": (T0 + timedelta(hours=1)).isoformat(),
            "end": (T0 + timedelta(hours=3)).isoformat(),
            "deadline_factor": 0.5,
        }
    ]
    assert offsets == {0: 4, 1: 2, 2: 20}
    assert await runtime_periods(db, "t.other", "epoch-1") == ([], {})


def test_the_major_event_sink_keeps_only_valid_major_event_records():
    decode, period = MajorEventRecords().decode, major_event("drill", 1, 0.5, now=T0)
    assert decode(json.dumps(period)) == period
    inc = "inc-c03-0123456789ab"
    for value in (
        json.dumps(action("a1", inc, "ack", T0, reason="major_event")),
        json.dumps(tick(T0)),
        None,
        b"",
        b'{"control": "major_event"',
        json.dumps({"control": "major_event", "time": T0.isoformat()}),
    ):
        assert decode(value) is None
