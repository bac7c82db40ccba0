"""`redwall geometry import` on a GIS export made from the sample map: grids only, with the attribute
fields a street's GIS layer has, in the coordinates of Chinese base maps."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
from shapely.geometry import shape
from shapely.ops import unary_union

from config.crs import gcj02_to_bd09, wgs84_to_gcj02
from config.geometry import GeometryError, load_geometry
from config.geometry_import import Fields, import_geometry, write_geometry
from config.settings import SAMPLE_GEOMETRY
from schemas import json

FIELDS = Fields("JDDM", "SQDM", "WGBM", name="WGMC", community_name="SQMC", street_name="JDMC", prefix_grids=True)
CONVERT = {
    "wgs84": lambda lng, lat: (lng, lat),
    "gcj02": wgs84_to_gcj02,
    "bd09": lambda lng, lat: gcj02_to_bd09(*wgs84_to_gcj02(lng, lat)),
}


def gis_export(crs: str = "wgs84") -> dict:
    """The sample's grids as a GIS layer: one feature per grid, codes and names in attribute fields."""
    sample = json.loads(SAMPLE_GEOMETRY.read_bytes())["features"]
    names = {f["properties"]["id"]: f["properties"]["name"] for f in sample}
    features = []
    for f in sample:
        p = f["properties"]
        if p["kind"] != "grid":
            continue
        rings = f["geometry"]["coordinates"]
        polygons = [rings] if f["geometry"]["type"] == "Polygon" else rings
        converted = [[[list(CONVERT[crs](*pt)) for pt in ring] for ring in polygon] for polygon in polygons]
        features.append(
            {
                "type": "Feature",
                "geometry": {"type": "MultiPolygon", "coordinates": converted},
                "properties": {
                    "OBJECTID": len(features) + 1,
                    "JDDM": "xichangan",
                    "JDMC": "西长安街街道",
                    "SQDM": p["community"],
                    "SQMC": names[p["community"]],
                    "WGBM": p["id"].split("-")[1],
                    "WGMC": p["name"],
                },
            }
        )
    return {
        "type": "FeatureCollection",
        "features": features,
        "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:OGC:1.3:CRS84"}},
    }


def save(tmp_path: Path, document: dict) -> Path:
    path = tmp_path / "gis.geojson"
    path.write_bytes(json.dumps(document))
    return path


@pytest.mark.parametrize("crs", ["gcj02", "bd09"])
def test_an_export_in_chinese_map_coordinates_comes_back_as_the_sample_map(tmp_path, crs):
    document, notes = import_geometry(save(tmp_path, gis_export(crs)), FIELDS, crs)
    assert notes == []
    geometry = write_geometry(document, tmp_path / "street" / "geometry.geojson")  # the full check passes
    sample = load_geometry(SAMPLE_GEOMETRY, check_areas=False)
    assert geometry.street.id == "xichangan" and geometry.street.name == "西长安街街道"
    assert {c: a.name for c, a in geometry.communities.items()} == {c: a.name for c, a in sample.communities.items()}
    assert sorted(geometry.grids) == sorted(sample.grids)
    for grid in sample.grids.values():
        got = geometry.grids[grid.id]
        assert got.parent == grid.parent and got.name == grid.name
        for ring, expected in zip(got.rings, grid.rings):
            assert max(abs(a - b) for p, q in zip(ring, expected) for a, b in zip(p, q)) < 2e-7  # ~2 cm
    for community in sample.communities.values():
        outline = unary_union([shape(_geojson(p)) for p in geometry.communities[community.id].polygons])
        expected = unary_union([shape(_geojson(p)) for p in community.polygons])
        assert outline.symmetric_difference(expected).area < 1e-9, community.id  # under ~10 m²


def _geojson(polygon) -> dict:
    return {"type": "Polygon", "coordinates": [list(map(list, ring)) for ring in polygon]}


def _edit(change):
    document = gis_export()
    change(document)
    return document


@pytest.mark.parametrize(
    "change, crs, fields, expected",
    [
        (
            lambda d: None,
            "wgs84",
            Fields("JDDM", "COMMUNITY", "WGBM"),
            [
                "feature #0 (COMMUNITY): has no field 'COMMUNITY' (its fields: JDDM, JDMC, OBJECTID, SQDM, SQMC, WGBM, WGMC)",
                "--community-field",
            ],
        ),
        (
            lambda d: None,
            "wgs84",
            Fields("JDDM", "SQMC", "WGBM"),
            ["feature #0 (SQMC): id '新文化街社区' is not a community id", "--community-name-field"],
        ),
        (
            lambda d: None,
            "wgs84",
            Fields("JDDM", "SQDM", "WGBM"),
            ["feature #6 (WGBM): grid 'g01' is also in community 'c01' (feature #0)", "--prefix-grids"],
        ),
        (
            lambda d: d["features"][3]["properties"].update(JDDM="other"),
            "wgs84",
            FIELDS,
            ["names 2 streets: 'xichangan' (feature #0), 'other' (feature #3)", "filter the export"],
        ),
        (
            lambda d: d.update(crs={"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::4547"}}),
            "wgs84",
            FIELDS,
            ["is in the coordinate system urn:ogc:def:crs:EPSG::4547", "ogr2ogr -f GeoJSON -t_srs EPSG:4326"],
        ),
        (
            lambda d: d["features"][2]["geometry"]["coordinates"][0][0].__setitem__(1, [447123.5, 4419876.2]),
            "wgs84",
            FIELDS,
            ["feature #2 (geometry): has the position (447123.5, 4419876.2)", "ogr2ogr"],
        ),
        (
            lambda d: d["features"][2].update(geometry={"type": "LineString", "coordinates": [[116.37, 39.9]] * 2}),
            "wgs84",
            FIELDS,
            ["feature #2 (geometry): is LineString, not a Polygon or MultiPolygon"],
        ),
    ],
)
def test_a_wrong_export_or_field_names_the_input_feature_and_the_fix(tmp_path, change, crs, fields, expected):
    with pytest.raises(GeometryError) as caught:
        import_geometry(save(tmp_path, _edit(change)), fields, crs)
    message = str(caught.value)
    assert message.startswith(str(tmp_path / "gis.geojson"))
    for part in expected:
        assert part in message


def test_overlapping_grids_are_refused_naming_both_input_features_and_nothing_is_written(tmp_path):
    document = gis_export()
    twin = copy.deepcopy(document["features"][0])
    twin["properties"]["WGBM"] = "g99"
    document["features"].append(twin)
    imported, _ = import_geometry(save(tmp_path, document), FIELDS)
    out = tmp_path / "geometry.geojson"
    with pytest.raises(GeometryError) as caught:
        write_geometry(imported, out)
    message = str(caught.value)
    assert message.startswith(f"{out}: grid c01-g99 (input feature #71): about")
    assert "overlaps grid c01-g01 (input feature #0)" in message and "fix: " in message
    assert not out.exists() and list(tmp_path.glob(".geometry*")) == []
