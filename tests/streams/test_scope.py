"""Where a dispatcher sees and acts (streams/scope.py), on the one-street sample and on a district of two streets."""

from __future__ import annotations

import pytest

from config.geometry import load_geometry
from config.settings import SAMPLE_GEOMETRY
from schemas.records import UNLOCATED
from sinks.credentials import Credential
from streams.scope import NOWHERE, may_take, place_street, refusal, sees, street_scope
from tests.support.two_streets import EAST, WEST, two_streets

ONE = load_geometry(SAMPLE_GEOMETRY, check_areas=False)


@pytest.fixture(scope="module")
def two(tmp_path_factory):
    return load_geometry(two_streets(tmp_path_factory.mktemp("scope")), check_areas=False)


def dispatcher(role: str, community: str | None = None, street: str | None = None) -> Credential:
    return Credential("dispatcher", f"d-{role}", role, community, street=street)


def test_on_one_street_a_dispatcher_issued_before_streets_keeps_seeing_the_street():
    for who in (dispatcher("street"), dispatcher("community", "c03")):
        assert street_scope(who, ONE) == "xichangan"
        assert refusal(who, "c03", ONE) is None
    assert place_street(ONE, UNLOCATED) == "xichangan"  # the street's own queue
    assert place_street(ONE, "c99") == "xichangan"  # an incident of a community the map has lost since


def test_in_a_district_each_street_sees_its_own_and_the_district_all(two):
    east, c08, district = dispatcher("street", street=EAST), dispatcher("community", "c08"), dispatcher("district")
    assert (street_scope(east, two), street_scope(c08, two), street_scope(district, two)) == (EAST, WEST, None)
    assert sees(east, two, EAST) and not sees(east, two, WEST)
    assert sees(district, two, EAST) and sees(district, two, WEST)
    assert refusal(east, "c01", two) is None and refusal(district, "c08", two) is None
    assert (
        refusal(east, "c08", two) == f"dispatcher d-street acts for street {EAST} only; this incident belongs to {WEST}"
    )


def test_in_a_district_the_unlocated_queue_is_the_districts(two):
    assert place_street(two, UNLOCATED) is None
    assert place_street(two, "c99", WEST) == WEST  # a community the map has lost: the street the record carries
    assert "no street: the district places it" in refusal(dispatcher("street", street=EAST), UNLOCATED, two)
    assert refusal(dispatcher("district"), UNLOCATED, two) is None


def test_a_street_dispatcher_without_a_street_in_a_district_sees_nothing_and_is_told_to_reissue(two):
    legacy = dispatcher("street")
    assert street_scope(legacy, two) == NOWHERE and not sees(legacy, two, EAST)
    assert "reissue it with --street, one of west, east" in refusal(legacy, "c01", two)


def test_a_community_unknown_to_the_geometry_is_left_to_the_workers_404(two):
    assert refusal(dispatcher("street", street=EAST), "c99", two) is None


def test_the_district_may_take_what_a_street_dispatcher_may():
    assert may_take("district", ("street",)) and may_take("district", ("community", "street"))
    assert not may_take("district", ("community",)) and not may_take("read", ("street",))
