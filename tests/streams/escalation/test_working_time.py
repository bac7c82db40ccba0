"""The engine's clocks in working time (the default calendar: Monday-Friday 09:00-17:00 in Beijing, holidays
and 调休 from chinesecalendar): the issue's worked examples, pauses and the street's approval, extension,
return, the early warning (预警), and deadlines that a restore from the last event computes again."""

from __future__ import annotations

from datetime import timedelta

import pytest

from config.spans import parse_span
from streams.escalation import clocks
from tests.support.incident_factories import located
from tests.support.working_time import CALENDAR, TUESDAY, act, bj, checked, engine_at, opened_and_acked, working_rules


@pytest.fixture
def rules(tmp_path):
    return working_rules(tmp_path)


def test_an_incident_keeps_its_limits_and_the_rules_version_it_opened_under(rules):
    engine, clock = engine_at(rules, TUESDAY)
    state = engine.report(located("r1", "sanitation", "medium", at=TUESDAY)).events[0]["state"]
    assert state["rules"] == rules.version and len(rules.version) == 12
    assert state["limits"]["grid"] == {"acknowledge": "30m", "resolve": "4wh"}
    assert state["clock"] == {"since": TUESDAY.isoformat(), "factor": 1.0, "paused": []}
    assert state["resolve_by"] == bj("2026-12-08", "14:00").isoformat()  # 10:00 + 4 working hours


@pytest.mark.parametrize("approved", [True, False])
def test_pausing_65_working_minutes_moves_the_deadline_65_working_minutes_later(rules, approved):
    engine, clock = engine_at(rules, TUESDAY)
    inc = opened_and_acked(engine, clock)
    paused = act(engine, clock, bj("2026-12-08", "10:30"), "pause", inc, pause_reason="resident")
    assert [e["kind"] for e in paused.events] == ["paused"]
    assert [(a["kind"], a["owner"]) for a in paused.alerts] == [("approval_requested", "xichangan")]
    assert "等待居民" in paused.events[0]["reason"]
    state = paused.events[0]["state"]
    assert state["pause"]["counts_until"] == bj("2026-12-08", "12:30").isoformat()  # [pause] approve_after 2wh
    assert state["requests"][0]["kind"] == "pause"
    if approved:
        answer = act(
            engine, clock, bj("2026-12-08", "10:40"), "approve", inc, "street-1", request=state["pause"]["action"]
        )
        assert [e["kind"] for e in answer.events] == ["approved"]
        assert "resolve_by" not in answer.events[0]["state"]  # stopped until resumed
        assert answer.events[0]["state"]["remaining"]["resolve"] == 3.5 * 3600
        clock.set(bj("2026-12-20", "10:00"))
        assert engine.due().events == []  # nothing fires while an approved pause stops the clocks
    resumed = act(engine, clock, bj("2026-12-08", "11:35"), "resume", inc)
    state = resumed.events[0]["state"]
    assert (resumed.events[0]["kind"], "pause" in state, state.get("requests")) == ("resumed", False, None)
    assert state["clock"]["paused"] == [{"from": bj("2026-12-08", "10:30").isoformat(), "to": clock.now().isoformat()}]
    assert state["resolve_by"] == bj("2026-12-08", "15:05").isoformat()


def test_a_pause_over_the_evening_counts_only_its_working_minutes(rules):
    engine, clock = engine_at(rules, bj("2026-12-08", "15:00"))
    inc = opened_and_acked(engine, clock)
    assert engine.incidents[inc].resolve_by == bj("2026-12-09", "11:00")  # 2 working hours today, 2 tomorrow
    request = act(engine, clock, bj("2026-12-08", "16:30"), "pause", inc, pause_reason="weather").events[0]
    act(engine, clock, bj("2026-12-08", "16:31"), "approve", inc, "street-1", request=request["action"])
    state = act(engine, clock, bj("2026-12-09", "09:35"), "resume", inc).events[0]["state"]
    assert state["resolve_by"] == bj("2026-12-09", "12:05").isoformat()  # 30 + 35 working minutes paused


def test_an_unapproved_pause_counts_only_until_approve_after(rules):
    engine, clock = engine_at(rules, TUESDAY)
    inc = opened_and_acked(engine, clock)
    act(engine, clock, bj("2026-12-08", "10:00"), "pause", inc, pause_reason="department")
    clock.set(bj("2026-12-08", "15:59"))
    assert [e["kind"] for e in engine.due().events] == ["warned"]  # 预警 at 80 %: 10:00 + 2wh paused + 3.2wh
    clock.set(bj("2026-12-08", "16:00"))  # 4 working hours after the 2 that the pause stopped
    assert [e["kind"] for e in engine.due().events] == ["escalated"]


def test_a_case_opened_before_national_day_does_not_breach_in_the_holiday_and_the_makeup_saturday_counts(rules):
    engine, clock = engine_at(rules, bj("2026-09-30", "15:00"))  # the last working afternoon before 国庆
    inc = opened_and_acked(engine, clock, "high")  # the community: resolve within 3 working days
    assert engine.incidents[inc].resolve_by == bj("2026-10-10", "15:00")  # 2 h + 10-08 + 10-09 + 6 h on Saturday
    day = bj("2026-09-30", "18:00")
    while day < bj("2026-10-10", "09:00"):
        clock.set(day)
        assert engine.due().events == [], day
        day += timedelta(hours=6)
    clock.set(bj("2026-10-10", "10:12"))
    warned = checked(engine.due())
    assert [e["kind"] for e in warned.events] == ["warned"] and warned.events[0]["when"] == clock.now().isoformat()
    assert [(a["kind"], a["owner"]) for a in warned.alerts] == [("deadline_warning", "c03")]
    assert "2026-10-10 15:00" in warned.events[0]["reason"]
    clock.set(bj("2026-10-10", "15:00"))
    breach = checked(engine.due()).events
    assert [(e["kind"], e["to_level"], e["when"]) for e in breach] == [("escalated", "street", clock.now().isoformat())]


def test_an_extension_counts_once_the_street_approves_it(rules):
    engine, clock = engine_at(rules, TUESDAY)
    inc = opened_and_acked(engine, clock)
    shorter = act(engine, clock, bj("2026-12-08", "11:00"), "extend", inc, limit="3h").events[0]
    assert shorter["kind"] == "action_rejected" and "不比" in shorter["reason"]
    asked = act(engine, clock, bj("2026-12-08", "11:01"), "extend", inc, limit="2wd")
    assert [(a["kind"], a["owner"]) for a in asked.alerts] == [("approval_requested", "xichangan")]
    assert asked.events[0]["state"]["resolve_by"] == bj("2026-12-08", "14:00").isoformat()  # not yet
    request = asked.events[0]["action"]
    again = act(engine, clock, bj("2026-12-08", "11:02"), "extend", inc, limit="3wd").events[0]
    assert again["kind"] == "action_rejected" and "待街道批准" in again["reason"]
    done = act(engine, clock, bj("2026-12-08", "11:03"), "approve", inc, "street-1", request=request).events[0]
    assert done["kind"] == "extended" and done["state"]["clock"]["extended"] == "2wd"
    assert done["state"]["resolve_by"] == bj("2026-12-10", "10:00").isoformat()  # 16 working hours from 10:00


def test_a_return_closes_the_case_naming_the_unit_and_a_deny_answers_any_request(rules):
    engine, clock = engine_at(rules, TUESDAY)
    inc = opened_and_acked(engine, clock)
    first = act(engine, clock, bj("2026-12-08", "10:10"), "return", inc, unit="区城管委").events[0]
    denied = act(engine, clock, bj("2026-12-08", "10:20"), "deny", inc, "street-1", request=first["action"])
    assert denied.events[0]["kind"] == "denied" and "requests" not in denied.events[0]["state"]
    second = act(engine, clock, bj("2026-12-08", "10:30"), "return", inc, unit="区水务局").events[0]
    done = act(engine, clock, bj("2026-12-08", "10:40"), "approve", inc, "street-1", request=second["action"]).events[0]
    assert (done["kind"], done["state"]["status"], done["state"]["flags"]) == ("returned", "closed", ["returned"])
    assert "区水务局" in done["reason"] and "resolve_by" not in done["state"]
    late = act(engine, clock, bj("2026-12-08", "10:50"), "approve", inc, "street-1", request=second["action"])
    assert late.events[0]["kind"] == "action_rejected"


def test_refusals_say_why_in_chinese(rules):
    engine, clock = engine_at(rules, TUESDAY)
    inc = opened_and_acked(engine, clock)
    resume = act(engine, clock, bj("2026-12-08", "10:10"), "resume", inc).events[0]
    assert resume["kind"] == "action_rejected" and "未挂起" in resume["reason"]
    act(engine, clock, bj("2026-12-08", "10:20"), "pause", inc, pause_reason="other")
    twice = act(engine, clock, bj("2026-12-08", "10:30"), "pause", inc, pause_reason="other").events[0]
    assert twice["kind"] == "action_rejected" and "2026-12-08 10:20 挂起" in twice["reason"]
    unknown = act(engine, clock, bj("2026-12-08", "10:40"), "approve", inc, "street-1", request="act-nothing").events[0]
    assert unknown["kind"] == "action_rejected" and "act-nothing" in unknown["reason"]
    # A limit no known year can hold (the schema allows any number) is refused, and the engine goes on.
    huge = act(engine, clock, bj("2026-12-08", "10:50"), "extend", inc, limit="99999wd").events[0]
    assert huge["kind"] == "action_rejected" and "超出工作日历" in huge["reason"]


def test_a_moved_deadline_warns_again(rules):
    engine, clock = engine_at(rules, TUESDAY)
    inc = opened_and_acked(engine, clock)
    clock.set(bj("2026-12-08", "13:12"))  # 80 % of 4 working hours
    assert [e["state"]["warned"]["resolve"] for e in engine.due().events] == [bj("2026-12-08", "14:00").isoformat()]
    request = act(engine, clock, bj("2026-12-08", "13:20"), "extend", inc, limit="1wd").events[0]["action"]
    act(engine, clock, bj("2026-12-08", "13:30"), "approve", inc, "street-1", request=request)
    clock.set(bj("2026-12-08", "16:23"))  # 10:00 + 6.4 working hours
    assert engine.due().events == []
    clock.set(bj("2026-12-08", "16:24"))
    assert [e["reason_code"] for e in engine.due().events] == ["warning_resolve"]


def test_a_restore_from_the_last_event_computes_the_same_deadlines(rules):
    engine, clock = engine_at(rules, TUESDAY)
    inc = opened_and_acked(engine, clock)
    request = act(engine, clock, bj("2026-12-08", "10:30"), "pause", inc, pause_reason="resident").events[0]
    last = act(engine, clock, bj("2026-12-08", "11:00"), "approve", inc, "street-1", request=request["action"])
    last = act(engine, clock, bj("2026-12-08", "11:45"), "resume", inc).events[-1]
    rebuilt, _ = engine_at(rules, clock.now())
    rebuilt.restore(last)
    mine, theirs = engine.incidents[inc], rebuilt.incidents[inc]
    assert (theirs.ack_by, theirs.resolve_by, theirs.warn_at) == (mine.ack_by, mine.resolve_by, mine.warn_at)
    assert clocks.deadlines(last["state"], CALENDAR).due["resolve"].isoformat() == last["state"]["resolve_by"]


def test_a_limit_times_the_major_event_factor(rules):
    state = {"status": "assigned", "level": "grid", "limits": rules.limits_for("sanitation")}
    state["clock"] = {"since": TUESDAY.isoformat(), "factor": 0.5, "paused": []}
    assert clocks.limit(state, "resolve") == parse_span("2wh")
    assert clocks.deadlines(state, CALENDAR).due["resolve"] == bj("2026-12-08", "12:00")
