"""The incident engine's rules, one by one, with time travel on an injected clock."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from config.major_events import MajorEvents, Period
from config.rules import load_rules
from config.sample.district import district_path
from schemas.records import LocatedReport
from streams.escalation.agents import places_of
from streams.escalation.engine import IncidentEngine, incident_id
from streams.escalation.keys import IncidentKeys
from streams.geofence.registry import GridRegistry
from tests.support.clock import ManualClock
from tests.support.incident_factories import PLAIN, T0, TZ, ZONE, action, calendar, located, minutes, nearby, registry
from tests.support.working_time import checked

RULES = load_rules()
OUTSIDE = (39.93, 116.41)  # north-east of the street, in no grid: a bad fix near the edge
BORDER_C01, BORDER_C02 = (39.8969, 116.37028), (39.8969, 116.37032)  # 3.4 m apart, across c01 and c02's border


@pytest.fixture
def clock():
    return ManualClock(T0)


@pytest.fixture
def engine(clock):
    return IncidentEngine(RULES, clock, places=places_of(registry()), tz=TZ, calendar=calendar())


def travel(clock, **delta):
    clock.set(clock.now() + timedelta(**delta))


_IDS = re.compile(r"inc-[a-z0-9]+-[0-9a-f]{12}|\bc\d\d(?:-g\d\d)?\b|xichangan")


def latin_words(text: str) -> list[str]:
    """Words in Latin letters left once the ids (incident, community, grid, street) are taken out."""
    return re.findall(r"[A-Za-z]{2,}", _IDS.sub("", text))


def kinds(outcome):
    return [e["kind"] for e in outcome.events], sorted((a["kind"], a["owner"]) for a in outcome.alerts)


def test_a_report_opens_an_incident_at_its_initial_level_and_alerts_the_owner(engine):
    out = checked(engine.report(located("r1", "sanitation", "medium")))
    assert kinds(out) == (["opened"], [("incident_opened", "c03-g01")])
    event = out.events[0]
    assert event["id"] == f"{incident_id('c03', 'r1')}:00001" and event["incident"].startswith("inc-c03-")
    assert event["to_level"] == "grid" and event["state"]["ack_by"] == (T0 + minutes(30)).isoformat()
    assert out.alerts[0]["title"]["zh"] and out.alerts[0]["title"]["en"].startswith("New incident")


def test_an_incident_carries_the_courtyard_its_report_lies_in_and_a_rebuilt_engine_keeps_it(engine, clock):
    lng, lat = registry().courtyards["c03-g01-y02"].centre
    opened = engine.report(located("r1", "sanitation", "medium", (lat, lng)))
    assert opened.events[0]["courtyard"] == "c03-g01-y02" and opened.events[0]["grid"] == "c03-g01"
    rebuilt = IncidentEngine(RULES, clock, places=places_of(registry()), tz=TZ, calendar=calendar())
    rebuilt.restore(opened.events[0])
    travel(clock, minutes=1)
    acked = rebuilt.action(action("a1", opened.events[0]["incident"], "ack", clock.now()))
    assert acked.events[0]["courtyard"] == "c03-g01-y02"
    assert registry().locate(*PLAIN).courtyard is None  # a lane between courtyards
    lane = rebuilt.report(located("r2", "dispute", "medium", PLAIN))
    assert lane.events[0]["kind"] == "opened" and "courtyard" not in lane.events[0]


def test_deadline_breach_at_community_level_goes_to_the_street_and_alerts_both_owners(engine, clock):
    opened = engine.report(located("r1", "sanitation", "high"))  # high -> community, acknowledge within 1 h
    assert opened.events[0]["to_level"] == "community"
    travel(clock, minutes=59)
    assert [e["reason_code"] for e in engine.due().events] == ["warning_acknowledge"]  # 预警 at 48 min
    travel(clock, minutes=2)
    out = checked(engine.due())
    assert kinds(out) == (["escalated"], [("deadline_breached", "c03"), ("incident_escalated", "xichangan")])
    event = out.events[0]
    assert (event["from_level"], event["to_level"]) == ("community", "street")
    assert event["reason_code"] == "deadline_acknowledge"
    assert event["when"] == (T0 + timedelta(hours=1)).isoformat()  # the deadline itself, not when it was noticed
    assert event["state"]["ack_by"] == (T0 + timedelta(hours=1, minutes=30)).isoformat()  # the street's 30 min


def test_acknowledged_in_time_does_not_escalate(engine, clock):
    inc = engine.report(located("r1", "sanitation", "high")).events[0]["incident"]
    travel(clock, minutes=40)
    out = checked(engine.action(action("a1", inc, "ack", clock.now())))
    assert kinds(out) == (["acknowledged"], [])
    travel(clock, hours=23)  # past the acknowledge deadline, before the 24 h resolve deadline
    assert [e["reason_code"] for e in engine.due().events] == ["warning_resolve"]  # its 预警 at 19 h 12 min
    assert engine.incidents[inc].level == "community" and engine.incidents[inc].status == "acknowledged"


def test_request_escalation_goes_to_the_street_and_not_beyond(engine, clock):
    inc = engine.report(located("r1", "dispute", "high")).events[0]["incident"]
    out = checked(engine.action(action("a1", inc, "request_escalation", clock.now(), actor="c03-staff")))
    assert kinds(out) == (["escalated"], [("incident_escalated", "xichangan")])
    assert (out.events[0]["reason_code"], out.events[0]["actor"]) == ("request", "c03-staff")
    again = checked(engine.action(action("a2", inc, "request_escalation", clock.now())))
    assert kinds(again) == (["action_rejected"], [])
    assert "ceiling" in again.events[0]["reason"] and engine.incidents[inc].level == "street"


def test_clustering_merges_near_recent_reports_and_escalates_at_the_threshold(engine, clock):
    first = engine.report(located("r0", "illegal_parking", "low")).events[0]["incident"]
    for n in range(1, 4):
        out = checked(engine.report(located(f"r{n}", "illegal_parking", "low", nearby(PLAIN, n), T0 + minutes(10 * n))))
        assert kinds(out) == (["report_merged"], []) and out.events[0]["incident"] == first
    other_kind = engine.report(located("x1", "sanitation", "low", nearby(PLAIN, 1)))
    too_late = engine.report(located("x2", "illegal_parking", "low", PLAIN, T0 + timedelta(hours=3)))
    assert other_kind.events[0]["kind"] == too_late.events[0]["kind"] == "opened"
    out = checked(engine.report(located("r4", "illegal_parking", "low", nearby(PLAIN, 4), T0 + minutes(40))))
    assert kinds(out) == (["report_merged", "escalated"], [("incident_escalated", "c03")])
    assert out.events[1]["reason_code"] == "cluster" and out.events[1]["state"]["reports"] == 5
    assert "cluster_escalated" in out.events[1]["state"]["flags"]
    sixth = engine.report(located("r5", "illegal_parking", "low", nearby(PLAIN, 2), T0 + minutes(45)))
    assert kinds(sixth)[0] == ["report_merged"]  # escalates once per cluster


def test_a_cluster_at_the_street_keeps_its_threshold_reached_across_a_rebuild(engine, clock):
    """Seen: a cluster that reached the threshold at the street (nowhere to escalate) was flagged only in
    memory; rebuilt from its events, an engine escalated it once more after it was handed down."""
    events = engine.report(located("r0", "illegal_construction", "high")).events  # starts at the street
    inc = events[0]["incident"]
    for n in range(1, 5):
        events += engine.report(
            located(f"r{n}", "illegal_construction", "high", nearby(PLAIN, n), T0 + minutes(5 * n))
        ).events
    assert [e["kind"] for e in events] == ["opened"] + ["report_merged"] * 4  # the ceiling holds
    rebuilt = IncidentEngine(RULES, clock, places=places_of(registry()), tz=TZ, calendar=calendar())
    for event in events:
        rebuilt.restore(event)
    assert rebuilt.incidents[inc].state() == engine.incidents[inc].state()
    down = action("a1", inc, "reassign", T0 + minutes(30), owner="c03")
    sixth = located("r5", "illegal_construction", "high", nearby(PLAIN, 2), T0 + minutes(31))
    for e in (engine, rebuilt):
        e.action(down)
    assert kinds(rebuilt.report(sixth)) == kinds(engine.report(sixth)) == (["report_merged"], [])


def test_safety_reports_in_a_sensitive_zone_go_straight_to_the_street_at_top_priority(engine):
    out = checked(engine.report(located("r1", "dispute", "low", ZONE)))
    event = out.events[0]
    assert (event["to_level"], event["reason_code"], event["state"]["priority"]) == ("street", "sensitive_zone", "top")
    assert "sensitive_zone" in event["state"]["flags"] and out.alerts[0]["priority"] == "top"
    plain = engine.report(located("r2", "sanitation", "low", ZONE))  # not a safety-relevant category
    assert plain.events[0]["to_level"] == "grid" and plain.events[0]["state"]["priority"] == "normal"


def test_major_event_periods_tighten_deadlines(clock):
    period = Period("drill", "演练 / drill", T0 - timedelta(hours=1), T0 + timedelta(hours=5), deadline_factor=0.5)
    engine = IncidentEngine(RULES, clock, MajorEvents((period,)), tz=TZ, calendar=calendar())
    event = engine.report(located("r1", "sanitation", "medium")).events[0]
    assert event["state"]["ack_by"] == (T0 + minutes(15)).isoformat()
    travel(clock, minutes=16)
    assert kinds(engine.due())[0] == ["escalated"]
    # switched on at run time, as `redwall major-event start` does
    later = IncidentEngine(RULES, ManualClock(T0), tz=TZ, calendar=calendar())
    later.apply_period(period)
    assert later.report(located("r2")).events[0]["state"]["ack_by"] == (T0 + minutes(15)).isoformat()


def test_the_ceiling_holds_unless_a_rule_allows_it_and_then_it_is_flagged(engine, clock):
    held = engine.report(located("r1", "safety_hazard", "high")).events[0]["incident"]  # street, 15 min ack
    passed = engine.report(located("r2", "safety_hazard", "critical", nearby(PLAIN, 60))).events[0]["incident"]
    assert held != passed
    travel(clock, minutes=16)
    out = checked(engine.due())
    by_incident = {e["incident"]: e for e in out.events}
    assert by_incident[held]["kind"] == "deadline_missed" and by_incident[held]["ceiling"] == "no"
    assert engine.incidents[held].level == "street"
    assert by_incident[passed]["kind"] == "escalated" and by_incident[passed]["ceiling"] == "yes"
    assert by_incident[passed]["to_level"] == "district"
    assert ("ceiling_exceeded", "district") in kinds(out)[1]
    assert ("deadline_breached", "xichangan") in kinds(out)[1]


def test_invalid_transitions_are_rejected_with_the_reason(engine, clock):
    inc = engine.report(located("r1")).events[0]["incident"]
    engine.action(action("a1", inc, "resolve", clock.now()))
    out = checked(engine.action(action("a2", inc, "ack", clock.now())))
    assert kinds(out) == (["action_rejected"], [])
    assert out.events[0]["reason"] == "事件已办结，不能签收（仅待签收时可以）"
    unknown = checked(engine.action(action("a3", "inc-c03-000000000000", "ack", clock.now())))
    assert unknown.events[0]["reason"].startswith("找不到事件 inc-c03-000000000000（社区 c03）")
    assert engine.action(action("a2", inc, "ack", clock.now())).events == []  # a redelivered action
    reopened = checked(engine.action(action("a4", inc, "reopen", clock.now())))
    assert kinds(reopened) == (["reopened"], [("incident_reopened", "c03-g01")])
    moved = checked(engine.action(action("a5", inc, "reassign", clock.now(), owner="c03")))
    assert kinds(moved) == (["assigned"], [("incident_assigned", "c03")])
    wrong = engine.action(action("a6", inc, "reassign", clock.now(), owner="c07"))
    assert wrong.events[0]["kind"] == "action_rejected"


def test_resolved_incidents_are_forgotten_after_the_retention(engine, clock):
    inc = engine.report(located("r1")).events[0]["incident"]
    engine.action(action("a1", inc, "resolve", clock.now()))
    travel(clock, days=29)
    assert engine.prune() == 0
    travel(clock, days=2)
    assert engine.prune() == 1 and inc not in engine.incidents
    refused = engine.action(action("a2", inc, "reopen", clock.now()))
    assert refused.events[0]["kind"] == "action_rejected" and "找不到事件" in refused.events[0]["reason"]
    assert engine.report(located("r2", where=nearby(PLAIN, 1), at=clock.now())).events[0]["kind"] == "opened"


def test_replay_does_not_re_alert(engine, clock):
    first = engine.report(located("r1", "sanitation", "high"))
    # A restarted worker rebuilds from the incidents topic; the same report redelivered is a no-op.
    rebuilt = IncidentEngine(RULES, clock, tz=TZ, calendar=calendar())
    for event in first.events:
        rebuilt.restore(event)
    assert rebuilt.report(located("r1", "sanitation", "high")).events == []
    # Its deadline survived the rebuild, and fires with the same id the first engine would give.
    travel(clock, hours=2)
    assert [e["id"] for e in rebuilt.due().events] == [e["id"] for e in engine.due().events]
    # An old report never seen before is stored (an event) but pages nobody.
    old = rebuilt.report(located("r-old", "dispute", "low", nearby(PLAIN, 60), T0 - timedelta(days=2)))
    assert [e["kind"] for e in old.events] == ["opened"] and old.alerts == [] and old.suppressed == ["xichangan"]


def test_a_deadline_missed_at_the_street_stays_overdue_fires_once_and_survives_a_rebuild(engine, clock):
    """超时督办 at the top: the missed deadline stays in the state, so the incident reads as overdue
    since then (not measured afresh against its resolve deadline), and it is not chased twice."""
    inc = engine.report(located("r1", "safety_hazard", "high")).events[0]["incident"]  # street, 15 min ack
    travel(clock, minutes=16)
    missed = checked(engine.due()).events[-1]
    assert missed["kind"] == "deadline_missed"
    assert missed["state"]["ack_by"] == (T0 + minutes(15)).isoformat()
    assert missed["state"]["missed"] == {"acknowledge": (T0 + minutes(15)).isoformat()}
    travel(clock, hours=1)
    assert [e["kind"] for e in engine.due().events] == []  # the resolve deadline (4 h) is not due yet
    rebuilt = IncidentEngine(RULES, clock, places=places_of(registry()), tz=TZ, calendar=calendar())
    rebuilt.restore(missed)
    assert rebuilt.incidents[inc].missed == {"acknowledge": T0 + minutes(15)}
    assert rebuilt.due().events == []  # a rebuilt worker does not chase it again
    acked = checked(rebuilt.action(action("a1", inc, "ack", clock.now())))
    assert "missed" not in acked.events[0]["state"]  # acknowledged: measured by its resolve deadline now


def test_what_people_read_is_chinese_throughout_with_times_in_the_streets_zone_to_the_minute(engine, clock):
    """Seen in an alert: 原因：acknowledge deadline 2026-12-05T22:22:27.075807+00:00 missed at street."""
    opened = checked(engine.report(located("r1", "safety_hazard", "high")))  # street, 15 min to acknowledge
    assert opened.events[0]["reason"] == "安全隐患（较重）按规则由街道处置"
    assert "请于 2026-11-28 09:15 前签收" in opened.alerts[0]["body"]["zh"]
    community = checked(engine.report(located("r2", "sanitation", "high", nearby(PLAIN, 60))))  # community, 1 h
    travel(clock, minutes=16)
    missed = checked(engine.due())
    assert missed.events[0]["reason"] == "签收时限 2026-11-28 09:15 已过，街道未签收，超时督办"
    assert "原因：签收时限 2026-11-28 09:15 已过，街道未签收，超时督办。" in missed.alerts[0]["body"]["zh"]
    travel(clock, hours=1)
    up = checked(engine.due())
    assert up.events[0]["reason"] == "签收时限 2026-11-28 10:00 已过，社区未签收，升至街道"
    zone = checked(engine.report(located("r3", "dispute", "low", ZONE)))
    assert zone.events[0]["reason"].startswith("位于敏感区域「重点部位（示例）东」")
    cluster = [
        checked(engine.report(located(f"k{n}", "illegal_parking", "low", nearby(PLAIN, -n), clock.now())))
        for n in range(5)
    ]
    assert cluster[-1].events[-1]["reason"] == "2小时00分内附近违章停车上报达 5 条"
    for out in [opened, community, missed, up, zone, *cluster]:
        for text in [e["reason"] for e in out.events] + [
            t for a in out.alerts for t in (a["title"]["zh"], a["body"]["zh"])
        ]:
            assert latin_words(text) == [], text
    assert "acknowledge deadline 2026-11-28T01:15:00+00:00 missed at street" in missed.alerts[0]["body"]["en"]


def test_a_report_outside_every_street_opens_an_incident_in_the_unlocated_queue_and_alerts_the_street(engine):
    report = located("u1", "sanitation", "medium", OUTSIDE)
    assert (report["street"], report["community"], report["grid"]) == (None, None, None)
    out = checked(engine.report(report))
    event = out.events[0]
    assert event["incident"] == incident_id("unlocated", "u1") and event["incident"].startswith("inc-unlocated-")
    assert (event["kind"], event["community"], event["street"], event["to_level"]) == (
        "opened",
        "unlocated",
        "xichangan",
        "street",
    )
    assert event["state"]["owner"] == "xichangan" and "grid" not in event and event["reason_code"] == "unlocated"
    assert event["reason"].startswith("位置在街道所有网格之外（未定位）")
    assert kinds(out) == (["opened"], [("incident_opened", "xichangan")])
    assert "未定位（街道外）" in out.alerts[0]["body"]["zh"]
    assert engine.report(report).events == []  # a redelivery
    twin = checked(engine.report(located("u1b", "sanitation", "medium", nearby(OUTSIDE, 1))))
    assert kinds(twin)[0] == ["opened"]  # never clustered: each is placed by hand


def test_the_street_places_an_unlocated_incident_in_a_community_where_its_report_opens_an_incident(engine, clock):
    inc = engine.report(located("u2", "dispute", "low", OUTSIDE)).events[0]["incident"]
    street = checked(engine.action(action("p0", inc, "reassign", clock.now(), owner="xichangan")))
    assert street.events[0]["kind"] == "action_rejected" and "社区或网格" in street.events[0]["reason"]
    placed = checked(engine.action(action("p1", inc, "reassign", clock.now(), owner="c03-g02")))
    [closed], [report] = placed.events, placed.reports
    new = incident_id("c03", "u2")
    assert (closed["kind"], closed["state"]["status"]) == ("closed", "closed")
    assert closed["reason"] == f"已指派到社区 c03（网格 c03-g02），在该社区立案（{new}）：reassign by test"
    assert (report["street"], report["community"], report["grid"]) == ("xichangan", "c03", "c03-g02")
    LocatedReport.validate(report)  # what the sink and the engine of c03 take from the located reports
    opened = checked(engine.report(report))  # c03 may share the partition: the same engine opens it
    assert [(e["kind"], e["incident"]) for e in opened.events] == [("opened", new)]
    assert kinds(opened)[1] == [("incident_opened", "c03-g02")]
    assert engine.report(report).events == []  # and only once
    again = engine.action(action("p2", inc, "reassign", clock.now(), owner="c04"))
    assert again.events[0]["kind"] == "action_rejected" and again.reports == []


def test_a_rebuilt_engine_can_still_place_an_unlocated_incident(engine, clock):
    report = located("u3", "illegal_parking", "low", OUTSIDE)
    opened = engine.report(report)
    rebuilt = IncidentEngine(RULES, clock, places=places_of(registry()), tz=TZ, calendar=calendar())
    for event in opened.events:
        rebuilt.restore(event)
    assert rebuilt.report(report).events == []  # seen
    inc = opened.events[0]["incident"]
    gone = rebuilt.action(action("p1", inc, "reassign", clock.now(), owner="c05"))
    assert "已不在" in gone.events[0]["reason"] and gone.reports == []  # its report was not read back
    rebuilt.restore_unlocated(report)
    placed = rebuilt.action(action("p2", inc, "reassign", clock.now(), owner="c05"))
    assert [(r["community"], r["grid"]) for r in placed.reports] == [("c05", None)]


def test_a_report_that_joined_the_next_communitys_incident_stays_applied_in_a_rebuilt_engine(engine, clock):
    first = located("b1", "illegal_parking", "low", BORDER_C01)
    second = located("b2", "illegal_parking", "low", BORDER_C02, T0 + minutes(1))
    assert (first["community"], second["community"]) == ("c01", "c02")
    events = engine.report(first).events + engine.report(second).events
    assert [(e["kind"], e["community"]) for e in events] == [("opened", "c01"), ("report_merged", "c01")]
    rebuilt = IncidentEngine(RULES, clock, places=places_of(registry()), tz=TZ, calendar=calendar())
    for event in events:
        rebuilt.restore(event)
    assert rebuilt.report(second).events == []  # redelivered after a restart: seen, though c01's events name it
    stored = IncidentEngine(RULES, clock, places=places_of(registry()), tz=TZ, calendar=calendar())
    for event in events:  # as the rebuild takes them from PostgreSQL: with the incident's community
        stored.remember(event["community"], event.get("report"), event.get("action"))
    assert stored.report(first).events == stored.report(second).events == []


@pytest.mark.parametrize("placed_by", ["grid", "community", "unlocated"])
def test_a_report_placed_only_by_an_area_opens_its_own_incident_and_never_joins_one_nearby(engine, placed_by):
    first = engine.report(located("h0", "illegal_parking", "low")).events[0]["incident"]
    by_area = {**located("h1", "illegal_parking", "low", nearby(PLAIN, 1), T0 + minutes(5)), "placed_by": placed_by}
    out = checked(engine.report(by_area))
    assert [e["kind"] for e in out.events] == ["opened"] and out.events[0]["incident"] != first
    by_point = {**located("h2", "illegal_parking", "low", nearby(PLAIN, 2), T0 + minutes(6)), "placed_by": "address"}
    assert [e["kind"] for e in engine.report(by_point).events] == ["report_merged"]


def test_each_street_opens_its_incidents_under_its_own_rules_and_keeps_them(clock, tmp_path):
    text = RULES.path.read_text(encoding="utf-8").replace('file = "sample/', f'file = "{RULES.path.parent}/sample/')
    path = tmp_path / "escalation.toml"
    own = '[streets.other.initial.by_severity]\nmedium = "community"\n[streets.other.deadlines.community]\n'
    path.write_text(text + own + 'acknowledge = "10m"\nresolve = "1h"\n', encoding="utf-8")
    rules = load_rules(path)
    engine = IncidentEngine(rules, clock, places=places_of(registry()), tz=TZ, calendar=calendar())
    here = engine.report(located("r1", "sanitation", "medium")).events[0]
    there = engine.report({**located("r2", "sanitation", "medium", nearby(PLAIN, 40)), "street": "other"}).events[0]
    assert (here["to_level"], here["state"]["ack_by"]) == ("grid", (T0 + minutes(30)).isoformat())
    assert (there["to_level"], there["state"]["ack_by"]) == ("community", (T0 + minutes(10)).isoformat())
    assert here["state"]["rules"] == rules.version and there["state"]["rules"] == rules.for_street("other").version
    assert there["state"]["limits"]["community"] == {"acknowledge": "10m", "resolve": "1h"}


def test_in_a_district_the_unlocated_queue_is_the_districts_and_a_reassign_stays_in_the_incidents_street(clock):
    district = GridRegistry.load(district_path(2))
    streets = IncidentKeys(district.geometry).streets_of
    engine = IncidentEngine(RULES, clock, places=places_of(district), tz=TZ, calendar=calendar(), streets=streets)
    east = next(g for g in district.grids.values() if district.communities[g.parent].parent == "xinjiekou")
    lng, lat = east.centre
    place = district.locate(lat, lng)
    report = {**located("r-east"), "location": {"lat": lat, "lng": lng, "accuracy": 5.0}, "courtyard": None}
    report.update(street=place.street, community=place.community, grid=place.grid)
    opened = engine.report({k: v for k, v in report.items() if v is not None}).events[0]
    assert (opened["street"], opened["community"]) == ("xinjiekou", east.parent)
    nowhere = {k: v for k, v in located("r-nowhere", where=OUTSIDE).items() if v is not None}
    queued = engine.report(nowhere).events[0]
    assert (queued["street"], queued["to_level"], queued["state"]["owner"]) == ("xicheng", "street", "xicheng")
    travel(clock, minutes=1)
    placed = engine.action(action("a-place", queued["incident"], "reassign", clock.now(), owner=east.id))
    assert placed.reports[0]["street"] == "xinjiekou"  # opens again in the street it was placed in
    refused = engine.action(action("a-west", opened["incident"], "reassign", clock.now(), owner="xichangan"))
    assert refused.events[0]["kind"] == "action_rejected"
    moved = engine.action(action("a-own", opened["incident"], "reassign", clock.now(), owner="xinjiekou"))
    assert moved.events[0]["state"]["owner"] == "xinjiekou"


def test_reports_metres_apart_across_a_street_border_open_an_incident_in_each_street(clock):
    district = GridRegistry.load(district_path(2))
    engine = IncidentEngine(RULES, clock, places=places_of(district), tz=TZ, calendar=calendar())
    pair = _across_the_street_border(district)
    events = []
    for n, (lat, lng) in enumerate(pair):
        place = district.locate(lat, lng)
        report = {**located(f"r-border-{n}"), "location": {"lat": lat, "lng": lng, "accuracy": 5.0}}
        report.update(street=place.street, community=place.community, grid=place.grid)
        events += engine.report({k: v for k, v in report.items() if v is not None}).events
    assert [(e["kind"], e["street"]) for e in events] == [("opened", "xichangan"), ("opened", "xinjiekou")]


def _across_the_street_border(district) -> tuple[tuple[float, float], tuple[float, float]]:
    """Two points ~4 m apart, the first in xichangan, the second in xinjiekou."""
    step = 0.00002  # ~2 m
    for lng, lat in district.streets["xichangan"].rings[0]:
        for dx, dy in ((1, 0), (0, 1), (1, 1), (-1, 1)):
            a, b = (lat - dy * step, lng - dx * step), (lat + dy * step, lng + dx * step)
            streets = (district.locate(*a).street, district.locate(*b).street)
            if streets == ("xichangan", "xinjiekou"):
                return a, b
            if streets == ("xinjiekou", "xichangan"):
                return b, a
    raise AssertionError("no border between the two streets")
