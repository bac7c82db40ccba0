"""Where the engine may put an incident, read from the map once: every owner id with its level and community,
and who holds the queue of reports outside every grid (Geometry.unlocated_area, the one rule for it)."""

from __future__ import annotations

from streams.geofence.registry import GridRegistry


class Places(dict):
    """Owner id -> (level, community): where an incident may be reassigned. `unlocated`: the id of the holder of
    the unlocated queue; None for an engine given no map, which then opens nothing without a street."""

    def __init__(self, owners=(), unlocated: str | None = None):
        super().__init__(owners)
        self.unlocated = unlocated


def places_of(registry: GridRegistry) -> Places:
    """Every owner id an incident may be reassigned to, and the unlocated queue's holder."""
    geometry = registry.geometry
    places = {g.id: ("grid", g.parent) for g in geometry.grids.values()}
    places.update({c.id: ("community", c.id) for c in geometry.communities.values()})
    places.update({s: ("street", None) for s in geometry.streets})
    if geometry.district:  # beyond the ceiling
        places[geometry.district.id] = ("district", None)
    return Places(places, geometry.unlocated_owner)
