"""What POST /v1/incidents/{id}/actions accepts, as pure logic: the incident, the dispatcher's role, and a
refusal naming every wrong field of the body."""

from __future__ import annotations

import pytest

from config.geometry import load_geometry
from config.sample.district import district_path
from sinks.credentials import Credential
from streams.http.actions import parse_action
from streams.http.refusal import Refused

STREET = Credential("dispatcher", "zhao", "street")
C01 = Credential("dispatcher", "wang", "community", "c01")
INCIDENT = "inc-c01-0123456789ab"
COMMUNITIES = {"c01", "c02"}


def refused(body, incident: str = INCIDENT, dispatcher: Credential = STREET) -> Refused:
    with pytest.raises(Refused) as info:
        parse_action(incident, body, COMMUNITIES, dispatcher)
    return info.value


def fields(refusal: Refused) -> list[str]:
    return [e.field for e in refusal.errors]


def test_a_bare_action_with_a_reason_is_completed_from_the_url_and_the_token():
    action = parse_action(INCIDENT, {"action": "ack", "reason": "on my way"}, COMMUNITIES, C01)
    assert action["incident"] == INCIDENT and action["actor"] == "wang" and action["id"].startswith("act-")


def test_an_unknown_action_names_action_first_and_then_what_is_missing():
    answer = refused({"action": "dance"})
    assert answer.status == 422 and fields(answer) == ["action", "reason"]
    assert "must be one of ack, resolve" in answer.errors[0].reason


@pytest.mark.parametrize(
    "body, missing",
    [
        ({"action": "reassign", "reason": "wrong grid"}, "owner"),
        ({"action": "reassign", "reason": "wrong grid", "owner": None}, "owner"),
        ({"action": "close_duplicate", "reason": "same bins"}, "duplicate_of"),
    ],
)
def test_an_action_without_what_it_needs_is_a_422_naming_it(body, missing):
    answer = refused(body)
    assert answer.status == 422 and fields(answer) == [missing]
    assert answer.errors[0].reason == f"is required when action is {body['action']}"


def test_every_wrong_field_of_the_body_is_named_in_one_refusal():
    answer = refused(
        {"action": "reassign", "reason": "", "time": "now", "colour": "red", "incident": "inc-c02-0123456789ab"}
    )
    assert answer.status == 422
    assert fields(answer) == ["reason", "time", "colour", "incident", "owner"]
    assert answer.reasons() == ["reason", "time", "(unknown)", "incident", "owner"]


def test_a_body_that_is_not_an_object_or_whose_action_is_no_string_is_a_422_not_a_crash():
    assert fields(refused(["ack"])) == ["(body)"]
    assert fields(refused({"action": ["reassign"], "reason": "x"})) == ["action"]


@pytest.mark.parametrize(
    "incident, dispatcher, status",
    [
        ("inc-c01-nothex", STREET, 404),
        ("inc-c99-0123456789ab", STREET, 404),
        ("inc-c02-0123456789ab", C01, 403),
    ],
)
def test_the_incident_and_the_role_are_checked_before_the_body(incident, dispatcher, status):
    answer = refused({"action": "dance"}, incident, dispatcher)
    assert answer.status == status and fields(answer) == ["incident"]


def test_a_dispatcher_acts_only_as_itself():
    answer = refused({"action": "ack", "reason": "x", "actor": "boss"})
    assert answer.status == 403 and fields(answer) == ["actor"]


def test_on_the_sample_district_a_street_dispatcher_acts_in_its_street_and_the_district_in_every_one():
    district = load_geometry(district_path(2), check_areas=False)
    own, other = "inc-s01c01-0123456789ab", "inc-s02c01-0123456789ab"
    xichangan = Credential("dispatcher", "zhao", "street", street="xichangan")
    approve = {"action": "approve", "request": "act-1", "reason": "agreed"}
    assert parse_action(own, approve, district.communities, xichangan, geometry=district)["actor"] == "zhao"
    with pytest.raises(Refused) as info:
        parse_action(other, approve, district.communities, xichangan, geometry=district)
    assert info.value.status == 403 and fields(info.value) == ["incident"]
    assert "acts for street xichangan only; this incident belongs to xinjiekou" in info.value.errors[0].reason
    qian = Credential("dispatcher", "qian", "district")
    assert parse_action(other, approve, district.communities, qian, geometry=district)["actor"] == "qian"
