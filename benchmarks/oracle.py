"""The exact answer the grid registry is checked against: shapely's predicates on the raw GeoJSON polygons,
which share nothing with the registry's H3 index and ray cast; and points on and beside every edge, where
an index would go wrong first. Used by benchmarks/registry.py and the registry's tests (shapely comes with
the `test` extra)."""

from __future__ import annotations

import math
import random

import numpy as np
import shapely
from shapely.geometry import shape

from config.crs import METRES_PER_DEGREE
from streams.geofence.registry import OUTSIDE, GridRegistry, Place

ON_EDGE = 1e-9  # degrees (~0.1 mm): closer than this to an edge, either side is a right answer


class Oracle:
    """Which grid and courtyard hold a point, by shapely's exact predicates on the raw GeoJSON polygons."""

    def __init__(self, document: dict):
        features = document["features"]
        grids = [f for f in features if f["properties"]["kind"] == "grid"]
        yards = [f for f in features if f["properties"]["kind"] == "courtyard"]
        self.ids = [f["properties"]["id"] for f in grids]
        self.community = {f["properties"]["id"]: f["properties"]["community"] for f in grids}
        self.polygons = [shape(f["geometry"]) for f in grids]
        self.yard_ids = [f["properties"]["id"] for f in yards]
        self.yard_grid = {f["properties"]["id"]: f["properties"]["parent"] for f in yards}
        self.yards = [shape(f["geometry"]) for f in yards]
        # A district's outline, or the one street's: outside it a point on an edge may be in no grid.
        kinds = [f["properties"]["kind"] for f in features]
        top = "district" if "district" in kinds else "street"
        self.street = next(shape(f["geometry"]) for f in features if f["properties"]["kind"] == top)
        streets = [f["properties"]["id"] for f in features if f["properties"]["kind"] == "street"]
        self.street_of = {
            f["properties"]["id"]: f["properties"].get("street", streets[0])
            for f in features
            if f["properties"]["kind"] == "community"
        }
        self.street_inside = self.street.buffer(-ON_EDGE)
        self.tree = shapely.STRtree(self.polygons)
        self.edges = shapely.STRtree([p.boundary for p in self.polygons])
        self.yard_tree = shapely.STRtree(self.yards)
        self.yard_edges = shapely.STRtree([p.boundary for p in self.yards])

    def problems(self, registry: GridRegistry, lats, lngs) -> list[str]:
        """Every answer of the registry the oracle refutes, one line each ([] when all agree). Right is: the
        containing grid, OUTSIDE outside all grids and, for a point on an edge, one of the grids the edge
        bounds; the containing courtyard, none outside every courtyard, and on a courtyard's edge that
        courtyard or none; and the street and community of the grid."""
        lats, lngs = np.asarray(lats, dtype=float), np.asarray(lngs, dtype=float)
        points = shapely.points(lngs, lats)
        places = [registry.locate(lat, lng) for lat, lng in zip(lats.tolist(), lngs.tolist())]
        wrong, on_edge = self._compare(points, [p.grid for p in places], self.ids, self.tree, self.edges)
        for i, allowed in on_edge.items():
            deep_in_street = self.street_inside.contains(shapely.Point(lngs[i], lats[i]))
            if places[i].grid not in allowed | (set() if deep_in_street else {None}):
                wrong.add(i)
        yards = [p.courtyard for p in places]
        yard_wrong, yard_edge = self._compare(points, yards, self.yard_ids, self.yard_tree, self.yard_edges)
        wrong |= yard_wrong | {i for i, allowed in yard_edge.items() if yards[i] not in allowed | {None}}
        found = [f"({lats[i]}, {lngs[i]}): {places[i]}" for i in sorted(wrong)]
        return found + [f"{place}: not its grid's" for place in set(places) if not self._consistent(place)]

    def _consistent(self, place: Place) -> bool:
        """The street and community are the grid's, the courtyard lies in the grid."""
        if place is OUTSIDE:
            return True
        community = self.community[place.grid]
        expected = Place(self.street_of[community], community, place.grid, place.courtyard)
        return place == expected and (place.courtyard is None or self.yard_grid[place.courtyard] == place.grid)

    @staticmethod
    def _compare(points, got_ids: list, ids: list, tree, edges) -> tuple[set[int], dict[int, set]]:
        """The points whose answer differs from the containing polygon's, away from every edge; and the
        points on an edge with the ids of the polygons whose edge it is on."""
        expected = np.full(len(points), -1)
        within, found = tree.query(points, predicate="within")
        expected[within] = found
        index = {g: i for i, g in enumerate(ids)}
        got = np.array([index.get(ident, -1) for ident in got_ids])
        on_edge = {}
        for point, area in zip(*edges.query(points, predicate="dwithin", distance=ON_EDGE)):
            on_edge.setdefault(int(point), set()).add(ids[area])
        return {int(i) for i in np.flatnonzero(got != expected) if i not in on_edge}, on_edge


def edge_points(polygons, rng: random.Random) -> tuple[list, list]:
    """Along every edge every ~3 m: points on it (corners included), and points 0.3-1 m off it on both sides."""
    lats, lngs = [], []
    for polygon in polygons:
        ring = polygon.exterior.coords
        for (x0, y0), (x1, y1) in zip(ring, ring[1:]):
            scale = math.cos(math.radians(y0))
            east, north = (x1 - x0) * scale * METRES_PER_DEGREE, (y1 - y0) * METRES_PER_DEGREE
            length = math.hypot(east, north)
            steps = math.ceil(length / 3)
            for k in range(steps + 1):
                x, y = x0 + k / steps * (x1 - x0), y0 + k / steps * (y1 - y0)
                lats.append(y)
                lngs.append(x)
                for side in (-1, 1):
                    metres = side * rng.uniform(0.3, 1.0)  # along the unit normal (-north, east)
                    lngs.append(x - metres * north / length / (scale * METRES_PER_DEGREE))
                    lats.append(y + metres * east / length / METRES_PER_DEGREE)
    return lats, lngs
