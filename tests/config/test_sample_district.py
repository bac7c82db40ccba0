"""The sample district (config/sample/district.py): a 2-street district passes the full area checks, its
streets, communities and names are as specified, the registry places points at the street border exactly,
and the file is the same bytes every time; the one-street sample is still what the generator writes."""

from __future__ import annotations

import random
import subprocess
import sys
from dataclasses import replace

import pytest
import shapely
from shapely.geometry import shape

from benchmarks.oracle import Oracle, edge_points
from config.geometry import GeometryError, load_geometry
from config.sample import district, generate
from config.sample.lattice import render
from config.settings import SAMPLE_GEOMETRY
from schemas import json
from streams.geofence.registry import GridRegistry

METRE = 1 / 111_320  # degrees of latitude


@pytest.fixture(scope="module")
def path():
    return district.district_path(2)


@pytest.fixture(scope="module")
def geometry(path):
    return load_geometry(path)  # with the full area checks


@pytest.fixture(scope="module")
def document(path) -> dict:
    return json.loads(path.read_bytes())


def test_a_two_street_district_loads_with_full_checks(geometry):
    assert geometry.district.id == "xicheng" and geometry.district.name == "西城区"
    assert list(geometry.streets) == ["xichangan", "xinjiekou"]
    assert {s.parent for s in geometry.streets.values()} == {"xicheng"}
    assert len(geometry.communities) == 18 + 17 and len(geometry.grids) == 2 * 72
    assert len(geometry.courtyards) == 6 * len(geometry.grids)


def test_every_community_names_one_of_the_streets(geometry, document):
    assert {c.parent for c in geometry.communities.values()} == set(geometry.streets)
    for feature in document["features"]:
        props = feature["properties"]
        if props["kind"] in ("community", "grid"):
            assert props["street"] == geometry.street_of(props["id"]) and props["street"] in geometry.streets
    assert geometry.street_of("s02c17-g04-y06") == "xinjiekou" and geometry.street_of("s01c01") == "xichangan"


def test_the_district_has_the_real_street_names_and_its_size():
    features = district.build()["features"]
    head, streets = (
        features[0]["properties"],
        [f["properties"] for f in features if f["properties"]["kind"] == "street"],
    )
    assert (head["kind"], head["id"], head["name"]) == ("district", "xicheng", "西城区")
    assert [s["name"].removesuffix("街道") for s in streets] == (
        [
            "西长安街",
            "新街口",
            "月坛",
            "展览路",
            "德胜",
            "金融街",
            "什刹海",
            "大栅栏",
            "天桥",
            "椿树",
            "陶然亭",
            "广安门内",
            "牛街",
            "白纸坊",
            "广安门外",
        ]
    )
    assert [s["id"] for s in streets][:3] == ["xichangan", "xinjiekou", "yuetan"]
    kinds = [f["properties"]["kind"] for f in features]
    assert (kinds.count("community"), kinds.count("grid")) == (260, 1080)


def test_the_registry_places_points_at_the_street_border_exactly(geometry, document):
    registry, oracle = GridRegistry.build(geometry), Oracle(document)
    first, second = (shape(f["geometry"]) for f in document["features"] if f["properties"]["kind"] == "street")
    border = first.boundary.intersection(second.boundary)
    assert border.length > 0.01  # degrees: the two streets share a side ~2 km long
    lats, lngs = edge_points([first, second], random.Random(5))
    points, rim = shapely.points(lngs, lats), shape(document["features"][0]["geometry"]).boundary
    # within a metre of the shared side, away from where it meets the district's outer edge
    near = (shapely.dwithin(points, border, 1.2 * METRE) & ~shapely.dwithin(points, rim, 3 * METRE)).nonzero()[0]
    chosen = sorted(random.Random(7).sample(list(near), 600))
    lats, lngs = [lats[i] for i in chosen], [lngs[i] for i in chosen]
    assert not oracle.problems(registry, lats, lngs)
    assert {registry.locate(lat, lng).street for lat, lng in zip(lats, lngs)} == {"xichangan", "xinjiekou"}


def test_the_oracle_refutes_a_registry_naming_the_wrong_street(geometry, document):
    moved = {k: replace(c, parent="xinjiekou") if k == "s01c01" else c for k, c in geometry.communities.items()}
    registry = GridRegistry.build(replace(geometry, communities=moved))
    grid = next(f for f in document["features"] if f["properties"]["id"] == "s01c01-g01")
    point = shape(grid["geometry"]).representative_point()
    assert registry.locate(point.y, point.x).street == "xinjiekou"
    problems = Oracle(document).problems(registry, [point.y], [point.x])
    assert len(problems) == 1 and "street='xinjiekou'" in problems[0] and "not its grid's" in problems[0]


def test_every_courtyard_lies_wholly_inside_its_grid(document):
    """Exactly, not only within the area checks' tolerance: a sliver out of its grid is a courtyard the
    registry cannot give (it names only courtyards of the grid it found)."""
    features = document["features"]
    grids = {f["properties"]["id"]: shape(f["geometry"]) for f in features if f["properties"]["kind"] == "grid"}
    yards = [f for f in features if f["properties"]["kind"] == "courtyard"]
    outside = [
        f["properties"]["id"] for f in yards if not shape(f["geometry"]).within(grids[f["properties"]["parent"]])
    ]
    assert yards and outside == []


def test_generation_is_deterministic(path, tmp_path):
    made = render(district.build(2))
    assert made == render(district.build(2)) == path.read_bytes()
    out = tmp_path / "d.geojson"
    args = [sys.executable, "-m", "config.sample.generate", "--district", "--streets", "2", "--out", str(out)]
    subprocess.run(args, check=True, capture_output=True)
    assert out.read_bytes() == made


def test_the_street_sample_is_unchanged():
    assert render(generate.build()) == SAMPLE_GEOMETRY.read_bytes()


def test_one_street_of_the_district_holds_its_own_communities_grids_and_courtyards_only():
    xicheng = load_geometry(district.district_path(2), check_areas=False)
    with pytest.raises(GeometryError, match="a district of 2 streets has no one street; name the street"):
        xicheng.street  # noqa: B018 (the property raises)
    east = xicheng.of_street("xinjiekou")
    assert east.street.id == "xinjiekou" and east.district == xicheng.district
    assert east.communities and all(c.parent == "xinjiekou" for c in east.communities.values())
    assert set(east.grids) == {g for g, area in xicheng.grids.items() if area.parent in east.communities}
    assert all(c.parent in east.grids for c in east.courtyards.values())
    assert len(east.grids) + len(xicheng.of_street("xichangan").grids) == len(xicheng.grids)
    with pytest.raises(GeometryError, match="no street 'nowhere'; the streets are xichangan, xinjiekou"):
        xicheng.of_street("nowhere")
