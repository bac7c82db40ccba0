"""The task book (streams/tasks/book.py) against hand-computed answers: the lifecycle, refusals with their
reasons, redelivered actions answering nothing, cancel, the warnings and lates of each deadline in calendar
and working time, and the alerts to each kind of creator. A verify_report task runs 1h to arrive and 4wh to
finish; from Tuesday 2026-12-08 10:00 (a working day, 09:00-17:00) that is 11:00 and 14:00, warned at 0.8 of
each: 10:48 and 13:12 (3.2 working hours)."""

from __future__ import annotations

import pytest

from schemas.tasks import TaskAction
from tests.streams.tasks.book_factories import (
    COURTYARD,
    CREATORS,
    STREET,
    WORKER,
    batch,
    bj,
    book,
    checked,
    create,
    stay,
    step,
)

TUE = bj("2026-12-08 10:00")


def opened(b=None, task: str = "task-1", when=TUE, **extra):
    b = b or book()
    events, alerts = checked(b.act(create(task, when, **extra), when))
    assert [e["event"] for e in events] == ["created"] and alerts == []
    return b


def events_of(out) -> list[tuple[str, str]]:
    return [(e["event"], e["when"]) for e in checked(out)[0]]


def test_create_accept_arrive_done():
    b = book()
    events, _ = checked(b.act(create("task-1", TUE), TUE))
    state = events[0]["state"]
    assert (events[0]["id"], events[0]["seq"], events[0]["actor"]) == ("task-1:1", 1, "disp-c01")
    assert (state["status"], state["limits"], state["unconfirmed"]) == ("open", {"arrive": "1h", "done": "4wh"}, "no")
    assert (state["arrive_by"], state["done_by"]) == ("2026-12-08T11:00:00+08:00", "2026-12-08T14:00:00+08:00")
    assert b.watched == {WORKER} and set(b.tasks()) == {"task-1"}

    events, _ = checked(b.act(step("accept", "task-1", bj("2026-12-08 10:02")), bj("2026-12-08 10:02")))
    assert [(e["event"], e["seq"], e["state"]["status"]) for e in events] == [("accepted", 2, "accepted")]

    # Fixes every 10 s from 10:20:00: the one at 10:21:00 completes 60 s inside; the arrival is 10:20:00.
    events, _ = checked(b.fixes(batch(*stay(bj("2026-12-08 10:20"), 90))))
    (arrived,) = events
    assert (arrived["event"], arrived["actor"], arrived["seq"]) == ("arrived", "gps", 3)
    assert arrived["when"] == arrived["state"]["arrived_at"] == "2026-12-08T10:20:00+08:00"
    assert (arrived["state"]["status"], arrived["state"]["arrive_seconds"]) == ("arrived", 1200)
    assert checked(b.fixes(batch(*stay(bj("2026-12-08 10:25"), 90)))) == ([], [])  # arrived once

    done = step("done", "task-1", bj("2026-12-08 10:40"), note="已登记", report="rep-9")
    events, _ = checked(b.act(done, bj("2026-12-08 10:40")))
    state = events[0]["state"]
    assert (events[0]["event"], state["status"], state["unconfirmed"]) == ("done", "done", "no")
    assert (state["done_note"], state["done_report"], state["done_at"]) == ("已登记", "rep-9", done["time"])
    assert b.watched == set() and dict(b.tasks()) == {}
    assert b.tick(bj("2026-12-08 20:00")) == ([], [])  # a done task fires nothing more


def test_done_without_an_arrival_is_unconfirmed():
    b = opened()
    events, _ = checked(b.act(step("done", "task-1", bj("2026-12-08 10:30")), bj("2026-12-08 10:30")))
    assert events[0]["state"]["unconfirmed"] == "yes" and "arrived_at" not in events[0]["state"]


def test_a_fix_far_away_or_of_another_device_confirms_nothing():
    b = opened()
    assert b.fixes(batch(*stay(bj("2026-12-08 10:20"), 120, north_m=80))) == ([], [])
    assert b.fixes(batch(*stay(bj("2026-12-08 10:20"), 120), device="dev-other")) == ([], [])
    courtyard = opened(task="task-2", courtyard=COURTYARD)
    events, _ = checked(courtyard.fixes(batch(*stay(bj("2026-12-08 10:20"), 60, north_m=200, courtyard=COURTYARD))))
    assert [e["event"] for e in events] == ["arrived"]


@pytest.mark.parametrize(
    "before, action, reason",
    [
        ([], step("accept", "task-1", TUE, actor="dev-other"), "只有任务的执行人（dev-w1）可以接收"),
        ([], step("done", "task-1", TUE, actor="dev-other"), "只有任务的执行人（dev-w1）可以完成"),
        ([step("cancel", "task-1", TUE, actor="disp-c01")], step("done", "task-1", TUE), "任务已撤销，不能完成"),
        ([step("cancel", "task-1", TUE, actor="disp-c01")], step("accept", "task-1", TUE), "任务已撤销，不能接收"),
        ([step("done", "task-1", TUE)], step("cancel", "task-1", TUE, actor="disp-c01"), "任务已完成，不能撤销"),
    ],
)
def test_an_action_that_does_not_fit_is_refused_with_its_reason_and_changes_nothing(before, action, reason):
    b = opened()
    for earlier in before:
        b.act(earlier, TUE)
    seq = 1 + len(before)
    events, alerts = checked(b.act(action, TUE))
    assert alerts == [] and len(events) == 1
    refused = events[0]
    assert (refused["event"], refused["reason"], refused["seq"]) == ("refused", reason, seq)
    assert refused["id"] == f"task-1:refused:{action['id']}" and refused["action"] == action["id"]
    assert refused["state"]["seq"] == seq
    follow = step("cancel", "task-1", bj("2026-12-08 10:05"), actor="disp-c01")
    if not before:  # nothing changed: the next step has the next seq
        assert checked(b.act(follow, bj("2026-12-08 10:05")))[0][0]["seq"] == 2


def test_an_unknown_task_an_assign_and_an_incomplete_create_are_refused():
    b = opened()
    (unknown,), _ = checked(b.act(step("accept", "task-9", TUE), TUE))
    assert (unknown["reason"], unknown["seq"], unknown["device"]) == ("没有这项任务（或已结束多时）", 0, WORKER)
    assert "state" not in unknown
    assign = TaskAction.validate({**step("accept", "task-1", TUE), "action": "assign"})
    assert checked(b.act(assign, TUE))[0][0]["reason"] == "未知操作：assign"
    incomplete = {k: v for k, v in create("task-2", TUE).items() if k != "location"}
    assert checked(b.act(incomplete, TUE))[0][0]["reason"] == "派发缺少 location"
    # 400 working days run past the years the calendar knows (2027 is the last): refused, never guessed.
    (far,), _ = checked(b.act(create("task-3", TUE, done_within="400wd"), TUE))
    assert far["event"] == "refused" and "工作日历" in far["reason"]
    assert set(b.tasks()) == {"task-1"}


def test_redelivered_actions_answer_nothing():
    b = opened()
    assert b.act(create("task-1", TUE, note="again"), TUE) == ([], [])
    accept = step("accept", "task-1", bj("2026-12-08 10:01"))
    assert len(b.act(accept, bj("2026-12-08 10:01"))[0]) == 1
    assert b.act(accept, bj("2026-12-08 10:01")) == ([], [])
    assert b.act(step("accept", "task-1", bj("2026-12-08 10:03")), bj("2026-12-08 10:03")) == ([], [])
    done = step("done", "task-1", bj("2026-12-08 10:30"))
    assert len(b.act(done, bj("2026-12-08 10:30"))[0]) == 1
    assert b.act(done, bj("2026-12-08 10:30")) == ([], [])
    c = opened(task="task-2")
    cancel = step("cancel", "task-2", TUE, actor="disp-c01")
    events, _ = checked(c.act(cancel, TUE))
    assert [(e["event"], e["state"]["status"]) for e in events] == [("cancelled", "cancelled")]
    assert c.act(cancel, TUE) == ([], []) and c.watched == set()
    assert c.tick(bj("2026-12-09 10:00")) == ([], [])


def test_each_deadline_warns_at_its_share_and_is_late_at_its_limit_once():
    b = opened()
    assert b.tick(bj("2026-12-08 10:47:59")) == ([], [])
    events, alerts = checked(b.tick(bj("2026-12-08 10:48")))
    assert events_of((events, alerts)) == [("warned", "2026-12-08T10:48:00+08:00")]
    assert (events[0]["reason"], events[0]["actor"]) == ("arrive", "clock")
    assert events[0]["state"]["warned"] == {"arrive": "2026-12-08T11:00:00+08:00"}
    assert [(a["id"], a["kind"], a["priority"]) for a in alerts] == [
        ("task-1:task_warning:arrive", "task_warning", "normal")
    ]
    assert b.tick(bj("2026-12-08 10:50")) == ([], [])
    events, alerts = checked(b.tick(bj("2026-12-08 11:00")))
    assert events_of((events, alerts)) == [("late", "2026-12-08T11:00:00+08:00")]
    assert events[0]["state"]["late"] == {"arrive": "2026-12-08T11:00:00+08:00"}
    assert [(a["id"], a["priority"]) for a in alerts] == [("task-1:task_late:arrive", "high")]
    assert events_of(b.tick(bj("2026-12-08 13:30"))) == [("warned", "2026-12-08T13:12:00+08:00")]
    assert events_of(b.tick(bj("2026-12-08 14:00"))) == [("late", "2026-12-08T14:00:00+08:00")]
    assert b.tick(bj("2026-12-09 14:00")) == ([], [])


def test_a_working_time_limit_from_friday_afternoon_falls_on_monday():
    fri = bj("2026-12-04 16:00")
    b = opened(when=fri, arrive_within="2wh")
    state = b.tasks()["task-1"]
    # 2wh: Friday 16:00-17:00 and Monday 09:00-10:00; 4wh: 3 h more on Monday, 12:00.
    assert (state["arrive_by"], state["done_by"]) == ("2026-12-07T10:00:00+08:00", "2026-12-07T12:00:00+08:00")
    assert (state["limits"]["arrive"], state["limits"]["done"]) == ("2wh", "4wh")
    assert b.tick(bj("2026-12-06 23:59")) == ([], [])  # the weekend counts no working time
    # Warnings at 1.6 and 3.2 working hours: Monday 09:36 and 11:12.
    assert events_of(b.tick(bj("2026-12-07 09:36"))) == [("warned", "2026-12-07T09:36:00+08:00")]
    assert events_of(b.tick(bj("2026-12-07 11:12"))) == [
        ("late", "2026-12-07T10:00:00+08:00"),
        ("warned", "2026-12-07T11:12:00+08:00"),
    ]


def test_a_warning_after_its_own_deadline_says_nothing():
    b = opened()
    assert events_of(b.tick(bj("2026-12-08 11:30"))) == [("late", "2026-12-08T11:00:00+08:00")]


def test_a_step_after_a_deadline_reads_after_its_late_however_often_the_clock_ticks():
    b = opened()
    events, alerts = checked(b.act(step("done", "task-1", bj("2026-12-08 11:30")), bj("2026-12-08 11:31")))
    assert [(e["event"], e["seq"]) for e in events] == [("late", 2), ("done", 3)]
    assert events[1]["state"]["late"] == {"arrive": "2026-12-08T11:00:00+08:00"}
    assert [(a["id"], a["status"], a["created_at"]) for a in alerts] == [
        ("task-1:task_late:arrive", "firing", "2026-12-08T11:31:00+08:00"),
        ("task-1:task_late:arrive", "resolved", "2026-12-08T11:31:00+08:00"),  # done: nobody is reminded
    ]
    c = opened()
    events, alerts = checked(c.fixes(batch(*stay(bj("2026-12-08 11:10"), 60))))
    assert events_of((events, [])) == [("late", "2026-12-08T11:00:00+08:00"), ("arrived", "2026-12-08T11:10:00+08:00")]
    assert [(a["status"], a["event_time"]) for a in alerts] == [
        ("firing", "2026-12-08T11:00:00+08:00"),
        ("resolved", "2026-12-08T11:11:00+08:00"),  # there: the dwell confirmed it a minute after the first fix
    ]
    assert events[1]["state"]["arrive_seconds"] == 4200
    assert events_of(c.tick(bj("2026-12-08 12:00"))) == []  # the late is not fired twice
    # An accept after the arrival keeps the task arrived.
    (accepted,), _ = checked(c.act(step("accept", "task-1", bj("2026-12-08 12:05")), bj("2026-12-08 12:05")))
    assert (accepted["state"]["status"], accepted["state"]["accepted_at"]) == ("arrived", "2026-12-08T12:05:00+08:00")


def test_what_was_late_is_cleared_when_the_task_ends_so_its_reminders_stop():
    b = opened()
    late = checked(b.tick(bj("2026-12-08 14:30")))[1]
    assert [(a["id"], a["status"]) for a in late] == [
        ("task-1:task_late:arrive", "firing"),
        ("task-1:task_late:done", "firing"),
    ]
    _, cleared = checked(
        b.act(step("cancel", "task-1", bj("2026-12-08 15:00"), actor="disp-c01"), bj("2026-12-08 15:00"))
    )
    assert [(a["id"], a["status"]) for a in cleared] == [
        ("task-1:task_late:arrive", "resolved"),
        ("task-1:task_late:done", "resolved"),
    ]
    assert cleared[0]["title"] == late[0]["title"] and cleared[0]["owner"] == late[0]["owner"]


def test_a_phones_clock_ahead_of_ours_fires_nothing_early():
    b = opened()
    events, alerts = checked(b.act(step("done", "task-1", bj("2026-12-08 11:30")), bj("2026-12-08 10:30")))
    assert [e["event"] for e in events] == ["done"] and alerts == []
    assert events[0]["state"]["late"] == {}


@pytest.mark.parametrize(
    "creator, task, level, owner",
    [
        (CREATORS["street"], {}, "street", STREET),
        (CREATORS["community"], {}, "community", "c01"),
        ({"subject": "disp-x", "role": "community"}, {"community": "c02", "grid": "c02-g03"}, "community", "c02"),
        (CREATORS["grid_chief"], {}, "grid", "c01-g01"),
        (CREATORS["grid_chief"], {"grid": None}, "community", "c01"),
    ],
)
def test_the_alert_goes_to_the_creator_at_their_level(creator, task, level, owner):
    b = book(names=lambda device: {WORKER: "王芳"}.get(device, device), places={COURTYARD: "新文化街1号院"}.get)
    utc = "2026-12-08T02:00:00+00:00"  # 10:00 in Beijing: the text says Beijing time
    action = {**create("task-1", TUE, creator=creator, courtyard=COURTYARD, **task), "time": utc}
    checked(b.act({k: v for k, v in action.items() if v is not None}, TUE))
    _, (alert,) = checked(b.tick(bj("2026-12-08 11:00")))
    assert (alert["level"], alert["owner"], alert["street"], alert["task"]) == (level, owner, STREET, "task-1")
    assert (alert["devices"], alert["severity"], alert["event_time"]) == (
        [WORKER],
        "medium",
        "2026-12-08T03:00:00+00:00",
    )
    assert alert["title"]["zh"] == "任务超时：王芳（dev-w1） 到场时限已过（新文化街1号院）"
    assert (
        "核实上报任务 task-1：王芳（dev-w1），地点 新文化街1号院，到场时限 2026-12-08 11:00 已过，尚未到场。"
        in alert["body"]["zh"]
    )
    assert "arrive by 2026-12-08T03:00:00+00:00 has passed" in alert["body"]["en"]
