"""Per-grid patrol alerts with time travel: grouping, clearances, coverage gaps, advisory rate limit."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from schemas.records import Alert
from streams.patrol.advisories import Advisor
from streams.patrol.coverage import PatrolAlerts

T0 = datetime(2027, 3, 5, 1, 0, tzinfo=UTC)  # 09:00 in Beijing
TZ = "Asia/Shanghai"
EVENT = (T0 + timedelta(hours=1), T0 + timedelta(hours=3))  # a major event needing 2 on post in g1


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def required(grid: str, when: datetime) -> int:
    return 2 if grid == "c01-g01" and EVENT[0] <= when < EVENT[1] else 0


def alerts() -> PatrolAlerts:
    return PatrolAlerts(timedelta(seconds=60), timedelta(seconds=120), required, lambda g: ("xichangan", g[:3]), TZ)


def brief(found: list[dict]) -> list[tuple]:
    for alert in found:
        Alert.validate(alert)
    return [(a["kind"], a["status"], a["grid"], tuple(a["devices"])) for a in found]


def test_twenty_volunteers_leaving_together_are_one_alert_and_one_clearance():
    pa = alerts()
    for i in range(20):
        assert pa.status(f"v{i:02d}", "c02-g03", "on_post", at(0), at(0)) == []
    found = []
    for i in range(20):
        found += pa.status(f"v{i:02d}", "c02-g03", "off_post", at(10) + timedelta(seconds=2 * i), at(10))
    found += pa.tick(["c02-g03"], at(11.5), at(11.5))
    devices = tuple(f"v{i:02d}" for i in range(20))
    assert brief(found) == [("off_post", "firing", "c02-g03", devices)]
    firing = found[0]
    assert firing["id"] == "patrol:off_post:c02-g03:20270305T011000Z" and firing["level"] == "grid"
    back = []
    for i in range(20):
        back += pa.status(f"v{i:02d}", "c02-g03", "on_post", at(30), at(30))
    assert brief(back) == [("off_post", "resolved", "c02-g03", devices)]
    assert back[0]["id"] == firing["id"] + ":resolved"


def test_a_device_back_within_the_group_window_raises_nothing():
    pa = alerts()
    pa.status("d1", "c02-g03", "on_post", at(0), at(0))
    assert pa.status("d1", "c02-g03", "offline", at(5), at(5)) == []
    assert pa.status("d1", "c02-g03", "on_post", at(5.5), at(5.5)) == []
    assert pa.tick(["c02-g03"], at(20), at(20)) == []


def test_offline_fires_on_the_next_event_of_the_grid_and_ids_repeat_on_replay():
    def run():
        pa = alerts()
        pa.status("d1", "c03-g01", "on_post", at(0), at(0))
        out = pa.status("d1", "c03-g01", "offline", at(5), at(5))
        out += pa.status("d2", "c03-g01", "on_post", at(7), at(7))  # the window ended at 6
        out += pa.status("d1", "c03-g01", "on_post", at(9), at(9))
        return out

    first, second = run(), run()
    assert brief(first) == [("offline", "firing", "c03-g01", ("d1",)), ("offline", "resolved", "c03-g01", ("d1",))]
    assert [a["id"] for a in first] == [a["id"] for a in second]


def test_coverage_gap_opens_after_its_grace_during_a_major_event_and_clears_when_filled():
    pa = alerts()
    assert pa.status("a", "c01-g01", "on_post", at(0), at(0)) == []
    assert pa.tick(["c01-g01"], at(59), at(59)) == []  # one on post, but no major event yet
    assert pa.tick(["c01-g01"], at(60), at(60)) == []  # short from 60, grace 2 min
    assert pa.tick(["c01-g01"], at(61.9), at(61.9)) == []
    opened = pa.tick(["c01-g01"], at(62), at(62))
    assert brief(opened) == [("coverage_gap", "firing", "c01-g01", ("a",))]
    assert opened[0]["level"] == "street" and opened[0]["owner"] == "xichangan" and opened[0]["priority"] == "high"
    assert pa.tick(["c01-g01"], at(90), at(90)) == []  # still short: no repeat
    cleared = pa.status("b", "c01-g01", "on_post", at(95), at(95))
    assert brief(cleared) == [("coverage_gap", "resolved", "c01-g01", ())]
    assert cleared[0]["id"] == opened[0]["id"] + ":resolved"


def test_coverage_gap_clears_when_the_major_event_ends():
    pa = alerts()
    assert brief(pa.tick(["c01-g01"], at(63), at(63)) + pa.tick(["c01-g01"], at(66), at(66))) == [
        ("coverage_gap", "firing", "c01-g01", ())
    ]
    assert brief(pa.tick(["c01-g01"], at(181), at(181))) == [("coverage_gap", "resolved", "c01-g01", ())]


def test_a_short_dip_within_the_coverage_grace_raises_nothing():
    pa = alerts()
    pa.status("a", "c01-g01", "on_post", at(70), at(70))
    pa.status("b", "c01-g01", "on_post", at(70), at(70))
    assert pa.status("b", "c01-g01", "off_post", at(80), at(80)) == []
    assert pa.status("b", "c01-g01", "on_post", at(80.5), at(80.5)) == []  # within both windows
    assert pa.tick(["c01-g01"], at(90), at(90)) == []


def test_each_hot_cell_gets_one_advisory_naming_the_cell_and_the_grids_workers():
    advisor = Advisor(3, timedelta(minutes=30), timedelta(hours=1), lambda g: ("xichangan", "c04"), TZ)
    devices = {"c04-g02": ["dev-0020", "dev-0091"]}.get
    counts = [("8c31ab", "c04-g02", 2, 0), ("8c31aa", "c04-g02", 4, 0), ("8c31ac", "c04-g02", 3, 0)]
    found = advisor.advise(counts, at(0), devices)
    assert list(found) == ["8c31aa", "8c31ac"]  # hottest first; 2 reports are not a hot spot
    assert brief(list(found.values()))[0] == ("patrol_advisory", "firing", "c04-g02", ("dev-0020", "dev-0091"))
    assert found["8c31aa"]["id"] == "patrol:patrol_advisory:8c31aa:20270305T010000Z"
    assert "8c31aa" in found["8c31aa"]["body"]["en"]


def test_patrol_alerts_read_in_chinese_with_times_in_the_streets_zone():
    pa = alerts()
    pa.status("d1", "c02-g03", "on_post", at(0), at(0))
    pa.status("d1", "c02-g03", "offline", at(10), at(10))
    [firing] = pa.tick(["c02-g03"], at(11.5), at(11.5))
    assert (firing["title"]["zh"], firing["body"]["zh"]) == (
        "c02-g03 失联",
        "1 名巡逻人员定位中断：d1（自 2027-03-05 09:10 起）",
    )
    [cleared] = pa.status("d1", "c02-g03", "on_post", at(35), at(35))
    assert (cleared["status"], cleared["title"]["zh"]) == ("resolved", "c02-g03 失联")
    assert cleared["body"]["zh"] == "1 名巡逻人员恢复定位：d1（2027-03-05 09:10 至 2027-03-05 09:35，历时 25分钟）"
    gap = pa.tick(["c01-g01"], at(60), at(60)) + pa.tick(["c01-g01"], at(62), at(62))
    assert gap[0]["body"]["zh"] == "网格在岗人数低于要求：在岗 0 / 需要 2（自 2027-03-05 10:00 起）"
    advisor = Advisor(3, timedelta(minutes=30), timedelta(hours=1), lambda g: ("xichangan", "c04"), TZ)
    [advice] = advisor.advise([("8c31aa", "c04-g02", 4, 0)], at(0), lambda g: []).values()
    assert (advice["title"]["zh"], advice["body"]["zh"]) == (
        "c04-g02 前响应巡查",
        "热点（H3 单元 8c31aa）：截至 2027-03-05 09:00，近1小时00分内 4 起事件上报，请前往巡查",
    )


def test_a_restored_grid_fires_the_group_a_restart_interrupted_with_the_id_it_would_have_had():
    """Off post within the group window when the worker died: nothing had fired yet, and the restored
    worker must still fire it (once), as the one that died would have."""
    whole = alerts()
    whole.status("a", "c02-g03", "off_post", at(10), at(10))
    whole.status("b", "c02-g03", "off_post", at(10.5), at(10.5))
    [fired] = whole.tick(["c02-g03"], at(11.2), at(11.2))
    restored = alerts()  # the new owner: statuses from Postgres, nothing open on the alerts topic
    restored.restore("c02-g03", [("b", "off_post", at(10.5)), ("a", "off_post", at(10)), ("c", "on_post", at(0))], [])
    [again] = restored.tick(["c02-g03"], at(11.2), at(11.2))
    assert (again["id"], again["devices"]) == (fired["id"], ["a", "b"])
    assert restored.tick(["c02-g03"], at(12), at(12)) == []
    restored.status("a", "c02-g03", "on_post", at(20), at(20))
    [cleared] = restored.status("b", "c02-g03", "on_post", at(20), at(20))
    assert cleared["id"] == fired["id"] + ":resolved"


def test_a_restored_grid_keeps_a_fired_group_fired_and_groups_a_newcomer_apart():
    first = alerts()
    first.status("a", "c02-g03", "off_post", at(10), at(10))
    [fired] = first.tick(["c02-g03"], at(11.5), at(11.5))
    restored = alerts()
    restored.restore("c02-g03", [("a", "off_post", at(10)), ("d", "offline", at(20))], [fired])
    assert restored.grids["c02-g03"].on_post == 0
    found = restored.tick(["c02-g03"], at(21.5), at(21.5))
    assert brief(found) == [("offline", "firing", "c02-g03", ("d",))]  # the fired off-post group is not fired again
