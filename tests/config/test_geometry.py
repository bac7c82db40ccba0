"""Loading the grid geometry: the sample is clean, and each broken file fails naming file, feature and problem;
courtyards (院落) too, and a file without them still loads."""

from __future__ import annotations

import math

import pytest

from config.errors import ConfigError
from config.geometry import GeometryError, load_geometry
from config.settings import SAMPLE_GEOMETRY
from schemas import json

METRES_PER_DEGREE = 111_320.0


@pytest.fixture(scope="module")
def sample_bytes() -> bytes:
    return SAMPLE_GEOMETRY.read_bytes()


@pytest.fixture
def sample(sample_bytes) -> dict:
    """A fresh copy of the full sample, to break."""
    return json.loads(sample_bytes)


@pytest.fixture
def small(sample) -> dict:
    """The sample cut down to community c01 and its grids, with c01's outline as the street: the
    area checks then take a tenth of the time."""
    keep = [f for f in sample["features"] if "c01" in (f["properties"]["id"], f["properties"].get("community"))]
    street = feature(sample, "xichangan")
    street["geometry"] = json.loads(json.dumps(feature(sample, "c01")["geometry"]))
    sample["features"] = [street, *keep]
    return sample


@pytest.fixture
def yards(small) -> dict:
    """`small` with the courtyards of c01's grids."""
    full = json.loads(SAMPLE_GEOMETRY.read_bytes())["features"]
    small["features"] += [f for f in full if f["properties"].get("parent", "").startswith("c01-")]
    return small


def shift(doc: dict, ident: str, metres_east: float, metres_north: float = 0.0) -> None:
    for p in outer(doc, ident):
        p[0] += metres_east / (METRES_PER_DEGREE * math.cos(math.radians(p[1])))
        p[1] += metres_north / METRES_PER_DEGREE


def feature(doc: dict, ident: str) -> dict:
    return next(f for f in doc["features"] if f["properties"]["id"] == ident)


def outer(doc: dict, ident: str) -> list:
    return feature(doc, ident)["geometry"]["coordinates"][0]


def write(tmp_path, doc) -> str:
    path = tmp_path / "broken.geojson"
    path.write_bytes(json.dumps(doc))
    return path


def shared_midpoint(doc: dict, a: str, b: str) -> list:
    """A position on the edge between grids a and b that no other feature uses: moving it in one
    grid bends only that grid's edge, inside their community."""
    others = {
        tuple(p)
        for f in doc["features"]
        if f["properties"]["id"] not in (a, b)
        for p in f["geometry"]["coordinates"][0]
    }
    shared = {tuple(p) for p in outer(doc, a)} & {tuple(p) for p in outer(doc, b)}
    return sorted(shared - others)[0]


def push(doc: dict, grid: str, point: list, towards: str, metres: float) -> None:
    """Move `point` in grid's ring (both copies when it is the closing one) towards grid `towards`."""
    ring = outer(doc, towards)
    lng = sum(p[0] for p in ring[:-1]) / (len(ring) - 1)
    lat = sum(p[1] for p in ring[:-1]) / (len(ring) - 1)
    dx, dy = (lng - point[0]) * math.cos(math.radians(lat)), lat - point[1]
    scale = metres / (math.hypot(dx, dy) * METRES_PER_DEGREE)
    moved = [point[0] + (lng - point[0]) * scale, point[1] + (lat - point[1]) * scale]
    coords = outer(doc, grid)
    for i, p in enumerate(coords):
        if p == list(point):
            coords[i] = moved


def expect_error(tmp_path, doc, *fragments) -> str:
    path = write(tmp_path, doc)
    with pytest.raises(GeometryError) as caught:
        load_geometry(path)
    message = str(caught.value)
    assert str(path) in message and "fix:" in message
    for fragment in fragments:
        assert fragment in message, message
    return message


def test_the_sample_loads_cleanly():
    geometry = load_geometry(SAMPLE_GEOMETRY)
    assert geometry.street.id == "xichangan" and geometry.street.parent is None
    assert len(geometry.communities) == 13 and len(geometry.grids) == 71
    assert {c.parent for c in geometry.communities.values()} == {"xichangan"}
    grid = geometry.grids["c01-g01"]
    assert (grid.kind, grid.parent, grid.name) == ("grid", "c01", "新文化街社区第1网格")
    assert grid.rings[0][0] == grid.rings[0][-1] and len(grid.polygons) == 1
    assert len(geometry.courtyards) == 1440 and {c.parent for c in geometry.courtyards.values()} == set(geometry.grids)
    yard = geometry.courtyards["c01-g03-y07"]
    assert (yard.kind, yard.parent, yard.name) == ("courtyard", "c01-g03", "新文化街社区第3网格7号院")
    assert sum(c.parent == "c08-g03" for c in geometry.courtyards.values()) == 40  # the grid of two quads


def test_a_file_without_courtyards_loads(tmp_path, small):
    assert not any(f["properties"]["kind"] == "courtyard" for f in small["features"])
    geometry = load_geometry(write(tmp_path, small))
    assert geometry.courtyards == {} and len(geometry.grids) == 6


def test_the_courtyards_of_a_community_load(tmp_path, yards):
    geometry = load_geometry(write(tmp_path, yards))
    assert len(geometry.courtyards) == 6 * 20 and geometry.courtyards["c01-g06-y20"].parent == "c01-g06"


def test_courtyard_outside_its_grid(tmp_path, yards):
    shift(yards, "c01-g01-y01", metres_east=0, metres_north=-60)  # across the grid's southern edge
    expect_error(tmp_path, yards, "courtyard c01-g01-y01", "lies outside its grid c01-g01", "m² near (39.")


def test_courtyard_in_another_grid(tmp_path, yards):
    feature(yards, "c01-g01-y01")["properties"]["parent"] = "c01-g02"
    expect_error(tmp_path, yards, "courtyard c01-g01-y01", "lies outside its grid c01-g02")


def test_two_courtyards_overlap(tmp_path, yards):
    shift(yards, "c01-g01-y02", metres_east=-30)
    message = expect_error(tmp_path, yards, "courtyard c01-g01-y02", "overlaps courtyard c01-g01-y01")
    area = float(message.split("about ")[1].split(" m²")[0])
    assert 500 < area < 3000  # ~20 m of a ~65 m deep courtyard, less the ~10 m lane


def test_a_courtyard_inside_another_overlaps_it(tmp_path, yards):
    """No edges meet: the corners tell, and the area check measures it."""
    ring = outer(yards, "c01-g01-y05")
    lng = sum(p[0] for p in ring[:-1]) / 4
    lat = sum(p[1] for p in ring[:-1]) / 4
    inner = [[lng + (p[0] - lng) / 2, lat + (p[1] - lat) / 2] for p in ring]
    yards["features"].append(
        {
            "type": "Feature",
            "properties": {"kind": "courtyard", "id": "c01-g01-y99", "parent": "c01-g01"},
            "geometry": {"type": "Polygon", "coordinates": [inner]},
        }
    )
    expect_error(tmp_path, yards, "courtyard c01-g01-y99", "overlaps courtyard c01-g01-y05")


def test_courtyards_sharing_a_wall_pass(tmp_path, yards):
    """Edges that touch are no overlap: the exact test cannot clear them, the area check passes them."""
    west, east = outer(yards, "c01-g01-y01"), outer(yards, "c01-g01-y02")
    west[1], west[2] = list(east[0]), list(east[3])  # y01's east side on y02's west side
    geometry = load_geometry(write(tmp_path, yards))
    assert len(geometry.courtyards) == 120


def test_courtyard_of_an_unknown_grid(tmp_path, yards):
    feature(yards, "c01-g02-y03")["properties"]["parent"] = "c01-g99"
    expect_error(tmp_path, yards, "courtyard c01-g02-y03", "its grid 'c01-g99' is not defined", "properties.parent")


def test_courtyard_with_a_duplicate_id(tmp_path, yards):
    feature(yards, "c01-g02-y04")["properties"]["id"] = "c01-g02-y03"
    expect_error(tmp_path, yards, "courtyard c01-g02-y03", "duplicate id", "feature #")


def test_the_sample_says_it_is_illustrative(sample):
    assert "ILLUSTRATIVE" in sample["note"] and "NOT the official" in sample["note"]


def test_geometry_error_is_a_config_error():
    assert issubclass(GeometryError, ConfigError)


def test_a_multipolygon_loads_like_its_polygon(tmp_path, small):
    grid = feature(small, "c01-g01")["geometry"]
    ring = grid["coordinates"][0]
    grid.update(type="MultiPolygon", coordinates=[[ring]])
    area = load_geometry(write(tmp_path, small)).grids["c01-g01"]
    assert area.rings == (tuple(tuple(p) for p in ring),)


def test_a_sliver_within_tolerance_passes(tmp_path, small):
    point = shared_midpoint(small, "c01-g01", "c01-g02")
    push(small, "c01-g01", point, towards="c01-g02", metres=0.05)
    load_geometry(write(tmp_path, small))


def test_self_intersecting_polygon(tmp_path, small):
    ring = outer(small, "c01-g03")
    sw, se, ne, nw = ring[0], ring[3], ring[6], ring[9]
    feature(small, "c01-g03")["geometry"]["coordinates"] = [[sw, ne, se, nw, sw]]
    expect_error(tmp_path, small, "grid c01-g03", "self-intersecting")


def test_ring_folding_back_on_itself(tmp_path, small):
    ring = outer(small, "c01-g03")
    (x0, y0), (x1, y1) = ring[:2]
    ring[2:2] = [[2 * x1 - x0, 2 * y1 - y0], ring[1]]  # a spike out along the first edge and back
    expect_error(tmp_path, small, "grid c01-g03", "self-intersecting")


def test_unclosed_ring(tmp_path, small):
    outer(small, "c01-g02").pop()
    expect_error(tmp_path, small, "grid c01-g02", "ring 0", "is not closed")


def test_ring_with_too_few_positions(tmp_path, small):
    ring = outer(small, "c01-g02")
    feature(small, "c01-g02")["geometry"]["coordinates"] = [[ring[0], ring[3], ring[0]]]
    expect_error(tmp_path, small, "grid c01-g02", "has 2 corners")


def test_zero_area_ring(tmp_path, small):
    a, b = outer(small, "c01-g02")[:2]
    mid = [(a[0] + b[0]) / 2, (a[1] + b[1]) / 2]
    feature(small, "c01-g02")["geometry"]["coordinates"] = [[a, mid, b, a]]
    expect_error(tmp_path, small, "grid c01-g02", "zero area")


def test_grid_outside_its_community(tmp_path, small):
    for p in outer(small, "c01-g04"):
        p[1] -= 0.004  # ~440 m south, out of c01 and of the street
    expect_error(tmp_path, small, "grid c01-g04", "outside its community c01", "near (39.8")


def test_community_outside_the_street(tmp_path, small):
    for p in outer(small, "c01"):
        p[0] += 0.001
    expect_error(tmp_path, small, "community c01", "outside the street xichangan")


def test_two_grids_overlap(tmp_path, small):
    point = shared_midpoint(small, "c01-g01", "c01-g02")
    push(small, "c01-g01", point, towards="c01-g02", metres=30)
    message = expect_error(tmp_path, small, "grid c01-g02", "overlaps grid c01-g01", "m² near (39.")
    area = float(message.split("about ")[1].split(" m²")[0])
    assert 1000 < area < 10_000  # a triangle of ~30 m height on a ~280 m base


def test_gap_inside_a_community(tmp_path, small):
    point = shared_midpoint(small, "c01-g01", "c01-g02")
    push(small, "c01-g01", point, towards="c01-g01", metres=30)
    expect_error(tmp_path, small, "community c01", "covered by none of its grids", "c01-g01", "c01-g02")


def test_gap_inside_the_street(tmp_path, sample):
    sample["features"] = [f for f in sample["features"] if not f["properties"]["id"].startswith("c13")]
    expect_error(tmp_path, sample, "street xichangan", "covered by no grid", "next to grids")


def test_unknown_community(tmp_path, small):
    feature(small, "c01-g05")["properties"]["community"] = "c99"
    expect_error(tmp_path, small, "grid c01-g05", "'c99' is not defined")


def test_duplicate_id(tmp_path, small):
    feature(small, "c01-g02")["properties"]["id"] = "c01-g01"
    expect_error(tmp_path, small, "grid c01-g01", "duplicate id", "feature #")


def test_the_first_problem_in_file_order_is_reported(tmp_path, small):
    feature(small, "c01-g05")["properties"]["community"] = "c99"
    outer(small, "c01-g02").pop()
    message = expect_error(tmp_path, small, "grid c01-g02", "is not closed")
    assert "c01-g05" not in message


@pytest.mark.parametrize(
    "breaks, fragments",
    [
        (lambda doc: doc.update(type="Feature"), ["file", "FeatureCollection"]),
        (lambda doc: doc["features"][3]["properties"].pop("kind"), ["feature #3", "kind None"]),
        (lambda doc: doc["features"][3]["properties"].pop("id"), ["feature #3 (grid)", "has no id"]),
        (
            lambda doc: doc["features"].append(doc["features"][0] | {"properties": {"kind": "street", "id": "s2"}}),
            ["2 streets and no district"],
        ),
        (
            lambda doc: doc["features"][2].update(geometry={"type": "Point", "coordinates": [116.37, 39.9]}),
            ["grid c01-g01", "not a non-empty Polygon"],
        ),
        (
            lambda doc: doc["features"][2]["geometry"]["coordinates"][0].__setitem__(1, [116.37, "39.9"]),
            ["grid c01-g01", "ring 0", "[lng, lat]"],
        ),
    ],
)
def test_structure_errors(tmp_path, small, breaks, fragments):
    breaks(small)
    expect_error(tmp_path, small, *fragments)


def test_invalid_json_and_missing_file(tmp_path):
    path = tmp_path / "bad.geojson"
    path.write_text('{"type": "FeatureCollection",')
    with pytest.raises(GeometryError, match="bad.geojson: file: is not valid JSON"):
        load_geometry(path)
    with pytest.raises(GeometryError, match="missing.geojson: file: cannot be read"):
        load_geometry(tmp_path / "missing.geojson")


@pytest.fixture
def district(small) -> dict:
    """`small` as a district: a district feature over its one street, which names it."""
    street = feature(small, "xichangan")
    street["properties"]["district"] = "xicheng"
    head = {"kind": "district", "id": "xicheng", "name": "西城区"}
    small["features"].insert(
        0, {"type": "Feature", "properties": head, "geometry": json.loads(json.dumps(street["geometry"]))}
    )
    return small


def test_a_district_of_one_street_loads(tmp_path, district):
    geometry = load_geometry(write(tmp_path, district))
    assert geometry.district.id == "xicheng" and geometry.streets["xichangan"].parent == "xicheng"


def test_on_a_one_street_map_the_street_holds_the_unlocated_queue(tmp_path, district):
    beside = load_geometry(write(tmp_path, district), check_areas=False)  # a district feature beside the street
    for geometry in (load_geometry(SAMPLE_GEOMETRY, check_areas=False), beside):
        assert geometry.unlocated_area == geometry.streets["xichangan"] and geometry.unlocated_owner == "xichangan"


def test_in_a_district_of_several_streets_the_district_holds_the_unlocated_queue(tmp_path, district):
    second = json.loads(json.dumps(feature(district, "xichangan")))
    second["properties"]["id"] = "xinjiekou"
    district["features"].append(second)
    geometry = load_geometry(write(tmp_path, district), check_areas=False)
    assert geometry.unlocated_area == geometry.district and geometry.unlocated_owner == "xicheng"
    assert geometry.of_street("xinjiekou").unlocated_owner == "xinjiekou"  # one street of it, as a map of its own


def test_a_community_naming_an_unknown_street(tmp_path, district):
    feature(district, "c01")["properties"]["street"] = "xinjiekou"
    expect_error(tmp_path, district, "community c01", "its street 'xinjiekou' is not defined", "set properties.street")


def test_a_street_naming_another_district(tmp_path, district):
    feature(district, "xichangan")["properties"]["district"] = "dongcheng"
    expect_error(
        tmp_path,
        district,
        "street xichangan",
        "its district 'dongcheng' is not 'xicheng'",
        "correct properties.district",
    )


def test_two_districts(tmp_path, district):
    other = json.loads(json.dumps(district["features"][0]))
    other["properties"]["id"] = "dongcheng"
    district["features"].append(other)
    expect_error(tmp_path, district, "file", "has 2 district features", "keep at most one feature of kind district")


def test_many_streets_and_no_district(tmp_path, district):
    second = json.loads(json.dumps(feature(district, "xichangan")))
    second["properties"]["id"] = "xinjiekou"
    district["features"] = [second, *district["features"][1:]]
    expect_error(tmp_path, district, "file", "has 2 streets and no district", "add the feature of kind district")


def test_a_street_lying_outside_the_district(tmp_path, district):
    for p in outer(district, "xicheng"):
        p[0] += 0.001  # ~85 m east: the street's western strip is out of the district
    expect_error(
        tmp_path,
        district,
        "street xichangan",
        "lies outside the district xicheng",
        "near (39.",
        "move the street's edges inside the district",
    )
