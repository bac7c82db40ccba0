"""Properties of the engine's clocks over any sequence of pauses, resumes, approvals, denials and extensions
(hypothesis): no deadline is ever earlier than the same limit counted without them, and an engine restored
from the last event computes the same deadlines and warnings as the engine that wrote it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streams.escalation import clocks
from streams.escalation.state import parse_time
from tests.support.incident_factories import action
from tests.support.working_time import CALENDAR, TUESDAY, engine_at, opened_and_acked, working_rules

STEPS = st.lists(
    st.tuples(
        st.integers(min_value=0, max_value=24 * 60),  # minutes to the next action
        st.sampled_from(("pause", "resume", "approve", "deny", "extend", "nothing")),
        st.sampled_from(("community-1", "street-1")),
    ),
    max_size=12,
)


@pytest.fixture(scope="module")
def rules(tmp_path_factory):
    return working_rules(tmp_path_factory.mktemp("rules"))


def step(engine, clock, inc: str, n: int, verb: str, actor: str) -> list[dict]:
    clock.set(clock.now() + timedelta(minutes=n))
    if verb == "nothing":
        return engine.due().events
    pending = engine.incidents[inc].requests
    extra = {
        "pause": {"pause_reason": "resident"},
        "extend": {"limit": "2wd"},
        "approve": {"request": pending[0]["action"] if pending else "act-none"},
        "deny": {"request": pending[-1]["action"] if pending else "act-none"},
    }.get(verb, {})
    return engine.action(action(f"{verb}-{n}-{clock.now():%j%H%M}", inc, verb, clock.now(), actor, **extra)).events


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=STEPS)
def test_pauses_never_make_a_deadline_earlier(rules, steps):
    engine, clock = engine_at(rules, TUESDAY)
    inc = opened_and_acked(engine, clock)
    for n, verb, actor in steps:
        for event in step(engine, clock, inc, n, verb, actor):
            state = event.get("state", {})
            if "resolve_by" not in state or "clock" not in state:
                continue
            since = parse_time(state["clock"]["since"])
            unpaused = CALENDAR.deadline(since, clocks.limit(state, "resolve"))
            assert parse_time(state["resolve_by"]) >= unpaused, event


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=STEPS)
def test_a_replay_computes_the_same_deadlines(rules, steps):
    engine, clock = engine_at(rules, TUESDAY)
    inc = opened_and_acked(engine, clock)
    last = None
    for n, verb, actor in steps:
        events = [e for e in step(engine, clock, inc, n, verb, actor) if e["kind"] != "action_rejected"]
        last = events[-1] if events else last
    if last is None or inc not in engine.incidents:
        return
    rebuilt, _ = engine_at(rules, clock.now())
    rebuilt.restore(last)
    mine, theirs = engine.incidents[inc], rebuilt.incidents[inc]
    assert (theirs.ack_by, theirs.resolve_by, theirs.warn_at) == (mine.ack_by, mine.resolve_by, mine.warn_at)
    assert (theirs.pause, theirs.requests, theirs.clock) == (mine.pause, mine.requests, mine.clock)
