"""The jittered lattice the sample geometries are drawn on (config/sample/generate.py, district.py): corners
moved a little, each edge bent at a third and two thirds along and stored once, so neighbours share its exact
points; outlines of groups of quads traced along it, a walk through a block whose runs are contiguous, and
courtyards laid out inside a quad.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from schemas import json

# Corners move at most 12 % of a lattice step and edge midpoints bend at most 8 % sideways, far too
# little for neighbouring edges to cross, so every polygon stays simple.
JITTER, BEND = 0.12, 0.08
# Courtyards are laid out in the quad's own coordinates (0..1 each way, following its bent edges), INSET
# from the edges (~30 m of street along the border of the sample street's grids) with a LANE of ~10-16 m
# between neighbours, and the lines between them SHIFTed a little.
INSET, LANE, SHIFT = 0.07, 0.03, 0.015


@dataclass(frozen=True)
class Frame:
    """Where a lattice lies: its south-west corner, its step in degrees, and how many quads each way."""

    west: float
    south: float
    dx: float
    dy: float
    columns: int
    rows: int


def lattice(rng: random.Random, frame: Frame) -> dict:
    """Jittered corner positions, keyed by (column, row) of the lattice vertex."""
    west, south, dx, dy = frame.west, frame.south, frame.dx, frame.dy
    return {
        (i, j): (west + (i + rng.uniform(-JITTER, JITTER)) * dx, south + (j + rng.uniform(-JITTER, JITTER)) * dy)
        for i in range(frame.columns + 1)
        for j in range(frame.rows + 1)
    }


def edge_paths(corners: dict, rng: random.Random, frame: Frame) -> dict:
    """Each lattice edge as a bent polyline, stored once so both neighbours share its exact points."""
    paths = {}
    for i, j in sorted(corners):
        for b in ((i + 1, j), (i, j + 1)):
            if b not in corners:
                continue
            (x0, y0), (x1, y1) = corners[(i, j)], corners[b]
            # Perpendicular in lattice-step units, so bends look alike on both axes.
            nx, ny = -(y1 - y0) / frame.dy * frame.dx, (x1 - x0) / frame.dx * frame.dy
            mids = [
                (x0 + t * (x1 - x0) + s * nx, y0 + t * (y1 - y0) + s * ny)
                for t, s in ((1 / 3, rng.uniform(-BEND, BEND)), (2 / 3, rng.uniform(-BEND, BEND)))
            ]
            paths[((i, j), b)] = [corners[(i, j)], *mids, corners[b]]
    return paths


def quad_edges(i: int, j: int) -> list[tuple]:
    """The quad's four directed edges, counter-clockwise from its south-west corner."""
    c = [(i, j), (i + 1, j), (i + 1, j + 1), (i, j + 1)]
    return [(c[k], c[(k + 1) % 4]) for k in range(4)]


def outline(quads: list[tuple], paths: dict) -> list[list[float]]:
    """The closed, counter-clockwise ring around a group of quads, traced along its boundary edges."""
    edges = {e for q in quads for e in quad_edges(*q)}
    boundary = {a: b for a, b in edges if (b, a) not in edges}
    if len(boundary) != sum(1 for a, b in edges if (b, a) not in edges):
        raise ValueError(f"quads {quads} touch at a single corner; pick another grouping")
    start = vertex = min(boundary)
    ring = []
    while True:
        following = boundary[vertex]
        path = paths.get((vertex, following)) or paths[(following, vertex)][::-1]
        ring.extend(path[:-1])
        vertex = following
        if vertex == start:
            break
    if len(ring) != 3 * len(boundary):
        raise ValueError(f"quads {quads} have a hole or two parts; pick another grouping")
    return [[round(x, 7), round(y, 7)] for x, y in ring + ring[:1]]


def serpentine(count: int, bands: int, west: int = 0, south: int = 0) -> list[tuple]:
    """All quads of a block `count` columns wide and `bands` two-row bands high, its south-west quad at
    (west, south), in an order where each follows an edge-neighbour (`count` odd, so each band ends where
    the next begins). Any run of consecutive quads is then contiguous, and runs of 4-6 come out as
    compact blocks.
    """
    order = []
    for band in range(bands):
        columns = range(count) if band % 2 == 0 else range(count - 1, -1, -1)
        for k, i in enumerate(columns):
            rows = (south + 2 * band, south + 2 * band + 1)
            order.extend((west + i, j) for j in (rows if k % 2 == 0 else rows[::-1]))
    return order


def coons(i: int, j: int, paths: dict):
    """The map from (u, v) in the unit square onto quad (i, j) whose border follows the quad's four bent
    edges exactly (a Coons patch), so a shape inset in (u, v) and traced through it (patch_ring) stays
    inside however the edges bend."""
    bottom, top = _curve(paths[((i, j), (i + 1, j))]), _curve(paths[((i, j + 1), (i + 1, j + 1))])
    left, right = _curve(paths[((i, j), (i, j + 1))]), _curve(paths[((i + 1, j), (i + 1, j + 1))])
    corners = bottom(0), bottom(1), top(0), top(1)

    def at(u: float, v: float) -> tuple[float, float]:
        weights = ((1 - u) * (1 - v), u * (1 - v), (1 - u) * v, u * v)
        return tuple(
            (1 - v) * bottom(u)[k]
            + v * top(u)[k]
            + (1 - u) * left(v)[k]
            + u * right(v)[k]
            - sum(w * c[k] for w, c in zip(weights, corners))
            for k in (0, 1)
        )

    return at


def _curve(points: list[tuple]):
    """A polyline as a function of t in 0..1, its points evenly spaced in t."""
    last = len(points) - 1

    def at(t: float) -> tuple[float, float]:
        k = min(int(t * last), last - 1)
        f = t * last - k
        (x0, y0), (x1, y1) = points[k], points[k + 1]
        return x0 + f * (x1 - x0), y0 + f * (y1 - y0)

    return at


def splits(count: int, rng: random.Random) -> list[tuple[float, float]]:
    """`count` spans across INSET..1-INSET with a lane between neighbours; inner lines shifted a little."""
    lines = [INSET + (1 - 2 * INSET) * k / count for k in range(count + 1)]
    lines[1:-1] = [x + rng.uniform(-SHIFT, SHIFT) for x in lines[1:-1]]
    return [
        (lines[k] + (LANE / 2 if k else 0), lines[k + 1] - (LANE / 2 if k + 1 < count else 0)) for k in range(count)
    ]


def courtyards(
    grid: dict, quads: list[tuple], paths: dict, rng: random.Random, per_quad: tuple[int, int], bends: bool = False
) -> list[dict]:
    """The courtyard features of a grid (its properties), quad by quad, row by row from the south-west;
    `per_quad` (columns, rows) of them in each quad. With `bends`
    their sides follow the bends of the quad's edges (`patch_ring`); the street sample's are quadrilaterals,
    whose sides, shorter than a third of an edge, mostly span no bend."""
    across, up = per_quad
    rings = []
    for i, j in quads:
        at = coons(i, j, paths)
        columns, rows = splits(across, rng), splits(up, rng)
        for v0, v1 in rows:
            for u0, u1 in columns:
                corners = patch_ring(at, u0, u1, v0, v1) if bends else [at(u0, v0), at(u1, v0), at(u1, v1), at(u0, v1)]
                rings.append([[round(x, 7), round(y, 7)] for x, y in corners + corners[:1]])
    return [
        feature(
            {
                "kind": "courtyard",
                "id": f"{grid['id']}-y{n:02d}",
                "name": f"{grid['name']}{n}号院",
                "name_en": f"{grid['name_en']} courtyard {n}",
                "parent": grid["id"],
            },
            ring,
        )
        for n, ring in enumerate(rings, start=1)
    ]


def patch_ring(at, u0: float, u1: float, v0: float, v1: float) -> list[tuple]:
    """The outline of the rectangle u0..u1 x v0..v1 through the patch `at`, counter-clockwise, with a point
    wherever a side crosses a bend of the quad's edges (a third and two thirds along, as in edge_paths):
    the patch is straight between them, so the outline follows it exactly and stays inside the quad. A
    straight side across a bend can cut the bend's corner by a few metres, out of the grid."""

    def bends(a: float, b: float) -> list[float]:
        return [t for t in (1 / 3, 2 / 3) if a < t < b]

    return [
        *(at(u, v0) for u in (u0, *bends(u0, u1))),
        *(at(u1, v) for v in (v0, *bends(v0, v1))),
        *(at(u, v1) for u in (u1, *bends(u0, u1)[::-1])),
        *(at(u0, v) for v in (v1, *bends(v0, v1)[::-1])),
    ]


def feature(properties: dict, ring: list) -> dict:
    return {"type": "Feature", "properties": properties, "geometry": {"type": "Polygon", "coordinates": [ring]}}


def render(collection: dict) -> bytes:
    """One feature per line: valid GeoJSON that still diffs well when the generator changes."""
    head = {k: v for k, v in collection.items() if k != "features"}
    lines = [json.dumps(f) for f in collection["features"]]
    return json.dumps(head)[:-1] + b',"features":[\n' + b",\n".join(lines) + b"\n]}\n"
