"""Outlines of polygons that share edges, against shapely's union as the oracle."""

from __future__ import annotations

from shapely.geometry import Polygon
from shapely.ops import unary_union

from config.dissolve import SCALE, dissolve, quantise
from config.geometry import load_geometry
from config.settings import SAMPLE_GEOMETRY


def square(x0, y0, size=0.001, holes=()):
    ring = [(x0, y0), (x0 + size, y0), (x0 + size, y0 + size), (x0, y0 + size), (x0, y0)]
    return [quantise(ring), *(quantise(h) for h in holes)]


def shape(polygons) -> Polygon:
    return unary_union(
        [
            Polygon([(x / SCALE, y / SCALE) for x, y in p[0]], [[(x / SCALE, y / SCALE) for x, y in h] for h in p[1:]])
            for p in polygons
        ]
    )


def test_two_squares_sharing_an_edge_are_one_outline():
    out = dissolve([square(116.0, 39.0), square(116.001, 39.0)])
    assert len(out) == 1 and len(out[0]) == 1
    assert shape(out).symmetric_difference(shape([square(116.0, 39.0), square(116.001, 39.0)])).area < 1e-12


def test_a_vertex_on_the_neighbours_edge_and_last_digit_noise_still_merge():
    """A T-junction (a small square against half of a big one's edge), coordinates 3 cm apart."""
    big = square(116.0, 39.0, 0.002)
    small = square(116.002 + 3e-7, 39.0005, 0.001)
    out = dissolve([big, small])
    assert len(out) == 1 and len(out[0]) == 1


def test_squares_touching_at_a_corner_stay_two_simple_rings_and_a_ring_of_squares_has_a_hole():
    corner = dissolve([square(116.0, 39.0), square(116.001, 39.001)])
    assert sorted(len(r) for p in corner for r in p) == [5, 5]
    ring = [square(116.0 + i * 0.001, 39.0 + j * 0.001) for i in range(3) for j in range(3) if (i, j) != (1, 1)]
    out = dissolve(ring)
    assert len(out) == 1 and len(out[0]) == 2  # outline and the hole in the middle
    assert abs(shape(out).area - 8e-6) < 1e-12


def test_the_sample_grids_outline_their_communities():
    geometry = load_geometry(SAMPLE_GEOMETRY, check_areas=False)
    for community in geometry.communities.values():
        grids = [
            [quantise(r) for r in p] for g in geometry.grids.values() if g.parent == community.id for p in g.polygons
        ]
        out = shape(dissolve(grids))
        expected = unary_union([Polygon(p[0], p[1:]) for p in community.polygons])
        assert out.symmetric_difference(expected).area < 1e-9, community.id
