"""The outline of polygons that meet along shared edges: a community from its grids, a street from its
communities, without a geometry library.

Edges two neighbours share run in opposite directions once every ring is oriented (outer rings
counter-clockwise, holes clockwise), so they cancel; what is left is the outline of the union. GIS
exports do not always put a vertex of one polygon on its neighbour's edge (T-junctions), and their
coordinates differ in the last digits, so vertices are first snapped to one another and edges split
at the vertices lying on them, within SNAP (about 5 cm).
"""

from __future__ import annotations

import bisect
import math
from collections import Counter, defaultdict

Point = tuple[int, int]  # lng, lat in units of 1e-7 degree: exact comparison of shared vertices
SCALE = 10_000_000
SNAP = 5  # units: 5e-7 degree, about 5 cm


def quantise(ring) -> list[Point]:
    return [(round(lng * SCALE), round(lat * SCALE)) for lng, lat in ring]


def signed_area(ring: list[Point]) -> float:
    """Twice the signed area in units²: positive for a counter-clockwise ring."""
    return sum(x0 * y1 - x1 * y0 for (x0, y0), (x1, y1) in zip(ring, ring[1:]))


def dissolve(polygons) -> list[list[list[Point]]]:
    """The union of `polygons` (each a list of closed rings of quantised points, outer ring first) as
    polygons of closed rings, outer first; holes smaller than nothing are kept, the caller decides."""
    rings = [_oriented(ring, index == 0) for polygon in polygons for index, ring in enumerate(polygon)]
    rings = _snapped(rings)
    edges = Counter()
    for ring in _split_at_vertices(rings):
        for a, b in zip(ring, ring[1:]):
            if a != b:
                edges[(a, b)] += 1
    for a, b in list(edges):
        shared = min(edges[(a, b)], edges.get((b, a), 0))
        if shared:
            edges[(a, b)] -= shared
            edges[(b, a)] -= shared
    outline = [edge for edge, n in edges.items() if n > 0]
    return _polygons(_chain(outline))


def _oriented(ring: list[Point], outer: bool) -> list[Point]:
    ccw = signed_area(ring) > 0
    return ring if ccw == outer else ring[::-1]


def _snapped(rings: list[list[Point]]) -> list[list[Point]]:
    """Every vertex moved onto the first vertex seen within SNAP of it."""
    keep: dict[Point, Point] = {}
    seen: list[Point] = []  # sorted by x
    for ring in rings:
        for p in ring:
            if p in keep:
                continue
            i = bisect.bisect_left(seen, (p[0] - SNAP, -math.inf))
            near = next(
                (
                    q
                    for q in seen[i : bisect.bisect_right(seen, (p[0] + SNAP, math.inf))]
                    if abs(q[1] - p[1]) <= SNAP and keep[q] == q
                ),
                None,
            )
            keep[p] = near or p
            bisect.insort(seen, p)
    out = []
    for ring in rings:
        moved = [keep[p] for p in ring]
        out.append([p for i, p in enumerate(moved) if i == 0 or p != moved[i - 1]])
    return out


def _split_at_vertices(rings: list[list[Point]]) -> list[list[Point]]:
    """Each edge split at every other vertex lying on it (within SNAP): a T-junction becomes a shared vertex."""
    points = sorted({p for ring in rings for p in ring})
    out = []
    for ring in rings:
        split = [ring[0]]
        for a, b in zip(ring, ring[1:]):
            lo = bisect.bisect_left(points, (min(a[0], b[0]) - SNAP, -math.inf))
            hi = bisect.bisect_right(points, (max(a[0], b[0]) + SNAP, math.inf))
            inner = [p for p in points[lo:hi] if p != a and p != b and _on_segment(p, a, b)]
            inner.sort(key=lambda p: (p[0] - a[0]) ** 2 + (p[1] - a[1]) ** 2)
            split += inner + [b]
        out.append(split)
    return out


def _on_segment(p: Point, a: Point, b: Point) -> bool:
    dx, dy = b[0] - a[0], b[1] - a[1]
    length2 = dx * dx + dy * dy
    if length2 == 0:
        return False
    t = ((p[0] - a[0]) * dx + (p[1] - a[1]) * dy) / length2
    if not 0 < t < 1:
        return False
    cross = (p[0] - a[0]) * dy - (p[1] - a[1]) * dx
    return cross * cross <= SNAP * SNAP * length2


def _chain(edges: list[tuple[Point, Point]]) -> list[list[Point]]:
    """Closed rings from directed edges. Where two rings touch at a vertex, each takes the outgoing edge
    nearest clockwise from where it came from, so the rings stay simple and apart."""
    leaving: dict[Point, list[Point]] = defaultdict(list)
    for a, b in edges:
        leaving[a].append(b)
    rings = []
    while leaving:
        start = next(iter(leaving))
        ring, previous, here = [start], None, start
        while True:
            nexts = leaving.get(here)
            if not nexts:
                raise ValueError(f"outline open at {here[1] / SCALE:.7f}, {here[0] / SCALE:.7f}")
            step = _tightest(previous, here, nexts) if previous is not None and len(nexts) > 1 else nexts[0]
            nexts.remove(step)
            if not nexts:
                del leaving[here]
            ring.append(step)
            previous, here = here, step
            if here == start:
                break
        rings.append(ring)
    return rings


def _tightest(previous: Point, here: Point, choices: list[Point]) -> Point:
    back = math.atan2(previous[1] - here[1], previous[0] - here[0])
    return min(choices, key=lambda c: (back - math.atan2(c[1] - here[1], c[0] - here[0])) % math.tau or math.tau)


def _polygons(rings: list[list[Point]]) -> list[list[list[Point]]]:
    outers = [r for r in rings if signed_area(r) > 0]
    polygons = [[r] for r in sorted(outers, key=signed_area)]  # smallest first: a hole goes to the nearest
    for hole in (r for r in rings if signed_area(r) < 0):
        mid = ((hole[0][0] + hole[1][0]) / 2, (hole[0][1] + hole[1][1]) / 2)
        owner = next((p for p in polygons if _inside(mid, p[0])), None)
        if owner is not None:
            owner.append(hole)
    return polygons[::-1]


def _inside(point, ring: list[Point]) -> bool:
    x, y = point
    inside = False
    for (x1, y1), (x2, y2) in zip(ring, ring[1:]):
        if (y1 > y) != (y2 > y) and x < x1 + (y - y1) * (x2 - x1) / (y2 - y1):
            inside = not inside
    return inside
