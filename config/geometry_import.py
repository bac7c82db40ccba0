"""`redwall geometry import`: a street's GIS export (a GeoJSON layer of grid polygons whose attributes
name the street, the community and the grid) into Redwall's geometry layout: one street, its
communities and their grids in WGS 84, the communities and the street drawn as the outline of their
grids. The result is checked as every geometry file is (config/geometry.py) before it is written, and
each message names the input feature and the fix.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from config.crs import CRS_NAMES, TO_WGS84
from config.dissolve import SCALE, dissolve, quantise
from config.geometry import Geometry, id_problem, load_geometry
from config.rings import GeometryError, fail, ring_area_m2, self_crossing
from schemas import json

# CRS names a GeoJSON may carry (the 2008 spec's "crs" member, which QGIS and ogr2ogr still write) that
# are longitude/latitude on WGS 84, or on CGCS2000 (EPSG:4490), which differs from it by centimetres.
LONLAT_CRS = ("CRS84", "EPSG:4326", "EPSG::4326", "EPSG:4490", "EPSG::4490")
REPROJECT = "reproject it: ogr2ogr -f GeoJSON -t_srs EPSG:4326 out.geojson IN (IN: the .shp, .gpkg or .geojson)"
SLIVER_M2 = 100.0  # a gap between grids smaller than this is closed, as config/geometry.py tolerates it


@dataclass(frozen=True)
class Fields:
    """Which attribute of each input feature holds what."""

    street: str
    community: str
    grid: str
    name: str | None = None  # the grid's name (default: its id)
    community_name: str | None = None
    street_name: str | None = None
    prefix_grids: bool = False  # grid codes repeat across communities: the id is <community>-<code>


@dataclass
class _Grid:
    id: str
    name: str
    community: str
    polygons: list
    sources: list[int]


def import_geometry(source: Path, fields: Fields, crs: str = "wgs84") -> tuple[dict, list[str]]:
    """The Redwall geometry document made from `source`, and notes for the person importing it."""
    if crs not in CRS_NAMES:
        raise GeometryError(f"--crs {crs!r}: use one of {', '.join(CRS_NAMES)}")
    features = _features(source)
    street_ids, communities, grids = {}, {}, {}
    for index, feature in enumerate(features):
        read = _Reader(source, index, feature)
        street = read.id(fields.street, "street")
        street_ids.setdefault(street, (index, read.text(fields.street_name) or street))
        community = read.id(fields.community, "community")
        communities.setdefault(community, read.text(fields.community_name) or community)
        code = read.id(fields.grid, "grid")
        grid_id = f"{community}-{code}" if fields.prefix_grids else code
        if id_problem("grid", grid_id):
            raise read.fail(
                fields.grid, id_problem("grid", grid_id), "shorten the codes, or import without --prefix-grids"
            )
        polygons = read.polygons(TO_WGS84[crs])
        grid = grids.setdefault(grid_id, _Grid(grid_id, read.text(fields.name) or grid_id, community, [], []))
        if grid.community != community:
            raise read.fail(
                fields.grid,
                f"grid {code!r} is also in community {grid.community!r} (feature #{grid.sources[0]})",
                "grid codes repeat across communities: import with --prefix-grids",
            )
        grid.polygons += polygons
        grid.sources.append(index)
    if len(street_ids) != 1:
        names = ", ".join(f"{s!r} (feature #{i})" for s, (i, _) in list(street_ids.items())[:3])
        raise fail(
            source,
            "file",
            f"names {len(street_ids)} streets: {names}",
            "import one street at a time: filter the export to it (QGIS: Select by Expression, Export Selected); "
            "a district's map holds each street so imported under a feature of kind district (docs/street-data.md)",
        )
    notes = []
    ((street, (_, street_name)),) = street_ids.items()
    return _document(source, street, street_name, communities, list(grids.values()), notes), notes


def write_geometry(document: dict, out: Path) -> Geometry:
    """Check the document as every geometry file is checked, then write it to `out` (never half-written)."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = out.with_name(f".{out.name}.importing")
    staging.write_bytes(json.dumps(document) + b"\n")
    try:
        geometry = load_geometry(staging)
    except GeometryError as error:
        staging.unlink()
        raise GeometryError(str(error).replace(str(staging), str(out), 1)) from None
    os.replace(staging, out)
    return geometry


def _features(source: Path) -> list:
    try:
        document = json.loads(Path(source).read_bytes())
    except OSError as error:
        raise fail(source, "file", f"cannot be read ({error.strerror})", "name the GeoJSON the GIS exported") from None
    except json.JSONDecodeError as error:
        raise fail(
            source,
            "file",
            f"is not JSON ({error})",
            "export GeoJSON from the GIS; a shapefile goes through: ogr2ogr -f GeoJSON -t_srs EPSG:4326 "
            "out.geojson in.shp",
        ) from None
    if (
        not isinstance(document, dict)
        or document.get("type") != "FeatureCollection"
        or not isinstance(document.get("features"), list)
        or not document["features"]
    ):
        raise fail(
            source, "file", "is not a GeoJSON FeatureCollection with features", "export the grid layer as GeoJSON"
        )
    crs = ((document.get("crs") or {}).get("properties") or {}).get("name", "CRS84")
    if not str(crs).upper().replace("URN:OGC:DEF:CRS:", "").replace("OGC:1.3:", "").endswith(LONLAT_CRS):
        raise fail(source, "file", f"is in the coordinate system {crs}, not longitude/latitude on WGS 84", REPROJECT)
    return document["features"]


class _Reader:
    """One input feature's attributes and polygons, each problem naming the feature."""

    def __init__(self, source: Path, index: int, feature):
        self.source, self.index = source, index
        self.props = feature.get("properties") if isinstance(feature, dict) else None
        self.geometry = feature.get("geometry") if isinstance(feature, dict) else None
        if not isinstance(self.props, dict):
            raise fail(source, f"feature #{index}", "has no properties", "export the layer with its attribute table")

    def fail(self, field: str, problem: str, fix: str) -> GeometryError:
        return fail(self.source, f"feature #{self.index} ({field})", problem, fix)

    def text(self, field: str | None) -> str:
        value = self.props.get(field) if field else None
        if isinstance(value, float) and value.is_integer():
            value = int(value)  # codes stored as numbers: 110102003.0 is the code 110102003
        return "" if value is None else str(value).strip()

    def id(self, field: str, kind: str) -> str:
        if field not in self.props:
            have = ", ".join(sorted(map(str, self.props))[:12]) or "none"
            raise self.fail(
                field,
                f"has no field {field!r} (its fields: {have})",
                f"name the field that holds the {kind} code with --{kind}-field",
            )
        value = self.text(field)
        problem = id_problem(kind, value) if value else f"the {kind} code is empty"
        if problem:
            raise self.fail(
                field,
                problem,
                f"give every {kind} a code of letters and digits in that field "
                f"(QGIS: Field Calculator), and put its name in the field --{'name' if kind == 'grid' else kind + '-name'}-field names",
            )
        return value

    def polygons(self, to_wgs84) -> list:
        kind = self.geometry.get("type") if isinstance(self.geometry, dict) else None
        parts = {
            "Polygon": [self.geometry.get("coordinates")] if kind else None,
            "MultiPolygon": self.geometry.get("coordinates") if kind else None,
        }.get(kind)
        if not isinstance(parts, list) or not parts:
            raise self.fail(
                "geometry",
                f"is {kind or 'missing'}, not a Polygon or MultiPolygon",
                "export the grids as polygons (QGIS: Polygonize a line layer first)",
            )
        return [[self._ring(ring, to_wgs84) for ring in part] for part in parts if isinstance(part, list)]

    def _ring(self, ring, to_wgs84) -> list:
        points = []
        for position in ring if isinstance(ring, list) else []:
            if not (
                isinstance(position, list)
                and len(position) >= 2
                and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in position[:2])
            ):
                raise self.fail("geometry", f"has the position {position!r}", "use [lng, lat] numbers")
            lng, lat = position[0], position[1]
            if not (-180 <= lng <= 180 and -90 <= lat <= 90):
                raise self.fail(
                    "geometry",
                    f"has the position ({lng}, {lat}), which is not longitude/latitude (projected metres?)",
                    REPROJECT,
                )
            if 0 <= lng <= 56 and 72 <= lat <= 90:
                raise self.fail(
                    "geometry",
                    f"has the position ({lng}, {lat}): latitude and longitude look swapped",
                    "export with longitude first, as GeoJSON requires ([lng, lat])",
                )
            points.append(tuple(round(v, 7) for v in to_wgs84(float(lng), float(lat))))
        return points


def _document(
    source: Path, street: str, street_name: str, communities: dict, grids: list[_Grid], notes: list[str]
) -> dict:
    features = [
        _feature(
            "street",
            street,
            street_name,
            {},
            _outline(f"street {street}", [p for g in grids for p in g.polygons], notes),
            "every feature",
        )
    ]
    for community, name in sorted(communities.items()):
        members = [g for g in grids if g.community == community]
        sources = "features " + ", ".join(f"#{i}" for g in members for i in g.sources)
        features.append(
            _feature(
                "community",
                community,
                name,
                {"street": street},
                _outline(f"community {community}", [p for g in members for p in g.polygons], notes),
                sources if len(sources) < 80 else "its grids",
            )
        )
    for grid in sorted(grids, key=lambda g: (g.community, g.id)):
        features.append(
            _feature(
                "grid",
                grid.id,
                grid.name,
                {"community": grid.community, "street": street},
                grid.polygons,
                "feature " + ", ".join(f"#{i}" for i in grid.sources),
            )
        )
    return {
        "type": "FeatureCollection",
        "name": street_name,
        "note": f"imported from {Path(source).name} by `redwall geometry import`; edit the GIS data and import "
        "again rather than this file",
        "features": features,
    }


def _feature(kind: str, ident: str, name: str, links: dict, polygons: list, source: str) -> dict:
    where = source if source == "every feature" or source == "its grids" else f"input {source}"
    properties = {"kind": kind, "id": ident, "name": name, **links, "source": where}
    coordinates = [[[list(p) for p in ring] for ring in polygon] for polygon in polygons]
    geometry = (
        {"type": "Polygon", "coordinates": coordinates[0]}
        if len(coordinates) == 1
        else {"type": "MultiPolygon", "coordinates": coordinates}
    )
    return {"type": "Feature", "properties": properties, "geometry": geometry}


def _outline(what: str, polygons: list, notes: list[str]) -> list:
    """The union of the polygons; where their edges do not meet cleanly enough for that, the polygons
    themselves (every check still holds; the map then draws the inner edges too)."""
    try:
        merged = dissolve([[quantise(ring) for ring in polygon] for polygon in polygons if polygon])
    except ValueError as error:
        notes.append(
            f"{what}: drawn as its grids ({error}); snap the grids to each other in the GIS "
            "(QGIS: Snap geometries to layer) and import again for one outline"
        )
        return polygons
    kept, slivers = [], 0
    for polygon in merged:
        outer, *holes = [tuple((x / SCALE, y / SCALE) for x, y in ring) for ring in polygon]
        rings = [outer, *(h for h in holes if ring_area_m2(h) >= SLIVER_M2)]
        slivers += len(polygon) - len(rings)
        if any(self_crossing(tuple(r)) for r in rings):
            notes.append(
                f"{what}: drawn as its grids (their outline touches itself); snap the grids in the GIS "
                "and import again for one outline"
            )
            return polygons
        kept.append(rings)
    if slivers:
        notes.append(f"{what}: closed {slivers} gap(s) smaller than {SLIVER_M2:.0f} m² between its grids")
    return kept
