"""The grid registry: which street, community, grid and courtyard a point lies in, from one H3 cell
looked up in two indexes of the same kind (grids, courtyards) plus, near an edge only, an exact
point-in-polygon test.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from types import MappingProxyType

import h3
from h3.api import basic_int as h3i

from config.crs import METRES_PER_DEGREE, metres_per_degree_lng
from config.geometry import Area, Geometry, fill_cells, load_geometry
from streams.geofence import registry_cache

# Resolution 12 cells are ~10.8 m along an edge, about the size of a 5 m GPS fix's uncertainty.
# Border cells get the exact test whatever the resolution, so it only trades the memory of the
# index against how often that slower test runs: res 13 would hold 7x the cells, res 11 would
# send 2.6x as many points to the exact test.
DEFAULT_RESOLUTION = 12
# Edge samples at most a quarter of a cell edge apart land in every cell an edge crosses, or in a
# neighbour of it; marking the neighbours too therefore catches every cell an edge touches.
SAMPLES_PER_CELL_EDGE = 4


@dataclass(frozen=True, slots=True)
class Place:
    """Where a point is; all None outside every grid, courtyard None in a grid's lanes and streets."""

    street: str | None
    community: str | None
    grid: str | None
    courtyard: str | None = None

    @property
    def outside(self) -> bool:
        return self.grid is None


OUTSIDE = Place(None, None, None)

# One edge for the even-odd ray cast: south and north latitude, longitude at the south end,
# longitude per degree of latitude. The edge shared by two grids is the same tuple in both, so a
# point near it gets the very same float answer from each and lands in exactly one.
Edge = tuple[float, float, float, float]


class GridRegistry:
    """Two indexes of one kind, H3 cell -> the Place for a cell inside one area, or the candidates for
    a cell near an edge: one of grids, one of courtyards (whose Places name their grid too)."""

    def __init__(self, geometry: Geometry, resolution: int, grids: dict, courtyards: dict | None = None):
        self.geometry, self.resolution = geometry, resolution
        self._grids, self._courtyards = grids, courtyards or {}

    @classmethod
    def from_settings(cls, settings) -> GridRegistry:
        return cls.load(settings.geometry_path, settings.h3_resolution)

    @classmethod
    def load(cls, path, resolution: int = DEFAULT_RESOLUTION) -> GridRegistry:
        """The registry of a geometry file: its indexes from the cache when this file, resolution and code built
        them before (streams/geofence/registry_cache.py), else checked and built, and kept."""
        kept = registry_cache.load(path, resolution)
        if kept is not None:
            return cls(load_geometry(path, check_areas=False), resolution, *kept)  # checked when it was built
        built = cls.build(load_geometry(path), resolution)
        registry_cache.store(path, resolution, (built._grids, built._courtyards))
        return built

    @classmethod
    def build(cls, geometry: Geometry, resolution: int = DEFAULT_RESOLUTION) -> GridRegistry:
        """Index every cell a grid or a courtyard holds or touches (about a second for the sample)."""
        places = {g.id: Place(geometry.communities[g.parent].parent, g.parent, g.id) for g in geometry.grids.values()}
        courtyards = {c.id: replace(places[c.parent], courtyard=c.id) for c in geometry.courtyards.values()}
        return cls(
            geometry,
            resolution,
            _index(geometry.grids.values(), places, resolution),
            _index(geometry.courtyards.values(), courtyards, resolution),
        )

    def locate(self, lat: float, lng: float) -> Place:
        """The street, community, grid and courtyard of a point in degrees; OUTSIDE when it is in no grid.

        A point exactly on an edge between two grids belongs to the grid east of it, or north of it
        for an edge running east-west: the half-open rule of the ray cast. A courtyard counts only
        inside the grid it belongs to, so the four ids always agree.
        """
        cell = h3i.latlng_to_cell(lat, lng, self.resolution)
        entry = self._grids.get(cell)
        # A Place is the answer for the whole cell: tested here, not in a call, for most points.
        place = entry if entry.__class__ is Place else _which(entry, lat, lng)
        if place is None:
            return OUTSIDE
        # Courtyards (~70 m, four res-12 cells across) leave most of their cells near an edge: about 3 in
        # 4 points of the sample take their exact test, which halves the lookups a core does (measured by
        # tests/streams/geofence/test_registry.py, printed with -s).
        entry = self._courtyards.get(cell)
        if entry is None:  # in no courtyard's reach: a dict miss is all a lane costs
            return place
        courtyard = entry if entry.__class__ is Place else _which(entry, lat, lng)
        return courtyard if courtyard is not None and courtyard.grid == place.grid else place

    def distance_to_boundary_m(self, grid: str, lat: float, lng: float) -> float:
        """Metres from a point to the nearest edge of a grid, inside or out (for GPS hysteresis)."""
        scale = metres_per_degree_lng(lat)
        best = math.inf
        for ring in self.geometry.grids[grid].rings:
            for (x0, y0), (x1, y1) in zip(ring, ring[1:]):
                # Local metres around the point: equirectangular is exact enough across one grid.
                ax, ay = (x0 - lng) * scale, (y0 - lat) * METRES_PER_DEGREE
                bx, by = (x1 - lng) * scale, (y1 - lat) * METRES_PER_DEGREE
                best = min(best, _distance_to_segment(ax, ay, bx, by))
        return best

    def cell(self, lat: float, lng: float) -> str:
        """The H3 cell of a point at the registry's resolution, as a hex string."""
        return h3.latlng_to_cell(lat, lng, self.resolution)

    @property
    def street(self) -> Area:
        """The one street of a one-street geometry (a district has `streets`)."""
        return self.geometry.street

    @property
    def streets(self) -> Mapping[str, Area]:
        return MappingProxyType(self.geometry.streets)

    @property
    def communities(self) -> Mapping[str, Area]:
        return MappingProxyType(self.geometry.communities)

    @property
    def grids(self) -> Mapping[str, Area]:
        return MappingProxyType(self.geometry.grids)

    @property
    def courtyards(self) -> Mapping[str, Area]:
        return MappingProxyType(self.geometry.courtyards)

    def stats(self) -> dict[str, int]:
        return {
            "resolution": self.resolution,
            "cells": len(self._grids),
            "border_cells": sum(1 for entry in self._grids.values() if entry.__class__ is tuple),
            "communities": len(self.geometry.communities),
            "grids": len(self.geometry.grids),
            "courtyards": len(self.geometry.courtyards),
            "courtyard_cells": len(self._courtyards),
            "courtyard_border_cells": sum(1 for entry in self._courtyards.values() if entry.__class__ is tuple),
        }


def _index(areas: Iterable[Area], places: dict[str, Place], resolution: int) -> dict[int, Place | tuple]:
    """Cell -> the area's Place for a cell whose centre lies in one area and which no edge touches;
    cell -> ((place, parity, edges), ...) for the others, told apart by the exact test (`_which`)."""
    areas = list(areas)
    owners, touched = defaultdict(list), defaultdict(set)
    for area in areas:
        for cell in fill_cells(area, resolution):
            owners[cell].append(area.id)
        for cell in _border_cells(area, resolution):
            touched[cell].add(area.id)
    edges = {a.id: [(e, _west_end(e), _east_end(e)) for e in _edges(a)] for a in areas}
    cells = {}
    for cell in owners.keys() | touched.keys():
        centre_in = owners.get(cell, [])
        if cell not in touched and len(centre_in) == 1:
            cells[cell] = places[centre_in[0]]
        else:
            # A point of this cell can only be in an area whose edges touch the cell or, failing
            # that, in the area holding the whole cell and so its centre. The area holding the
            # centre is the likeliest, so it is tried first; ids break ties so that every worker
            # answers alike even where tolerated slivers overlap.
            candidates = sorted(touched.get(cell, set()) | set(centre_in), key=lambda a: (a not in centre_in, a))
            if entry := _candidates(cell, candidates, places, edges):
                cells[cell] = entry
    return cells


def _which(entry: Place | tuple | None, lat: float, lng: float) -> Place | None:
    """The Place an index entry gives a point: the entry itself, or the first candidate holding the
    point by the even-odd ray cast (east at the point's latitude, from the parity of the edges that
    cross every ray from the cell); None when there is none."""
    if entry is None or entry.__class__ is Place:
        return entry
    for place, inside, edges in entry:
        for south, north, west, slope in edges:
            if south <= lat < north and lng < west + (lat - south) * slope:
                inside = not inside
        if inside:
            return place
    return None


def _distance_to_segment(ax: float, ay: float, bx: float, by: float) -> float:
    """Distance from the origin to the segment a-b."""
    dx, dy = bx - ax, by - ay
    length2 = dx * dx + dy * dy
    t = 0.0 if length2 == 0 else max(0.0, min(1.0, -(ax * dx + ay * dy) / length2))
    return math.hypot(ax + t * dx, ay + t * dy)


def _edges(area: Area) -> list[Edge]:
    """The area's non-horizontal edges (horizontal ones never cross a horizontal ray), south first."""
    edges = []
    for ring in area.rings:
        for a, b in zip(ring, ring[1:]):
            (x0, y0), (x1, y1) = sorted((a, b), key=lambda p: (p[1], p[0]))
            if y0 != y1:
                edges.append((y0, y1, x0, (x1 - x0) / (y1 - y0)))
    return edges


def _border_cells(area: Area, resolution: int) -> set[int]:
    """Cells any edge of the area passes through, found by sampling each edge densely, plus neighbours."""
    step = h3.average_hexagon_edge_length(resolution, "m") / SAMPLES_PER_CELL_EDGE
    sampled = set()
    for ring in area.rings:
        for (x0, y0), (x1, y1) in zip(ring, ring[1:]):
            metres = math.hypot((x1 - x0) * metres_per_degree_lng(y0), (y1 - y0) * METRES_PER_DEGREE)
            n = math.ceil(metres / step)
            sampled.update(
                h3i.latlng_to_cell(y0 + (y1 - y0) * i / n, x0 + (x1 - x0) * i / n, resolution) for i in range(n + 1)
            )
    return {near for cell in sampled for near in h3i.grid_disk(cell, 1)}


def _candidates(cell: int, areas: list[str], places: dict[str, Place], edges: dict[str, list[tuple]]):
    """For a cell near an edge: (place, parity, edges) per candidate area, with only the edges that pass
    through the cell's box; the Place itself when the cell turns out to lie wholly in one area. `edges`:
    each area's edges with their west and east ends.

    A ray runs east at the point's latitude. An edge spanning none of the cell's latitudes, or lying
    wholly west of it, crosses no ray from the cell; one spanning all of them wholly east of it crosses
    every ray, so only its parity is kept. Most cells the conservative border band marks keep one edge
    or none (a courtyard's far side is such an edge): that makes the courtyards' exact test cheap.
    """
    lats, lngs = zip(*h3i.cell_to_boundary(cell))
    margin = (max(lats) - min(lats)) / 4  # covers cell-edge curvature
    south, north, west, east = min(lats) - margin, max(lats) + margin, min(lngs) - margin, max(lngs) + margin
    entries = []
    for area in areas:
        parity, near = False, []
        for edge, west_end, east_end in edges[area]:
            if edge[0] > north or edge[1] < south or east_end < west:
                continue
            if edge[0] < south and edge[1] > north and west_end > east:
                parity = not parity
            else:
                near.append(edge)
        if near:
            entries.append((places[area], parity, tuple(near)))
        elif parity:  # the area holds the whole cell: no later candidate can matter
            return tuple(entries) + ((places[area], True, ()),) if entries else places[area]
    return tuple(entries)


def _east_end(edge: Edge) -> float:
    south, north, lng, slope = edge
    return max(lng, lng + (north - south) * slope)


def _west_end(edge: Edge) -> float:
    south, north, lng, slope = edge
    return min(lng, lng + (north - south) * slope)
