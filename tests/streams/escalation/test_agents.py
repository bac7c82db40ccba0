"""The escalation wiring's pure parts: metrics from outcomes, and the HTTP action parser's refusals."""

from __future__ import annotations

from datetime import timedelta

import pytest
from prometheus_client import CollectorRegistry

from config.rules import load_rules
from config.sample.district import district_path
from sinks.credentials import Credential
from streams.escalation.agents import EscalationMetrics, places_of
from streams.escalation.engine import IncidentEngine
from streams.escalation.keys import IncidentKeys
from streams.geofence.registry import GridRegistry
from streams.http.actions import OutsideRole, parse_action
from streams.http.ingest import Refused
from tests.support.clock import ManualClock
from tests.support.incident_factories import PLAIN, T0, TZ, action, calendar, located, nearby, registry


def test_metrics_count_openings_escalations_breaches_and_the_ceiling():
    reg, clock = CollectorRegistry(), ManualClock(T0)
    metrics = EscalationMetrics(reg)
    engine = IncidentEngine(load_rules(), clock, places=places_of(registry()), tz=TZ, calendar=calendar())
    opened = engine.report(located("m1", "safety_hazard", "critical", nearby(PLAIN, 60)))
    metrics.count(opened)
    inc = opened.events[0]["incident"]
    clock.set(T0 + timedelta(minutes=16))
    metrics.count(engine.due())
    metrics.count(engine.action(action("m-a1", inc, "reopen", clock.now())))  # refused: not resolved
    value = reg.get_sample_value
    street = {"street": "xichangan"}
    assert value("redwall_incidents_opened_total", {**street, "level": "street", "reason": "report"}) == 1
    assert (
        value("redwall_incidents_escalated_total", {**street, "level": "district", "reason": "deadline_acknowledge"})
        == 1
    )
    assert (
        value("redwall_incident_deadline_breaches_total", {**street, "level": "street", "deadline": "acknowledge"}) == 1
    )
    assert value("redwall_ceiling_exceeded_total", {**street, "reason": "deadline_acknowledge"}) == 1
    assert value("redwall_incident_actions_rejected_total", {**street, "action": "reopen"}) == 1
    # opened, escalated, breached, ceiling
    assert value("redwall_incident_alerts_total", {**street, "outcome": "emitted"}) == 4
    metrics.count(engine.action(action("m-a2", "inc-c03-000000000000", "acknowledge", clock.now())))  # held by no one
    assert value("redwall_incident_actions_rejected_total", {"street": "", "action": "acknowledge"}) == 1


def test_in_a_district_each_street_counts_its_own_incidents_and_alerts():
    reg, clock = CollectorRegistry(), ManualClock(T0)
    metrics, district = EscalationMetrics(reg), GridRegistry.load(district_path(2))
    streets = IncidentKeys(district.geometry).streets_of
    engines = [
        IncidentEngine(load_rules(), clock, places=places_of(district), tz=TZ, calendar=calendar(), streets=streets)
        for _ in range(2)
    ]
    for n, (engine, name) in enumerate(zip(engines, ("xichangan", "xinjiekou"), strict=True)):
        for k in range(n + 1):  # one report in the first street, two far apart in the second
            metrics.count(engine.report(_located_in(district, name, f"r-{name}-{k}", k)))
    old = _located_in(district, "xinjiekou", "r-old", 3)
    old["event_time"] = (T0 - timedelta(days=2)).isoformat()
    metrics.count(engines[1].report(old))  # opened, its alert held back as stale
    value = reg.get_sample_value
    opened = {
        s: value("redwall_incidents_opened_total", {"street": s, "level": "grid", "reason": "report"})
        for s in ("xichangan", "xinjiekou")
    }
    assert opened == {"xichangan": 1, "xinjiekou": 3}
    assert value("redwall_incident_alerts_total", {"street": "xinjiekou", "outcome": "stale"}) == 1
    assert value("redwall_incident_alerts_total", {"street": "xichangan", "outcome": "stale"}) is None
    metrics.count_open(engines)
    assert value("redwall_incidents_open", {"street": "xichangan"}) == 1
    assert value("redwall_incidents_open", {"street": "xinjiekou"}) == 3
    metrics.count_open(engines[1:])  # the first street's partition went to another worker, which counts it
    assert value("redwall_incidents_open", {"street": "xichangan"}) is None
    assert value("redwall_incidents_open", {"street": "xinjiekou"}) == 3


def _located_in(district: GridRegistry, street: str, report_id: str, k: int) -> dict:
    """A plain sanitation report at the centre of the street's k-th grid."""
    grids = [g for g in district.grids.values() if district.communities[g.parent].parent == street]
    lng, lat = grids[k * 7].centre
    place = district.locate(lat, lng)
    report = {**located(report_id), "location": {"lat": lat, "lng": lng, "accuracy": 5.0}, "courtyard": None}
    report.update(street=place.street, community=place.community, grid=place.grid, cell=district.cell(lat, lng))
    return {k: v for k, v in report.items() if v is not None}


COMMUNITIES = {"c03": None, "c04": None}
GOOD = "inc-c03-0123456789ab"
STREET = Credential("dispatcher", "staff-1", "street")


@pytest.mark.parametrize(
    "incident, body, status, field",
    [
        ("not-an-incident", {}, 404, "incident"),
        ("inc-c99-0123456789ab", {}, 404, "incident"),
        (GOOD, [], 422, "(body)"),
        (GOOD, {"action": "bless", "reason": "x"}, 422, "action"),
        (GOOD, {"action": "ack", "reason": "x", "incident": "inc-c03-ffffffffffff"}, 422, "incident"),
        (GOOD, {"action": "ack", "reason": "x", "time": "yesterday"}, 422, "time"),
        (GOOD, {"action": "ack", "actor": "someone-else", "reason": "x"}, 403, "actor"),
    ],
)
def test_bad_actions_are_refused_naming_the_field(incident, body, status, field):
    with pytest.raises(Refused) as refused:
        parse_action(incident, body, COMMUNITIES, STREET)
    assert refused.value.status == status and refused.value.errors[0].field == field


@pytest.mark.parametrize(
    "dispatcher",
    [
        Credential("dispatcher", "viewer", "read"),
        Credential("dispatcher", "c04-desk", "community", "c04"),
        Credential("device", "dev-0001"),
    ],
)
def test_an_action_outside_the_role_is_refused(dispatcher):
    with pytest.raises(OutsideRole) as refused:
        parse_action(GOOD, {"action": "ack", "reason": "x"}, COMMUNITIES, dispatcher)
    assert refused.value.status == 403 and refused.value.errors[0].field == "incident"


def test_a_bare_action_gets_an_id_a_time_and_the_dispatcher_as_actor():
    own = Credential("dispatcher", "c03-desk", "community", "c03")
    parsed = parse_action(GOOD, {"action": "ack", "reason": "on my way"}, COMMUNITIES, own)
    assert parsed["id"].startswith("act-") and parsed["time"] and parsed["incident"] == GOOD
    assert parsed["actor"] == "c03-desk"


def test_only_a_street_dispatcher_acts_on_the_unlocated_queue():
    unlocated = "inc-unlocated-0123456789ab"
    parsed = parse_action(unlocated, {"action": "reassign", "owner": "c03", "reason": "near c03"}, COMMUNITIES, STREET)
    assert parsed["incident"] == unlocated and parsed["owner"] == "c03"
    for dispatcher in (
        Credential("dispatcher", "c03-desk", "community", "c03"),
        Credential("dispatcher", "viewer", "read"),
    ):
        with pytest.raises(OutsideRole) as refused:
            parse_action(unlocated, {"action": "reassign", "owner": "c03", "reason": "mine"}, COMMUNITIES, dispatcher)
        assert refused.value.status == 403
