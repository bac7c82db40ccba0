"""The district, street, community, grid and courtyard polygons from GeoJSON, refused at start-up with a
precise message unless every polygon is valid, the grids partition the communities, the communities their
street and the streets the district, and each courtyard lies inside its grid, apart from the others.

A file holds one street, or a district: one feature of kind district and its streets. Each community names
its street in `properties.street` (optional when the file has one street), each street its district in
`properties.district` (optional: the file's district).
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType

import h3
from h3.api import basic_int as h3i

from config.patches import CHECK_RESOLUTION, Patches
from config.rings import GeometryError, Ring, box, check_ring, clearly_apart, clearly_within, ring_area_m2
from config.rings import fail as _fail
from schemas import json
from schemas.records import ID_PATTERN, INCIDENT_ID_PATTERN, UNLOCATED

Polygon = tuple[Ring, ...]  # outer ring first, holes after

KINDS = ("district", "street", "community", "grid", "courtyard")
SMALL_FILL = 300  # cells: below it, the older of h3's fills is the faster (fill_cells)
# Ids travel in records, URLs and incident ids (inc-<community>-<hash>), so they keep to the records'
# id pattern, and a community's must make a well-formed incident id.
_ID = re.compile(ID_PATTERN)
_INCIDENT_ID = re.compile(INCIDENT_ID_PATTERN)
MAX_ID_LENGTH = 64


@dataclass(frozen=True)
class Area:
    """One district, street, community, grid or courtyard: its ids, names and polygons (a MultiPolygon has
    several)."""

    id: str
    name: str
    name_en: str
    kind: str
    # a courtyard's grid, a grid's community, a community's street, a street's district (or None); None for
    # the district
    parent: str | None
    polygons: tuple[Polygon, ...]
    properties: Mapping = field(compare=False, repr=False)

    @property
    def rings(self) -> tuple[Ring, ...]:
        """Every ring of every polygon; even-odd counting over them tells inside from outside."""
        return tuple(ring for polygon in self.polygons for ring in polygon)

    @property
    def centre(self) -> tuple[float, float]:
        """(lng, lat) of the area-weighted centroid of its largest outer ring: where its name is written, and
        where a task sent to a courtyard points."""
        ring = max((polygon[0] for polygon in self.polygons), key=len)
        a = cx = cy = 0.0
        for (x0, y0), (x1, y1) in zip(ring, ring[1:], strict=False):
            cross = x0 * y1 - x1 * y0
            a, cx, cy = a + cross, cx + (x0 + x1) * cross, cy + (y0 + y1) * cross
        if a == 0:
            return ring[0]
        return cx / (3 * a), cy / (3 * a)


@dataclass(frozen=True)
class Geometry:
    """A validated geometry file: its streets (one, or a district's), their communities, the communities'
    grids and the grids' courtyards."""

    path: Path
    streets: dict[str, Area]  # in file order
    communities: dict[str, Area]
    grids: dict[str, Area]
    # 院落: they need not cover their grid (lanes between them belong to none); a file may have none.
    courtyards: dict[str, Area] = field(default_factory=dict)
    district: Area | None = None  # the level above the streets: the escalation ceiling's target

    @property
    def street(self) -> Area:
        """The one street of a one-street file; what is made per street asks `streets` for a district."""
        if len(self.streets) != 1:
            raise GeometryError(
                f"{self.path}: a district of {len(self.streets)} streets has no one street; name the street"
            )
        return next(iter(self.streets.values()))

    @property
    def unlocated_area(self) -> Area:
        """Who holds the queue of what lies outside every grid: the one street of a one-street map (a district
        feature beside it or not), else the district. Incident keys, the engine and 12345 placement ask here."""
        return self.street if len(self.streets) == 1 else self.district

    @property
    def unlocated_owner(self) -> str:
        return self.unlocated_area.id

    def of_street(self, street: str) -> Geometry:
        """One street of the file, with its own communities, grids and courtyards: what is made per street
        (the weekly 专报, its heat maps) reads a district through this."""
        if street not in self.streets:
            raise GeometryError(f"{self.path}: no street {street!r}; the streets are {', '.join(self.streets)}")
        communities = {k: a for k, a in self.communities.items() if a.parent == street}
        grids = {k: a for k, a in self.grids.items() if a.parent in communities}
        courtyards = {k: a for k, a in self.courtyards.items() if a.parent in grids}
        return Geometry(self.path, {street: self.streets[street]}, communities, grids, courtyards, self.district)

    def street_of(self, area_id: str) -> str | None:
        """The street id of any street, community, grid or courtyard id; None for an unknown id."""
        for table in (self.courtyards, self.grids, self.communities):
            if area_id in table:
                area_id = table[area_id].parent
        return area_id if area_id in self.streets else None


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
    shape = h3.LatLngMultiPoly(
        *(h3.LatLngPoly(*([(lat, lng) for lng, lat in ring[:-1]] for ring in polygon)) for polygon in area.polygons)
    )
    # Both give the same cells (checked on the sample). The experimental fill takes 0.7x the time on a
    # grid of ~600 cells or more, but costs ~0.8 ms a call whatever the size: on a courtyard of ~15-130
    # cells, h3shape_to_cells is 2.3-6x faster.
    if sum(ring_area_m2(p[0]) for p in area.polygons) < SMALL_FILL * h3.average_hexagon_area(resolution, "m^2"):
        return h3i.h3shape_to_cells(shape, resolution)
    return h3i.h3shape_to_cells_experimental(shape, resolution, contain="center")


def _read(path: Path) -> dict:
    try:
        document = json.loads(path.read_bytes())
    except OSError as error:
        raise _fail(
            path, "file", f"cannot be read ({error.strerror})", "point REDWALL_GEOMETRY at a GeoJSON file"
        ) from None
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
        where = f"{kind} {ident} ({props.get('source', where)})"
        _check_id(path, where, kind, ident)
        if ident in seen:
            raise _fail(
                path, where, f"duplicate id, also used by feature #{seen[ident]}", "give each feature its own id"
            )
        seen[ident] = index
        polygons = _polygons(path, where, feature.get("geometry"))
        # A community's parent is set once the streets are known.
        parent = props.get("community") if kind == "grid" else props.get("parent") if kind == "courtyard" else None
        name, name_en = props.get("name", ident), props.get("name_en", "")
        areas.append(Area(ident, name, name_en, kind, parent, polygons, MappingProxyType(props)))
    return areas


def id_problem(kind: str, ident: str) -> str | None:
    """What is wrong with `ident` as the id of a street, community or grid; None when it is well formed."""
    if len(ident) > MAX_ID_LENGTH:
        return f"id {ident!r} is longer than {MAX_ID_LENGTH} characters"
    if kind == "community" and (not _INCIDENT_ID.fullmatch(f"inc-{ident}-{'0' * 12}") or ident == UNLOCATED):
        return (
            f"id {ident!r} is not a community id: letters, digits, '_' and '.' only (it is part of incident ids), "
            f"and not {UNLOCATED!r}"
        )
    if not _ID.fullmatch(ident):
        return f"id {ident!r} is not an id: a letter or digit, then letters, digits, '_', '.', ':' or '-'"
    return None


def _check_id(path: Path, where: str, kind: str, ident: str) -> None:
    problem = id_problem(kind, ident)
    if problem:
        raise _fail(
            path,
            where,
            problem,
            "use codes such as c01 for a community and c01-g01 for a grid; "
            "keep names, in any script, in properties.name",
        )


def label(area: Area) -> str:
    """How messages name an area: kind and id, and where an imported one came from."""
    source = area.properties.get("source")
    return f"{area.kind} {area.id}" + (f" ({source})" if source else "")


def _assemble(path: Path, areas: list[Area]) -> Geometry:
    districts = [a for a in areas if a.kind == "district"]
    if len(districts) > 1:
        raise _fail(
            path, "file", f"has {len(districts)} district features", "keep at most one feature of kind district"
        )
    district = districts[0] if districts else None
    streets = {a.id: a for a in areas if a.kind == "street"}
    if not streets:
        raise _fail(path, "file", "has no street feature", "add a feature of kind street")
    if len(streets) > 1 and district is None:
        raise _fail(path, "file", f"has {len(streets)} streets and no district", "add the feature of kind district")
    communities = {a.id: a for a in areas if a.kind == "community"}
    grids = {a.id: a for a in areas if a.kind == "grid"}
    sole = next(iter(streets)) if len(streets) == 1 else None
    for area in areas:
        _check_parent(path, area, streets, communities, grids, sole, district)
    streets = {k: replace(a, parent=district.id if district else None) for k, a in streets.items()}
    communities = {k: replace(a, parent=a.properties.get("street", sole)) for k, a in communities.items()}
    courtyards = {a.id: a for a in areas if a.kind == "courtyard"}
    geometry = Geometry(path, streets, communities, grids, courtyards, district)
    for area in (*grids.values(), *courtyards.values()):  # a street named below the community must agree
        named, own = area.properties.get("street"), geometry.street_of(area.id)
        if named is not None and named != own:
            raise _fail(path, label(area), f"its street {named!r} is not {own!r}", "correct properties.street")
    return geometry


def _check_parent(path: Path, area: Area, streets, communities, grids, sole: str | None, district) -> None:
    """Each area names a parent that exists: a grid its community, a courtyard its grid, a community its
    street (the only one by default), a street the file's district."""
    where = label(area)
    named = {
        "grid": (communities, "community", "set properties.community to the id of a community feature"),
        "courtyard": (grids, "grid", "set properties.parent to the id of the grid feature it lies in"),
    }
    if area.kind in named and area.parent not in named[area.kind][0]:
        _, kind, fix = named[area.kind]
        raise _fail(path, where, f"its {kind} {area.parent!r} is not defined", fix)
    street = area.properties.get("street", sole)
    if area.kind == "community" and street not in streets:
        fix = "set properties.street to the id of a street feature"
        raise _fail(path, where, f"its street {street!r} is not defined", fix)
    owner = area.properties.get("district", district.id if district else None)
    if area.kind == "street" and district is not None and owner != district.id:
        raise _fail(path, where, f"its district {owner!r} is not {district.id!r}", "correct properties.district")


def _polygons(path: Path, where: str, geometry) -> tuple[Polygon, ...]:
    kind = geometry.get("type") if isinstance(geometry, dict) else None
    coordinates = geometry.get("coordinates") if kind else None
    parts = [coordinates] if kind == "Polygon" else coordinates if kind == "MultiPolygon" else None
    if not isinstance(parts, list) or not parts or not all(isinstance(p, list) and p for p in parts):
        raise _fail(
            path,
            where,
            "geometry is not a non-empty Polygon or MultiPolygon",
            'give it {"type": "Polygon", "coordinates": [[[lng, lat], ...]]}',
        )
    return tuple(
        tuple(
            check_ring(path, f"{where} ring {r}" + (f" of polygon {p}" if len(parts) > 1 else ""), ring)
            for r, ring in enumerate(part)
        )
        for p, part in enumerate(parts)
    )


def _check_areas(geometry: Geometry) -> None:
    """Grids inside their community, communities inside their street, streets inside the district, no
    overlaps, no gaps; courtyards inside their grid and apart from each other."""
    streets, communities, grids = geometry.streets.values(), geometry.communities.values(), geometry.grids.values()
    district = (geometry.district,) if geometry.district else ()
    fills = {a.id: set(fill_cells(a, CHECK_RESOLUTION)) for a in (*district, *streets, *communities, *grids)}
    grid_fills = {g.id: fills[g.id] for g in grids}
    lng, lat = next(iter(streets)).polygons[0][0][0]
    patches = Patches(geometry.path, h3.cell_area(h3.latlng_to_cell(lat, lng, CHECK_RESOLUTION), "m^2"), grid_fills)
    for area, kind in (*((s, "district") for s in streets if s.parent), *((c, "street") for c in communities)):
        patches.check(
            fills[area.id] - fills[area.parent],
            label(area),
            f"lies outside the {kind} {area.parent}",
            f"move the {area.kind}'s edges inside the {kind}",
        )
    for grid in grids:
        patches.check(
            fills[grid.id] - fills[grid.parent],
            label(grid),
            f"lies outside its community {grid.parent}",
            "move the grid's edges inside the community",
        )
    covered = set().union(*grid_fills.values())
    if len(covered) < sum(map(len, grid_fills.values())):
        _check_overlaps(patches, grid_fills, {g.id: g for g in grids})
    own = defaultdict(set)
    for grid in grids:
        own[grid.parent] |= fills[grid.id]
    for community in communities:
        patches.check(
            fills[community.id] - own[community.id],
            label(community),
            "is covered by none of its grids",
            "extend a grid of the community over the gap or add one",
            near=True,
        )
    for area in (*district, *streets):
        patches.check(
            fills[area.id] - covered,
            label(area),
            "is covered by no grid",
            "extend a neighbouring grid over the gap or add one",
            near=True,
        )
    _check_courtyards(patches, geometry, grid_fills)


def _check_courtyards(patches: Patches, geometry: Geometry, grid_fills: dict[str, set[int]]) -> None:
    """Each courtyard inside its grid, none overlapping another. The exact ring tests clear almost all
    of them at once; only a courtyard touching or crossing an edge is measured by the H3 area check,
    with the grids' tolerance (filling all 1,440 of the sample would add half the time of the load)."""
    courtyards, grids = geometry.courtyards, geometry.grids
    outside = [c for c in courtyards.values() if not clearly_within(c.rings, grids[c.parent].rings)]
    touching = [(a, b) for a, b in _near_pairs(courtyards.values()) if not clearly_apart(a.rings, b.rings)]
    suspects = {c.id: c for c in outside} | {c.id: c for pair in touching for c in pair}
    fills = {i: set(fill_cells(c, CHECK_RESOLUTION)) for i, c in suspects.items()}
    for courtyard in outside:
        patches.check(
            fills[courtyard.id] - grid_fills[courtyard.parent],
            label(courtyard),
            f"lies outside its grid {courtyard.parent}",
            "move the courtyard's edges inside the grid",
        )
    for first, second in touching:
        patches.check(
            fills[first.id] & fills[second.id],
            label(second),
            f"overlaps {label(first)}",
            "move the courtyards' edges apart so that no ground is in both",
        )


def _near_pairs(areas) -> list[tuple[Area, Area]]:
    """Pairs of areas whose boxes meet, in file order within a pair (a sweep from west to east)."""
    order = {a.id: n for n, a in enumerate(areas)}
    boxes = sorted(((box(a.rings), a) for a in areas), key=lambda item: item[0][0])
    pairs = []
    for k, ((_, south, east, north), area) in enumerate(boxes):
        for (west2, south2, _, north2), other in boxes[k + 1 :]:
            if west2 > east:
                break
            if south2 <= north and north2 >= south:
                pairs.append(tuple(sorted((area, other), key=lambda a: order[a.id])))
    return pairs


def _check_overlaps(patches: Patches, grid_fills: dict[str, set[int]], areas: dict[str, Area]) -> None:
    """Raises when two grids share a patch larger than the tolerance."""
    owner, shared = {}, defaultdict(set)
    for grid, cells in grid_fills.items():
        for cell in cells:
            first = owner.setdefault(cell, grid)
            if first != grid:
                shared[(first, grid)].add(cell)
    for (first, second), cells in shared.items():
        patches.check(
            cells,
            label(areas[second]),
            f"overlaps {label(areas[first])}",
            "make both grids follow the same vertices along their common edge",
        )
