"""Waiting for the engine's verdict on an action, as pure asyncio: events are handed in by hand."""

from __future__ import annotations

import asyncio

from streams.http.actions import answer
from streams.http.verdicts import Verdicts

ACTION = {"id": "act-1", "incident": "inc-c01-0123456789ab", "actor": "zhao", "action": "resolve", "reason": "x"}


def event(kind: str = "resolved", action: str = "act-1", state: bool = True, **extra) -> dict:
    value = {
        "id": f"{ACTION['incident']}:00002",
        "incident": ACTION["incident"],
        "kind": kind,
        "action": action,
        "reason": "done",
        **extra,
    }
    return {**value, "state": {"status": "resolved"}} if state else value


async def test_an_event_that_comes_back_while_the_action_is_sent_is_not_missed():
    verdicts = Verdicts()

    async def send():
        verdicts.observe(event())  # the engine answered before the producer returned

    assert (await verdicts.wait(ACTION["incident"], "act-1", 1.0, send))["kind"] == "resolved"
    assert verdicts._waiting == {}


async def test_a_verdict_resolves_every_waiter_of_its_action_and_no_other():
    verdicts = Verdicts()

    async def nothing():
        pass

    first = asyncio.create_task(verdicts.wait(ACTION["incident"], "act-1", 1.0, nothing))
    again = asyncio.create_task(verdicts.wait(ACTION["incident"], "act-1", 1.0, nothing))  # a double submit
    other = asyncio.create_task(verdicts.wait(ACTION["incident"], "act-2", 0.2, nothing))
    await asyncio.sleep(0)
    verdicts.observe(event(action="act-1"))
    verdicts.observe(event(incident="inc-c02-0123456789ab", action="act-2"))  # same action id, other incident
    assert (await first)["kind"] == (await again)["kind"] == "resolved"
    assert await other is None and verdicts._waiting == {}


async def test_no_verdict_in_time_is_none_and_leaves_nothing_behind():
    verdicts = Verdicts()

    async def nothing():
        pass

    assert await verdicts.wait(ACTION["incident"], "act-1", 0.05, nothing) is None
    assert verdicts._waiting == {}


def test_the_first_event_of_an_action_is_its_verdict_and_recent_ones_are_remembered_in_bounds():
    verdicts = Verdicts(remember=2)
    verdicts.observe(event("escalated"))
    verdicts.observe(event("resolved"))  # a later event naming the same action changes nothing
    verdicts.observe({"incident": ACTION["incident"], "kind": "deadline_missed"})  # no action: nobody's verdict
    assert verdicts.known(ACTION["incident"], "act-1")["kind"] == "escalated"
    verdicts.observe(event(action="act-2"))
    verdicts.observe(event(action="act-3"))
    assert verdicts.known(ACTION["incident"], "act-1") is None  # forgotten, oldest first
    assert verdicts.known(ACTION["incident"], "act-3") is not None


def test_the_answer_for_each_verdict():
    status, body = answer(ACTION, event(), 3.0)
    assert status == 200 and body == {
        "verdict": "resolved",
        "incident": ACTION["incident"],
        "action": "act-1",
        "event": event(),
    }
    refused = event("action_rejected", reason="cannot resolve an incident that is resolved; only when acknowledged")
    assert answer(ACTION, refused, 3.0) == (
        409,
        {
            "error": "refused",
            "errors": [
                {"field": "action", "reason": "cannot resolve an incident that is resolved; only when acknowledged"}
            ],
        },
    )
    unknown = event("action_rejected", state=False, reason="no incident inc-c01-0123456789ab is known in community c01")
    status, body = answer(ACTION, unknown, 3.0)
    assert status == 404 and body["errors"] == [{"field": "incident", "reason": unknown["reason"]}]
    status, body = answer(ACTION, None, 3.0)
    assert status == 202 and body["accepted"] == "act-1" and "no verdict within 3 s" in body["outcome"]
