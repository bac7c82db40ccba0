"""The key of incident-bound records: a community's street; the unlocated queue's, the district's (or the one
street's of a one-street map), since an unlocated incident's id names no street."""

from __future__ import annotations

from pathlib import Path

from config.geometry import Area, Geometry
from schemas.records import UNLOCATED
from streams.escalation.keys import IncidentKeys
from streams.escalation.state import incident_id
from tests.support.incident_factories import registry


def area(ident: str, kind: str, parent: str | None) -> Area:
    return Area(ident, ident, ident, kind, parent, (), {})


def district() -> Geometry:
    """Two streets of a district, two communities each (no polygons: keys look at ids only)."""
    streets = {s: area(s, "street", "xicheng") for s in ("desheng", "yuetan")}
    communities = {c: area(c, "community", s) for c, s in (("d01", "desheng"), ("d02", "desheng"), ("y01", "yuetan"))}
    return Geometry(Path("district.geojson"), streets, communities, {}, {}, area("xicheng", "district", None))


def test_every_community_of_the_sample_street_and_its_unlocated_queue_share_the_street_key():
    keys = IncidentKeys(registry().geometry)
    assert {keys.of(c) for c in registry().communities} == {b"xichangan"}
    assert keys.of(UNLOCATED) == keys.of(None) == b"xichangan"
    assert keys.of_incident(incident_id("c07", "r-1")) == keys.of_incident(incident_id(UNLOCATED, "r-2"))


def test_in_a_district_each_community_takes_its_street_and_the_unlocated_queue_the_district():
    keys = IncidentKeys(district())
    assert [keys.of(c) for c in ("d01", "d02", "y01")] == [b"desheng", b"desheng", b"yuetan"]
    assert keys.of_incident(incident_id("y01", "r-1")) == b"yuetan"
    assert keys.of(UNLOCATED) == keys.of_incident(incident_id(UNLOCATED, "r-2")) == b"xicheng"
    assert keys.of("c99") == b"xicheng"  # an id naming no community: the queue, as the engine then refuses it
