"""The simulated dispatchers' desk, on its own: who acts, on what, when, and what it does with each answer."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from streams.demo.dispatch_desk import (
    ACK_SHARE,
    APPROVE_WAIT,
    MAX_TRIES,
    PAUSE_WAIT,
    RESOLVE_SHARE,
    STREET,
    Desk,
    OpenIncident,
    dispatcher_names,
)

T0 = datetime(2026, 12, 6, 1, 0, tzinfo=UTC)
S = timedelta(seconds=1)


def incident(n: int, level: str = "grid", status: str = "assigned", community: str = "c03") -> OpenIncident:
    return OpenIncident(f"inc-{community}-{n:012x}", community, level, status, T0 + 75 * S, T0 + 600 * S)


def desk(neglect: float = 0.12, pause: float = 0.0) -> Desk:
    return Desk(dispatcher_names([f"c{n:02d}" for n in range(1, 14)]), neglect=neglect, pause=pause)


def first_due(d: Desk, i: OpenIncident, limit: int = 1200) -> datetime | None:
    """The first second from T0 at which the desk acts on `i`, None if it never does."""
    for s in range(limit):
        if d.due([i], T0 + s * S):
            return T0 + s * S
    return None


def test_below_the_street_a_share_is_left_to_escalate_and_the_street_lets_nothing_go():
    d = desk()
    grid = [incident(n) for n in range(2000)]
    left = sum(1 for i in grid if not d.due([i], T0 + 80 * S))  # every deadline has passed
    assert 0.09 * 2000 < left < 0.15 * 2000
    assert all(d.due([incident(n, "street")], T0 + 80 * S) for n in range(500))


def test_the_same_incident_gets_the_same_plan_from_a_restarted_desk():
    i = incident(7)
    assert first_due(desk(0), i) == first_due(desk(0), i)


def test_acknowledged_within_its_window_and_resolved_within_its_own():
    d = desk(0)
    due = first_due(d, incident(3))
    assert T0 + 75 * S * ACK_SHARE[0] - S <= due <= T0 + 75 * S * ACK_SHARE[1] + S
    resolving = incident(3, status="acknowledged")
    due = first_due(d, resolving)
    assert T0 + 600 * S * RESOLVE_SHARE[0] - S <= due <= T0 + 600 * S * RESOLVE_SHARE[1] + S


def test_the_community_dispatcher_acts_below_the_street_and_the_street_above():
    d = desk(0)
    late = T0 + 700 * S
    assert [s.actor for s in d.due([incident(1, "grid")], late)] == ["sim-c03"]
    assert [s.actor for s in d.due([incident(2, "community")], late)] == ["sim-c03"]
    assert [s.actor for s in d.due([incident(3, "street")], late)] == [STREET]
    step = d.due([incident(4, "grid", "acknowledged")], late)[0]
    assert (step.action, step.incident) == ("resolve", incident(4).id) and step.id.startswith("act-sim-")


def test_answers_a_step_is_done_with_or_tried_again_with_the_same_id():
    d, late = desk(0), T0 + 700 * S
    for n, outcome in enumerate(("done", "refused", "unknown", "invalid", "forbidden")):
        i = incident(1000 + n)
        step = d.due([i], late)[0]
        d.answered(step, outcome, late)
        assert d.due([i], late + 60 * S) == []
    i = incident(99)
    tries = []
    for n in range(10):
        now = late + n * 20 * S
        for step in d.due([i], now):
            tries.append(step.id)
            d.answered(step, "pending", now)
    assert len(tries) == MAX_TRIES and len(set(tries)) == 1


def test_an_escalated_incident_is_planned_afresh_and_a_closed_one_forgotten():
    d, late = desk(0), T0 + 700 * S
    step = d.due([incident(5, "grid")], late)[0]
    d.answered(step, "done", late)
    assert d.due([incident(5, "community")], late)  # the new level's owner acts
    d.due([], late)
    assert d.plans == {}


def test_a_share_is_paused_for_the_resident_approved_by_the_street_resumed_then_resolved():
    d, late = desk(0, pause=0.15), T0 + 700 * S
    first = [d.due([incident(n, status="acknowledged")], late)[0] for n in range(1000)]
    paused = [s for s in first if s.action == "pause"]
    assert 0.12 * 1000 < len(paused) < 0.18 * 1000
    step = paused[0]
    assert (step.actor, step.extra) == ("sim-c03", {"pause_reason": "resident"})
    d.answered(step, "done", late)
    n = int(step.incident.rsplit("-", 1)[1], 16)
    waiting = replace(incident(n, status="acknowledged"), pause="waiting")
    assert d.due([waiting], late) == []  # first seen waiting: the street answers within APPROVE_WAIT
    (approve,) = d.due([waiting], late + APPROVE_WAIT[1])
    assert (approve.action, approve.actor, approve.extra) == ("approve", STREET, {"request": step.id})
    d.answered(approve, "done", late + APPROVE_WAIT[1])
    approved = replace(waiting, pause="approved")
    assert d.due([approved], late + APPROVE_WAIT[1]) == []
    (resume,) = d.due([approved], late + APPROVE_WAIT[1] + PAUSE_WAIT[1])
    assert resume.action == "resume" and resume.actor == "sim-c03"
    d.answered(resume, "done", late + PAUSE_WAIT[1] * 2)
    (resolve,) = d.due([incident(n, status="acknowledged")], late + PAUSE_WAIT[1] * 3)
    assert resolve.action == "resolve"  # paused once, then resolved
