"""The routing engine with an injected clock: grouping, group and repeat intervals, inhibition,
quiet hours and replays."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from config.routing import load_routing
from consumers.routing import Router
from tests.support.clock import ManualClock
from tests.support.factories import alert

ROUTING = """
utc_offset = "+08:00"
max_age = "1h"

[channels.staff]
type = "json"
url = "http://127.0.0.1:9/staff"

[channels.centre]
type = "wecom"
url = "http://127.0.0.1:9/centre"

[route]
channels = ["staff"]
group_by = ["community"]
group_wait = "30s"
group_interval = "2m"
repeat_interval = "1h"
quiet_hours = { start = "22:00", end = "07:00" }

[[route.routes]]
match = { level = ["street", "district"] }
channels = ["centre"]
group_by = ["incident"]
group_wait = "0s"
quiet_hours = {}
continue = true

[[route.routes]]

[[inhibit]]
source = { level = ["street"] }
target = { level = ["community"] }
equal = ["incident"]
"""

NOON_BEIJING = datetime(2026, 11, 28, 4, 0, tzinfo=UTC)  # 12:00 at +08:00


@pytest.fixture
def routing(tmp_path: Path):
    path = tmp_path / "routing.toml"
    path.write_text(ROUTING)
    return load_routing(path)


def router(routing, channel="staff", start=NOON_BEIJING):
    clock = ManualClock(start)
    return Router(routing, channel, clock), clock


def at(clock: ManualClock, alert_id: str, **changes) -> dict:
    return alert(alert_id, event_time=clock.now(), **changes)


def ids(notifications) -> list[list[str]]:
    return [[a["id"] for a in n.alerts] for n in notifications]


def test_group_waits_then_sends_one_notification_per_group(routing):
    r, clock = router(routing)
    assert r.offer(at(clock, "a1", community="c01"))
    clock.advance(10)
    r.offer(at(clock, "a2", community="c01"))
    r.offer(at(clock, "b1", community="c02"))
    assert r.due() == []  # c01's group_wait (30 s) has not passed
    clock.advance(20)
    assert ids(r.due()) == [["a1", "a2"]]
    clock.advance(10)
    assert ids(r.due()) == [["b1"]]
    assert r.pending() == set()


def test_group_interval_batches_later_alerts(routing):
    r, clock = router(routing)
    r.offer(at(clock, "a1"))
    clock.advance(30)
    assert ids(r.due()) == [["a1"]]
    clock.advance(10)
    r.offer(at(clock, "a2"))
    clock.advance(60)
    r.offer(at(clock, "a3"))
    assert r.due() == []  # 70 s after the last notice: group_interval is 2 min
    clock.advance(50)
    [notice] = r.due()
    assert ids([notice]) == [["a2", "a3"]] and not notice.reminder


def test_repeat_interval_reminds_until_resolved(routing):
    r, clock = router(routing)
    r.offer(at(clock, "a1"))
    clock.advance(30)
    first = r.due()
    clock.advance(3599)
    assert r.due() == []
    clock.advance(1)
    [reminder] = r.due()
    assert reminder.reminder and reminder.items[0][1] == 1 and reminder.key != first[0].key
    r.offer({**at(clock, "a1"), "status": "resolved"})
    clock.advance(7200)
    assert r.due() == [] and r.groups == {}


def test_a_replayed_alert_is_not_notified_twice(routing):
    r, clock = router(routing)
    a1 = at(clock, "a1")
    assert r.offer(a1)
    clock.advance(30)
    assert len(r.due()) == 1
    assert not r.offer(a1)
    clock.advance(130)
    assert r.due() == []


def test_old_alerts_page_nobody(routing):
    r, clock = router(routing)
    assert not r.offer(alert("old", event_time=clock.now() - timedelta(hours=2)))
    clock.advance(60)
    assert r.due() == []


def test_street_escalation_inhibits_community_reminders_but_not_first_notices(routing):
    staff, clock = router(routing)
    community = at(clock, "c-alert", level="community", incident="inc-1")
    other = at(clock, "other", level="community", incident="inc-2")
    staff.offer(community), staff.offer(other)
    clock.advance(30)
    assert ids(staff.due()) == [["c-alert", "other"]]
    street = at(clock, "s-alert", level="street", incident="inc-1", kind="incident_escalated")
    staff.offer(street)  # routed to the centre and (continue) to the staff
    breached = at(clock, "breach", level="community", incident="inc-1", kind="deadline_breached")
    staff.offer(breached)
    clock.advance(120)
    assert ids(staff.due()) == [["s-alert", "breach"]]  # first notices go out, inhibited or not
    clock.advance(3600)
    [reminder] = staff.due()
    assert sorted(ids([reminder])[0]) == ["other", "s-alert"]  # inc-1's community reminders are silent
    assert staff.inhibited(community) and not staff.inhibited(other)


def test_channels_follow_the_tree_with_continue(routing):
    centre, clock = router(routing, "centre")
    assert centre.offer(at(clock, "s1", level="street"))
    assert not centre.offer(at(clock, "c1", level="community"))
    assert ids(centre.due()) == [["s1"]]  # group_wait 0 s


def test_quiet_hours_hold_notices_except_top_priority(routing):
    night = datetime(2026, 11, 28, 15, 0, tzinfo=UTC)  # 23:00 in Beijing
    r, clock = router(routing, start=night)
    r.offer(at(clock, "n1", priority="normal"))
    r.offer(at(clock, "n2", priority="top", community="c01"))
    clock.advance(30)
    assert ids(r.due()) == [["n2"]]
    assert r.pending() == {"n1"}
    morning = datetime(2026, 11, 28, 23, 0, tzinfo=UTC)  # 07:00 in Beijing
    assert r.next_due() == morning
    clock.set(morning - timedelta(seconds=1))
    assert r.due() == []
    clock.set(morning)
    assert ids(r.due()) == [["n1"]]


def test_quiet_hours_can_be_switched_off_per_route(routing):
    night = datetime(2026, 11, 28, 15, 0, tzinfo=UTC)
    centre, clock = router(routing, "centre", start=night)
    centre.offer(at(clock, "s1", level="street", priority="normal"))
    assert ids(centre.due()) == [["s1"]]


def test_the_idempotency_key_depends_on_alerts_and_sequence_only(routing):
    r1, clock = router(routing)
    r2 = Router(routing, "staff", clock)
    for r in (r1, r2):
        r.offer(at(clock, "a1"))
        r.offer(at(clock, "a2"))
    clock.advance(30)
    assert r1.due()[0].key == r2.due()[0].key


def test_an_acknowledged_incident_stops_reminding(routing):
    r, clock = router(routing)
    r.offer(at(clock, "a1", incident="inc-7"))
    r.offer(at(clock, "a2", incident="inc-8"))
    clock.advance(30)
    r.due()
    r.settle("inc-7")
    clock.advance(3600)
    assert ids(r.due()) == [["a2"]]


def cleared(clock, alert_id: str, **changes) -> dict:
    return at(clock, f"{alert_id}:resolved", status="resolved", **changes)


def test_a_patrol_alert_is_resolved_by_its_resolved_twin_which_is_said_once(routing):
    r, clock = router(routing)
    r.offer(at(clock, "offline:c01-g01", kind="offline", incident=None))
    clock.advance(30)
    r.due()
    assert r.offer(cleared(clock, "offline:c01-g01", kind="offline", incident=None))
    clock.advance(3600)
    [clearance] = r.due()
    assert ids([clearance]) == [["offline:c01-g01:resolved"]] and not clearance.reminder
    assert clearance.items[0][0]["status"] == "resolved"
    clock.advance(3600)
    assert r.due() == [] and r.groups == {}  # neither the alert nor its clearance reminds


def test_a_clearance_goes_with_its_group_after_the_group_interval_and_the_others_keep_reminding(routing):
    r, clock = router(routing)
    r.offer(at(clock, "off_post:g1", kind="off_post", incident=None))
    r.offer(at(clock, "off_post:g2", kind="off_post", incident=None))
    clock.advance(30)
    assert ids(r.due()) == [["off_post:g1", "off_post:g2"]]
    clock.advance(10)
    assert r.offer(cleared(clock, "off_post:g1", kind="off_post", incident=None))
    assert r.pending() == {"off_post:g1:resolved"}  # its offset is not committed before it is said
    assert r.due() == []  # the group spoke 10 s ago: group_interval (2 m) first
    clock.advance(110)
    assert ids(r.due()) == [["off_post:g1:resolved"]]
    clock.advance(3600)
    [reminder] = r.due()
    assert ids([reminder]) == [["off_post:g2"]] and reminder.reminder


def test_a_clearance_of_an_alert_never_told_or_on_a_channel_without_send_resolved_is_not_said(routing, tmp_path):
    r, clock = router(routing)
    r.offer(at(clock, "offline:c02-g01", kind="offline", incident=None))
    assert not r.offer(cleared(clock, "offline:c02-g01", kind="offline", incident=None))  # within group_wait
    clock.advance(60)
    assert r.due() == [] and r.pending() == set()
    path = tmp_path / "quiet.toml"
    staff = 'url = "http://127.0.0.1:9/staff"'
    path.write_text(ROUTING.replace(staff, f"{staff}\nsend_resolved = false"))
    quiet, clock = router(load_routing(path))
    quiet.offer(at(clock, "offline:c03-g01", kind="offline", incident=None))
    clock.advance(30)
    assert len(quiet.due()) == 1
    assert not quiet.offer(cleared(clock, "offline:c03-g01", kind="offline", incident=None))
    clock.advance(3600)
    assert quiet.due() == [] and quiet.groups == {}  # cleared: no clearance, and no more reminders


def test_a_replayed_or_old_clearance_is_not_said_again(routing):
    r, clock = router(routing)
    r.offer(at(clock, "offline:c04-g01", kind="offline", incident=None))
    clock.advance(30)
    r.due()
    clearance = cleared(clock, "offline:c04-g01", kind="offline", incident=None)
    assert r.offer(clearance) and not r.offer(clearance)
    clock.advance(120)
    assert ids(r.due()) == [["offline:c04-g01:resolved"]]
    assert not r.offer(clearance)
    old, clock = router(routing)
    old.offer(at(clock, "offline:c05-g01", kind="offline", incident=None))
    clock.advance(30)
    old.due()
    late = alert(
        "offline:c05-g01:resolved",
        status="resolved",
        kind="offline",
        incident=None,
        event_time=clock.now() - timedelta(hours=2),
    )  # a clearance older than max_age: a replay
    assert not old.offer(late)


def test_restored_alerts_remind_a_repeat_interval_after_their_last_notice(routing):
    r, clock = router(routing)
    old = alert("old", event_time=clock.now() - timedelta(hours=5))  # older than max_age, still firing
    r.restore(old, sent=2, last_sent=clock.now() - timedelta(minutes=50))
    assert r.pending() == set() and not r.offer(old)  # re-read after the restart: not news
    clock.advance(599)
    assert r.due() == []
    clock.advance(1)
    [reminder] = r.due()
    assert reminder.items == ((old, 2),)


def test_a_weekly_report_is_said_once_never_reminded_even_after_a_restart(routing):
    r, clock = router(routing)
    report = at(clock, "report:weekly:xichangan:2026-W49", kind="weekly_report", level="street", incident=None)
    report = {k: v for k, v in report.items() if v is not None}
    assert r.offer(report)
    clock.advance(30)
    assert ids(r.due()) == [["report:weekly:xichangan:2026-W49"]]
    clock.advance(3 * 3600)
    assert r.due() == [] and r.next_due() is None  # no reminder an hour (repeat_interval) or more later
    again, _ = router(routing, start=clock.now())
    again.restore(report, sent=1, last_sent=clock.now() - timedelta(hours=2))
    assert again.next_due() is None and again.due() == []
