"""The grid registry: which street, community and grid a point lies in, from one H3 lookup plus,
near a boundary only, an exact point-in-polygon test.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

import h3
from h3.api import basic_int as h3i

from config.crs import METRES_PER_DEGREE, metres_per_degree_lng
from config.geometry import Area, Geometry, fill_cells, load_geometry

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
    """Where a point is; all None outside every grid."""

    street: str | None
    community: str | None
    grid: str | None

    @property
    def outside(self) -> bool:
        return self.grid is None


OUTSIDE = Place(None, None, None)

# One edge for the even-odd ray cast: south and north latitude, longitude at the south end,
# longitude per degree of latitude. The edge shared by two grids is the same tuple in both, so a
# point near it gets the very same float answer from each and lands in exactly one.
Edge = tuple[float, float, float, float]


class GridRegistry:
    """H3 cell -> the grid's Place for cells inside one grid, or the candidates for border cells."""

    def __init__(self, geometry: Geometry, resolution: int, cells: dict[int, Place | tuple]):
        self.geometry, self.resolution, self._cells = geometry, resolution, cells

    @classmethod
    def from_settings(cls, settings) -> GridRegistry:
        return cls.build(load_geometry(settings.geometry_path), settings.h3_resolution)

    @classmethod
    def build(cls, geometry: Geometry, resolution: int = DEFAULT_RESOLUTION) -> GridRegistry:
        """Index every cell a grid holds or touches (under a second for the sample)."""
        street = geometry.street.id
        places = {g.id: Place(street, g.parent, g.id) for g in geometry.grids.values()}
        owners, touched = defaultdict(list), defaultdict(set)
        for grid in geometry.grids.values():
            for cell in fill_cells(grid, resolution):
                owners[cell].append(grid.id)
            for cell in _border_cells(grid, resolution):
                touched[cell].add(grid.id)
        edges = {g.id: _edges(g) for g in geometry.grids.values()}
        cells = {}
        for cell in owners.keys() | touched.keys():
            centre_in = owners.get(cell, [])
            if cell not in touched and len(centre_in) == 1:
                cells[cell] = places[centre_in[0]]
            else:
                # A point of this cell can only be in a grid whose edges touch the cell or, failing
                # that, in the grid holding the whole cell and so its centre. The grid holding the
                # centre is the likeliest, so it is tried first; ids break ties so that every worker
                # answers alike even where tolerated slivers overlap.
                candidates = sorted(touched.get(cell, set()) | set(centre_in), key=lambda g: (g not in centre_in, g))
                cells[cell] = _candidates(cell, candidates, places, edges)
        return cls(geometry, resolution, cells)

    def locate(self, lat: float, lng: float) -> Place:
        """The street, community and grid of a point in degrees; OUTSIDE when it is in no grid.

        A point exactly on an edge between two grids belongs to the grid east of it, or north of it
        for an edge running east-west: the half-open rule of the ray cast.
        """
        entry = self._cells.get(h3i.latlng_to_cell(lat, lng, self.resolution))
        if entry is None:
            return OUTSIDE
        if entry.__class__ is Place:
            return entry
        for place, edges in entry:
            inside = False
            for south, north, west, slope in edges:
                if south <= lat < north and lng < west + (lat - south) * slope:
                    inside = not inside
            if inside:
                return place
        return OUTSIDE

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
        return self.geometry.street

    @property
    def communities(self) -> Mapping[str, Area]:
        return MappingProxyType(self.geometry.communities)

    @property
    def grids(self) -> Mapping[str, Area]:
        return MappingProxyType(self.geometry.grids)

    def stats(self) -> dict[str, int]:
        border = sum(1 for entry in self._cells.values() if entry.__class__ is tuple)
        return {
            "resolution": self.resolution,
            "cells": len(self._cells),
            "border_cells": border,
            "communities": len(self.geometry.communities),
            "grids": len(self.geometry.grids),
        }


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


def _candidates(cell: int, grids: list[str], places: dict[str, Place], edges: dict[str, list[Edge]]) -> tuple | Place:
    """(place, edges) per candidate grid, keeping only the edges that can cross a ray from this cell.

    A ray runs east at the point's latitude, so only edges spanning a latitude of the cell and not
    lying wholly west of it can count; a grid left with no such edge cannot hold the point, and a
    cell left with no candidate is OUTSIDE.
    """
    boundary = h3i.cell_to_boundary(cell)
    margin = (max(p[0] for p in boundary) - min(p[0] for p in boundary)) / 4  # covers cell-edge curvature
    south, north = min(p[0] for p in boundary) - margin, max(p[0] for p in boundary) + margin
    west = min(p[1] for p in boundary) - margin
    entries = []
    for grid in grids:
        near = tuple(e for e in edges[grid] if e[0] <= north and e[1] >= south and _east_end(e) >= west)
        if near:
            entries.append((places[grid], near))
    return tuple(entries) or OUTSIDE


def _east_end(edge: Edge) -> float:
    south, north, lng, slope = edge
    return max(lng, lng + (north - south) * slope)
