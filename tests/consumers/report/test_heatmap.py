"""The heat map's pure parts: count classes, the projection, and the SVG drawn over the sample geometry."""

from __future__ import annotations

import re

import h3
import pytest
from hypothesis import given
from hypothesis import strategies as st

from config.crs import METRES_PER_DEGREE, metres_per_degree_lng
from config.geometry import load_geometry
from config.settings import SAMPLE_GEOMETRY
from consumers.report.heatmap import COLOURS, classes, colour, frame, heat_svg


@pytest.fixture(scope="module")
def geometry():
    return load_geometry(SAMPLE_GEOMETRY)


@given(st.integers(min_value=1, max_value=200_000))
def test_classes_cover_every_count_once_and_darken_with_it(maximum):
    bounds = classes(maximum)
    assert 1 <= len(bounds) <= len(COLOURS)
    assert bounds[0][0] == 1 and bounds[-1][1] == maximum
    assert all(low <= high for low, high in bounds)
    assert all(b[0] == a[1] + 1 for a, b in zip(bounds, bounds[1:], strict=False))
    shades = [COLOURS.index(colour(n, bounds)) for n in range(1, min(maximum, 2000) + 1)]
    assert shades == sorted(shades)
    assert colour(maximum, bounds) == COLOURS[-1]


def test_the_projection_keeps_a_metre_a_metre_both_ways(geometry):
    at = frame(geometry, 640)
    lng, lat = 116.375, 39.91
    x0, y0 = at.point(lng, lat)
    x1, _ = at.point(lng + 100 / metres_per_degree_lng(lat), lat)
    _, y1 = at.point(lng, lat - 100 / METRES_PER_DEGREE)
    assert x1 - x0 == pytest.approx(y1 - y0, rel=0.01)
    assert 0 < x0 < at.width and 0 < y0 < at.height


def test_a_cell_is_drawn_where_it_lies_with_its_class_colour(geometry):
    lat, lng = 39.91, 116.375
    hot, cold = h3.latlng_to_cell(lat, lng, 10), h3.latlng_to_cell(39.90, 116.36, 10)
    svg = heat_svg([{"cell": hot, "n": 40}, {"cell": cold, "n": 1}], geometry)
    at = frame(geometry, 640)
    x, y = at.point(lng, lat)
    hot_path = re.search(rf'<path class="cells" fill="{COLOURS[-1]}" d="M([^"]+)Z"/>', svg)
    assert hot_path, "the hottest class's path"
    xs = [float(p.split(",")[0]) for p in hot_path.group(1).split("L")]
    ys = [float(p.split(",")[1]) for p in hot_path.group(1).split("L")]
    assert len(xs) == 6  # one hexagon: the cell of 40 alone in its class
    assert min(xs) <= x <= max(xs) and min(ys) <= y <= max(ys)
    assert svg.count('class="cells"') == 2 and f'fill="{COLOURS[0]}"' in svg


def test_cells_of_one_class_share_one_path(geometry):
    cells = [{"cell": h3.latlng_to_cell(39.91, 116.36 + i * 0.002, 10), "n": 1 + i % 3} for i in range(12)]
    svg = heat_svg(cells, geometry)
    paths = re.findall(r'class="cells" fill="([^"]+)" d="([^"]+)"', svg)
    assert [fill for fill, _ in paths] == [COLOURS[-3], COLOURS[-2], COLOURS[-1]]  # 1, 2, 3: lightest first
    assert sum(d.count("M") for _, d in paths) == 12


def test_the_map_draws_every_boundary_and_names_communities_in_chinese(geometry):
    svg = heat_svg([], geometry)
    assert svg.count('class="grid"') == len(geometry.grids)
    assert svg.count('class="community"') == len(geometry.communities)
    for community in geometry.communities.values():
        assert f">{community.name}</text>" in svg
    assert "每格上报数" in svg
    assert "http" not in svg.replace('xmlns="http://www.w3.org/2000/svg"', "")  # no tiles, nothing fetched
    assert ">新文化街社区<" not in heat_svg([], geometry, labels=False)


def test_maps_sharing_a_scale_colour_a_count_alike(geometry):
    cell = h3.latlng_to_cell(39.91, 116.375, 10)
    alone = heat_svg([{"cell": cell, "n": 2}], geometry)
    shared = heat_svg([{"cell": cell, "n": 2}], geometry, maximum=40)
    assert f'class="cells" fill="{COLOURS[-1]}"' in alone  # its own top
    assert f'class="cells" fill="{colour(2, classes(40))}"' in shared and colour(2, classes(40)) != COLOURS[-1]
    assert "27–40" in shared  # the legend is the shared scale's
