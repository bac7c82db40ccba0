"""A district of two streets made from the sample street, for tests of per-street isolation: the sample's outline
becomes the district, communities c01–c06 street `east` (东街道), the rest street `west` (西街道), each street
the union of its communities. Written to a file of the test's own; the sample itself stays one street."""

from __future__ import annotations

from pathlib import Path

from shapely.geometry import mapping, shape
from shapely.ops import unary_union

from config.settings import SAMPLE_GEOMETRY
from schemas import json

DISTRICT = "xicheng"
EAST, WEST = "east", "west"
EAST_COMMUNITIES = frozenset(f"c{n:02d}" for n in range(1, 7))


def street_of(community: str) -> str:
    return EAST if community in EAST_COMMUNITIES else WEST


def two_streets(directory: Path) -> Path:
    """The two-street district as GeoJSON in `directory`: its path."""
    document = json.loads(SAMPLE_GEOMETRY.read_bytes())
    features, communities = [], {EAST: [], WEST: []}
    for feature in document["features"]:
        props = feature["properties"]
        if props["kind"] == "street":
            props.update(kind="district", id=DISTRICT, name="西城区（示意）", name_en="Xicheng (illustrative)")
        elif "street" in props or props["kind"] == "community":  # every id below the street starts with its community's
            props["street"] = street_of(props["id"][:3])
        if props["kind"] == "community":
            communities[props["street"]].append(shape(feature["geometry"]))
        features.append(feature)
    for street, name in ((EAST, "东街道（示意）"), (WEST, "西街道（示意）")):
        outline = mapping(unary_union(communities[street]))
        properties = {"kind": "street", "id": street, "name": name, "district": DISTRICT}
        features.insert(1, {"type": "Feature", "properties": properties, "geometry": outline})
    path = directory / "two-streets.geojson"
    path.write_bytes(json.dumps({**document, "features": features}))
    return path
