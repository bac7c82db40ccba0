"""The grid registry against shapely, an independent oracle built straight from the GeoJSON file
(benchmarks/oracle.py): grids and courtyards alike, exact at their borders."""

from __future__ import annotations

import dataclasses
import random
import time
from collections import Counter

import h3
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from benchmarks.oracle import Oracle, edge_points
from config.geometry import load_geometry
from config.settings import SAMPLE_GEOMETRY, Settings
from schemas import json
from streams.geofence.registry import OUTSIDE, GridRegistry, Place

SOUTH, NORTH, WEST, EAST = 39.890, 39.930, 116.350, 116.405  # the street's bbox and a margin


@pytest.fixture(scope="module")
def registry() -> GridRegistry:
    return GridRegistry.build(load_geometry(SAMPLE_GEOMETRY), 12)


@pytest.fixture(scope="module")
def oracle() -> Oracle:
    return Oracle(json.loads(SAMPLE_GEOMETRY.read_bytes()))


def test_sample_has_13_communities_and_71_grids(registry):
    assert len(registry.communities) == 13 and len(registry.grids) == 71
    assert registry.street.id == "xichangan"
    with pytest.raises(TypeError):
        registry.grids["x"] = registry.grids["c01-g01"]


def test_one_lookup_gives_street_community_and_grid(registry, oracle):
    point = oracle.polygons[oracle.ids.index("c05-g02")].point_on_surface()
    place = registry.locate(point.y, point.x)
    assert place == Place("xichangan", "c05", "c05-g02") and not place.outside
    assert registry.locate(point.y, point.x) is place  # shared, not built per lookup


def test_outside_the_street_is_outside(registry):
    for lat, lng in [(39.93, 116.37), (39.91, 116.35), (39.89, 116.40), (0.0, 0.0), (-33.9, 151.2)]:
        place = registry.locate(lat, lng)
        assert place is OUTSIDE and place.outside and place.grid is None


def test_cell_and_stats(registry):
    cell = registry.cell(39.91, 116.37)
    assert h3.is_valid_cell(cell) and h3.get_resolution(cell) == 12
    stats = registry.stats()
    assert stats["grids"] == 71 and stats["communities"] == 13 and stats["resolution"] == 12
    assert 0 < stats["border_cells"] < stats["cells"]


def test_random_points_agree_with_the_oracle(registry, oracle):
    rng = random.Random(7)
    lats = [rng.uniform(SOUTH, NORTH) for _ in range(30_000)]
    lngs = [rng.uniform(WEST, EAST) for _ in range(30_000)]
    assert not oracle.problems(registry, lats, lngs)


@settings(max_examples=500, deadline=None)
@given(lat=st.floats(SOUTH, NORTH), lng=st.floats(WEST, EAST))
def test_any_point_agrees_with_the_oracle(registry, oracle, lat, lng):
    assert not oracle.problems(registry, [lat], [lng])


def test_points_within_a_metre_of_every_boundary(registry, oracle):
    """Along every grid edge every ~3 m: points 0.3-1 m off it on both sides, and points on it."""
    lats, lngs = edge_points(oracle.polygons, random.Random(11))
    assert len(lats) > 100_000
    assert not oracle.problems(registry, lats, lngs)


def test_points_within_a_metre_of_every_courtyard(registry, oracle):
    """The same along every courtyard's edges, and exactly on its corners: courtyard or not, exactly."""
    lats, lngs = edge_points(oracle.yards, random.Random(13))
    assert len(lats) > 300_000
    places = Counter(place.courtyard is None for place in map(registry.locate, lats, lngs))
    assert places[False] > 100_000 and places[True] > 100_000  # both sides of the edges are tried
    assert not oracle.problems(registry, lats, lngs)


def test_the_sample_has_courtyards_in_every_grid(registry, oracle):
    assert registry.stats()["courtyards"] == 1440 and set(oracle.yard_grid.values()) == set(registry.grids)
    yard = oracle.yards[oracle.yard_ids.index("c05-g02-y13")].point_on_surface()
    assert registry.locate(yard.y, yard.x) == Place("xichangan", "c05", "c05-g02", "c05-g02-y13")


def test_courtyards_never_change_the_grid_and_what_they_cost(registry):
    """The registry without its courtyards answers the same grids; prints both lookup rates (pytest -s)."""
    plain = GridRegistry.build(dataclasses.replace(registry.geometry, courtyards={}), 12)
    rng = random.Random(5)
    points = [(rng.uniform(39.895, 39.925), rng.uniform(116.355, 116.400)) for _ in range(200_000)]
    answers, rates = {}, {}
    for name, each in (("grids only", plain), ("grids and courtyards", registry)):
        started = time.perf_counter()
        answers[name] = [each.locate(lat, lng) for lat, lng in points]
        rates[name] = len(points) / (time.perf_counter() - started)
    with_yards, without = answers["grids and courtyards"], answers["grids only"]
    assert [p.grid for p in with_yards] == [p.grid for p in without] and all(p.courtyard is None for p in without)
    assert sum(p.courtyard is not None for p in with_yards) > 50_000
    print(", ".join(f"{name}: {rate:,.0f} lookups/s" for name, rate in rates.items()))


def test_corners_of_every_cell_in_the_street(registry, oracle):
    """Points just inside each corner of every res-12 cell: where a wrongly interior cell would show."""
    lats, lngs = [], []
    for cell in h3.h3shape_to_cells(h3.geo_to_h3shape(oracle.street.buffer(0.0005)), 12):
        clat, clng = h3.cell_to_latlng(cell)
        for lat, lng in h3.cell_to_boundary(cell):
            lats.append(lat + (clat - lat) * 0.02)
            lngs.append(lng + (clng - lng) * 0.02)
    assert not oracle.problems(registry, lats, lngs)


def holes_document() -> dict:
    """A grid with two holes, and a MultiPolygon grid filling exactly those holes."""

    def square(lng, lat, size):
        return [[lng, lat], [lng + size, lat], [lng + size, lat + size], [lng, lat + size], [lng, lat]]

    outer, holes = square(116.37, 39.90, 0.004), [square(116.371, 39.901, 0.001), square(116.3725, 39.9015, 0.001)]
    features = [
        ("street", "xichangan", {}, {"type": "Polygon", "coordinates": [outer]}),
        ("community", "c", {}, {"type": "Polygon", "coordinates": [outer]}),
        ("grid", "ring", {"community": "c"}, {"type": "Polygon", "coordinates": [outer, *(h[::-1] for h in holes)]}),
        ("grid", "islands", {"community": "c"}, {"type": "MultiPolygon", "coordinates": [[h] for h in holes]}),
    ]
    return {
        "type": "FeatureCollection",
        "features": [
            {"type": "Feature", "properties": {"kind": kind, "id": ident, **extra}, "geometry": geometry}
            for kind, ident, extra, geometry in features
        ],
    }


def test_holes_and_multipolygons(tmp_path):
    path = tmp_path / "holes.geojson"
    path.write_bytes(json.dumps(holes_document()))
    registry = GridRegistry.build(load_geometry(path), 12)
    assert registry.locate(39.9015, 116.3715).grid == "islands"
    assert registry.locate(39.9020, 116.3730).grid == "islands"
    assert registry.locate(39.9030, 116.3715).grid == "ring"
    rng = random.Random(3)
    lats = [rng.uniform(39.8995, 39.9045) for _ in range(20_000)]
    lngs = [rng.uniform(116.3695, 116.3745) for _ in range(20_000)]
    assert not Oracle(holes_document()).problems(registry, lats, lngs)


def test_from_settings_reads_the_configured_file(tmp_path):
    path = tmp_path / "holes.geojson"
    path.write_bytes(json.dumps(holes_document()))
    registry = GridRegistry.from_settings(Settings(geometry_path=path, h3_resolution=11))
    assert registry.resolution == 11 and list(registry.grids) == ["ring", "islands"]
    assert registry.locate(39.9015, 116.3715).grid == "islands"
