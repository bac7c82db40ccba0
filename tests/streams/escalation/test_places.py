"""Where the engine may put an incident: the places carry the map's holder of the unlocated queue, so the
engine asks the map (Geometry.unlocated_area) rather than working it out again."""

from __future__ import annotations

from config.sample.district import district_path
from streams.escalation.places import places_of
from streams.geofence.registry import GridRegistry
from tests.support.incident_factories import registry


def test_the_places_of_one_street_give_the_unlocated_queue_to_the_street():
    places = places_of(registry())
    assert places.unlocated == "xichangan" and places["xichangan"] == ("street", None)


def test_the_places_of_a_district_give_the_unlocated_queue_to_the_district():
    places = places_of(GridRegistry.load(district_path(2)))
    assert places.unlocated == "xicheng" and places["xicheng"] == ("district", None)
    assert {places["xichangan"], places["xinjiekou"]} == {("street", None)}
