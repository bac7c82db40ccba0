"""The street, community and grid polygons from GeoJSON, refused at start-up with a precise message
unless every polygon is valid, the grids partition the communities and the communities the street.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType
from typing import Mapping

import h3
from h3.api import basic_int as h3i

from config.settings import ConfigError
from schemas import json

Ring = tuple[tuple[float, float], ...]  # closed, (lng, lat) as in GeoJSON
Polygon = tuple[Ring, ...]  # outer ring first, holes after

KINDS = ("street", "community", "grid")
# Area checks compare sets of resolution-13 cells (~31 m² each in Beijing) holding a polygon's
# centre. A contiguous patch of overlap or gap larger than the tolerance fails; rounding slivers
# along a shared edge catch a stray cell centre now and then and pass.
CHECK_RESOLUTION = 13
TOLERANCE_M2 = 100.0
METRES_PER_DEGREE = 111_320.0  # along a meridian, and along the equator; enough for areas and hints


class GeometryError(ConfigError):
    """The geometry file is wrong; the message names the file, the feature, the problem and a fix."""


@dataclass(frozen=True)
class Area:
    """One street, community or grid: its ids, names and polygons (a MultiPolygon has several)."""

    id: str
    name: str
    name_en: str
    kind: str
    parent: str | None  # the community of a grid, the street of a community, None for the street
    polygons: tuple[Polygon, ...]
    properties: Mapping = field(compare=False, repr=False)

    @property
    def rings(self) -> tuple[Ring, ...]:
        """Every ring of every polygon; even-odd counting over them tells inside from outside."""
        return tuple(ring for polygon in self.polygons for ring in polygon)


@dataclass(frozen=True)
class Geometry:
    """A validated geometry file: one street, its communities and their grids."""

    path: Path
    street: Area
    communities: dict[str, Area]  # in file order
    grids: dict[str, Area]


def load_geometry(path: str | Path, check_areas: bool = True) -> Geometry:
    """Read and validate the GeoJSON at `path`; raise GeometryError on the first problem found.
    `check_areas=False` skips the seconds-long check of the areas themselves (H3 fills, overlaps) for
    a caller that needs only the hierarchy of ids."""
    path = Path(path)
    geometry = _assemble(path, _parse(path, _read(path)))
    if check_areas:
        _check_areas(geometry)
    return geometry


def fill_cells(area: Area, resolution: int) -> list[int]:
    """H3 cells (int form) whose centre lies inside the area."""
    shape = h3.LatLngMultiPoly(*(
        h3.LatLngPoly(*([(lat, lng) for lng, lat in ring[:-1]] for ring in polygon)) for polygon in area.polygons
    ))
    # Same cells as h3shape_to_cells (checked on the sample), in half the time.
    return h3i.h3shape_to_cells_experimental(shape, resolution, contain="center")


def _fail(path: Path, where: str, problem: str, fix: str) -> GeometryError:
    return GeometryError(f"{path}: {where}: {problem}; fix: {fix}")


def _read(path: Path) -> dict:
    try:
        document = json.loads(path.read_bytes())
    except OSError as error:
        raise _fail(path, "file", f"cannot be read ({error.strerror})", "point REDWALL_GEOMETRY at a GeoJSON file")
    except json.JSONDecodeError as error:
        raise _fail(path, "file", f"is not valid JSON ({error})", "repair the JSON syntax") from None
    if not isinstance(document, dict) or document.get("type") != "FeatureCollection":
        raise _fail(path, "file", "is not a GeoJSON FeatureCollection", 'use {"type": "FeatureCollection", ...}')
    if not isinstance(document.get("features"), list):
        raise _fail(path, "file", '"features" is not a list', "list the street, community and grid features")
    return document


def _parse(path: Path, document: dict) -> list[Area]:
    areas, seen = [], {}
    for index, feature in enumerate(document["features"]):
        where = f"feature #{index}"
        props = feature.get("properties") if isinstance(feature, dict) else None
        if not isinstance(props, dict):
            raise _fail(path, where, "has no properties object", "give it properties with kind and id")
        kind, ident = props.get("kind"), props.get("id")
        if kind not in KINDS:
            raise _fail(path, where, f"kind {kind!r} is not one of {', '.join(KINDS)}", "set properties.kind")
        if not isinstance(ident, str) or not ident:
            raise _fail(path, f"{where} ({kind})", "has no id", "set properties.id to a unique non-empty string")
        where = f"{kind} {ident} ({where})"
        if ident in seen:
            raise _fail(path, where, f"duplicate id, also used by feature #{seen[ident]}",
                        "give each feature its own id")
        seen[ident] = index
        polygons = _polygons(path, where, feature.get("geometry"))
        parent = props.get("community") if kind == "grid" else None  # a community's is set once the street is known
        name, name_en = props.get("name", ident), props.get("name_en", "")
        areas.append(Area(ident, name, name_en, kind, parent, polygons, MappingProxyType(props)))
    return areas


def _assemble(path: Path, areas: list[Area]) -> Geometry:
    streets = [a for a in areas if a.kind == "street"]
    if len(streets) != 1:
        raise _fail(path, "file", f"has {len(streets)} street features", "keep exactly one feature of kind street")
    street = streets[0]
    communities = {a.id: a for a in areas if a.kind == "community"}
    for area in areas:
        where = f"{area.kind} {area.id}"
        if area.kind == "grid" and area.parent not in communities:
            raise _fail(path, where, f"its community {area.parent!r} is not defined",
                        "set properties.community to the id of a community feature")
        street_id = area.properties.get("street", street.id)
        if area.kind != "street" and street_id != street.id:
            raise _fail(path, where, f"its street {street_id!r} is not {street.id!r}", "correct properties.street")
    communities = {k: replace(a, parent=street.id) for k, a in communities.items()}
    grids = {a.id: a for a in areas if a.kind == "grid"}
    return Geometry(path, street, communities, grids)


def _polygons(path: Path, where: str, geometry) -> tuple[Polygon, ...]:
    kind = geometry.get("type") if isinstance(geometry, dict) else None
    coordinates = geometry.get("coordinates") if kind else None
    parts = [coordinates] if kind == "Polygon" else coordinates if kind == "MultiPolygon" else None
    if not isinstance(parts, list) or not parts or not all(isinstance(p, list) and p for p in parts):
        raise _fail(path, where, "geometry is not a non-empty Polygon or MultiPolygon",
                    'give it {"type": "Polygon", "coordinates": [[[lng, lat], ...]]}')
    return tuple(
        tuple(_ring(path, f"{where} ring {r}" + (f" of polygon {p}" if len(parts) > 1 else ""), ring)
              for r, ring in enumerate(part))
        for p, part in enumerate(parts)
    )


def _ring(path: Path, where: str, raw) -> Ring:
    if not isinstance(raw, list) or not all(_is_position(p) for p in raw):
        raise _fail(path, where, "is not a list of [lng, lat] positions", "use [[lng, lat], ...] in degrees")
    if len(raw) < 2:
        raise _fail(path, where, f"has {len(raw)} positions", "a ring needs 3 corners plus the closing position")
    if raw[0][:2] != raw[-1][:2]:
        raise _fail(path, where, "is not closed", "repeat the first position at the end of the ring")
    # Repeated consecutive positions carry no shape; dropping them keeps the edge checks simple.
    ring = [(float(p[0]), float(p[1])) for p in raw]
    ring = tuple(p for i, p in enumerate(ring) if i == 0 or p != ring[i - 1])
    if len(ring) < 4:
        raise _fail(path, where, f"has {len(ring) - 1} corners", "a ring needs 3 corners plus the closing position")
    if ring_area_m2(ring) < 0.01:
        raise _fail(path, where, "has zero area", "spread its corners apart")
    crossing = _self_crossing(ring)
    if crossing:
        i, j = crossing
        lng, lat = _meeting_point(ring[i], ring[i + 1], ring[j], ring[j + 1])
        raise _fail(path, where, f"is self-intersecting: edges {i} and {j} meet near ({lat:.6f}, {lng:.6f})",
                    "reorder or move the corners so that no two edges cross or touch")
    return ring


def _is_position(p) -> bool:
    return (isinstance(p, list) and len(p) >= 2
            and all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in p[:2])
            and -180 <= p[0] <= 180 and -90 <= p[1] <= 90)


def ring_area_m2(ring: Ring) -> float:
    """Planar area by the shoelace formula, scaled to metres at the ring's latitude."""
    twice = sum(x0 * y1 - x1 * y0 for (x0, y0), (x1, y1) in zip(ring, ring[1:]))
    return abs(twice) / 2 * METRES_PER_DEGREE ** 2 * math.cos(math.radians(ring[0][1]))


def _self_crossing(ring: Ring) -> tuple[int, int] | None:
    """The first pair of edges that cross, touch or fold back onto each other; O(n²) is plenty here."""
    edges = len(ring) - 1
    for i in range(edges):
        a, b = ring[i], ring[i + 1]
        for j in range(i + 1, edges):
            c, d = ring[j], ring[j + 1]
            if j == i + 1:
                bad = _folds_back(a, b, d)
            elif i == 0 and j == edges - 1:
                bad = _folds_back(c, a, b)
            else:
                bad = _segments_meet(a, b, c, d)
            if bad:
                return i, j
    return None


def _orient(p, q, r) -> int:
    v = (q[0] - p[0]) * (r[1] - p[1]) - (q[1] - p[1]) * (r[0] - p[0])
    return (v > 0) - (v < 0)


def _within_box(p, q, r) -> bool:
    """r lies in the bounding box of p-q (for a collinear r: on the segment)."""
    return min(p[0], q[0]) <= r[0] <= max(p[0], q[0]) and min(p[1], q[1]) <= r[1] <= max(p[1], q[1])


def _folds_back(a, b, c) -> bool:
    """Edges a-b and b-c, sharing b, overlap: collinear with c heading back towards a."""
    return _orient(a, b, c) == 0 and (b[0] - a[0]) * (c[0] - b[0]) + (b[1] - a[1]) * (c[1] - b[1]) < 0


def _segments_meet(a, b, c, d) -> bool:
    if max(a[0], b[0]) < min(c[0], d[0]) or max(c[0], d[0]) < min(a[0], b[0]):
        return False
    if max(a[1], b[1]) < min(c[1], d[1]) or max(c[1], d[1]) < min(a[1], b[1]):
        return False
    o1, o2, o3, o4 = _orient(a, b, c), _orient(a, b, d), _orient(c, d, a), _orient(c, d, b)
    if o1 != o2 and o3 != o4:
        return True
    return ((o1 == 0 and _within_box(a, b, c)) or (o2 == 0 and _within_box(a, b, d))
            or (o3 == 0 and _within_box(c, d, a)) or (o4 == 0 and _within_box(c, d, b)))


def _meeting_point(a, b, c, d) -> tuple[float, float]:
    """Where edges a-b and c-d cross; for parallel edges, the end of c-d that touches a-b."""
    denominator = (b[0] - a[0]) * (d[1] - c[1]) - (b[1] - a[1]) * (d[0] - c[0])
    if denominator == 0:
        return c if _within_box(a, b, c) else d
    t = ((c[0] - a[0]) * (d[1] - c[1]) - (c[1] - a[1]) * (d[0] - c[0])) / denominator
    return a[0] + t * (b[0] - a[0]), a[1] + t * (b[1] - a[1])


def _check_areas(geometry: Geometry) -> None:
    """Grids inside their community, communities inside the street, no overlaps, no gaps."""
    street, communities, grids = geometry.street, geometry.communities.values(), geometry.grids.values()
    fills = {a.id: set(fill_cells(a, CHECK_RESOLUTION)) for a in (street, *communities, *grids)}
    grid_fills = {g.id: fills[g.id] for g in grids}
    lng, lat = street.polygons[0][0][0]
    patches = _Patches(geometry.path, h3.cell_area(h3.latlng_to_cell(lat, lng, CHECK_RESOLUTION), "m^2"), grid_fills)
    for community in communities:
        patches.check(fills[community.id] - fills[street.id], f"community {community.id}",
                      f"lies outside the street {street.id}", "move the community's edges inside the street")
    for grid in grids:
        patches.check(fills[grid.id] - fills[grid.parent], f"grid {grid.id}",
                      f"lies outside its community {grid.parent}", "move the grid's edges inside the community")
    covered = set().union(*grid_fills.values())
    if len(covered) < sum(map(len, grid_fills.values())):
        _check_overlaps(patches, grid_fills)
    own = defaultdict(set)
    for grid in grids:
        own[grid.parent] |= fills[grid.id]
    for community in communities:
        patches.check(fills[community.id] - own[community.id], f"community {community.id}",
                      "is covered by none of its grids", "extend a grid of the community over the gap or add one",
                      near=True)
    patches.check(fills[street.id] - covered, f"street {street.id}", "is covered by no grid",
                  "extend a neighbouring grid over the gap or add one", near=True)


def _check_overlaps(patches: _Patches, grid_fills: dict[str, set[int]]) -> None:
    """Raises when two grids share a patch larger than the tolerance."""
    owner, shared = {}, defaultdict(set)
    for grid, cells in grid_fills.items():
        for cell in cells:
            first = owner.setdefault(cell, grid)
            if first != grid:
                shared[(first, grid)].add(cell)
    for (first, second), cells in shared.items():
        patches.check(cells, f"grid {second}", f"overlaps grid {first}",
                      "make both grids follow the same vertices along their common edge")


class _Patches:
    """Finds the largest contiguous patch of offending cells and raises when it is over tolerance."""

    def __init__(self, path: Path, cell_m2: float, grid_fills: dict[str, set[int]]):
        self.path, self.cell_m2, self.grid_fills = path, cell_m2, grid_fills

    def check(self, cells: set[int], where: str, problem: str, fix: str, near: bool = False) -> None:
        if len(cells) * self.cell_m2 <= TOLERANCE_M2:
            return
        patch = max(_patches(cells), key=len)
        if len(patch) * self.cell_m2 <= TOLERANCE_M2:
            return
        lat, lng = _middle(patch)
        message = f"about {len(patch) * self.cell_m2:.0f} m² near ({lat:.6f}, {lng:.6f}) {problem}"
        if near:
            message += f" (next to {self.neighbours(patch)})"
        raise _fail(self.path, where, message, fix)

    def neighbours(self, patch: set[int]) -> str:
        around = {n for c in patch for n in h3i.grid_disk(c, 1)} - patch
        grids = [g for g, cells in self.grid_fills.items() if not cells.isdisjoint(around)]
        return "grids " + ", ".join(grids[:6]) if grids else "no grid"


def _patches(cells: set[int]) -> list[set[int]]:
    """Connected components of a cell set (cells sharing an edge are connected)."""
    left, found = set(cells), []
    while left:
        frontier = [left.pop()]
        patch = set(frontier)
        while frontier:
            for near in h3i.grid_disk(frontier.pop(), 1):
                if near in left:
                    left.remove(near)
                    patch.add(near)
                    frontier.append(near)
        found.append(patch)
    return found


def _middle(patch: set[int]) -> tuple[float, float]:
    """The centre of the patch cell nearest the patch's mean, so the point lies in the patch."""
    centres = [h3i.cell_to_latlng(c) for c in patch]
    lat = sum(p[0] for p in centres) / len(centres)
    lng = sum(p[1] for p in centres) / len(centres)
    return min(centres, key=lambda p: (p[0] - lat) ** 2 + (p[1] - lng) ** 2)
