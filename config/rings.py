"""One ring of a polygon, checked: [lng, lat] positions, closed, three corners or more, some area, and
no two edges crossing or touching. Every failure names the file, the feature and a fix. And the exact
tests between rings: a point inside, two areas' edges meeting, one area clearly within or apart from
another."""

from __future__ import annotations

import math
from pathlib import Path

from config.crs import METRES_PER_DEGREE, metres_per_degree_lng
from config.errors import ConfigError

Ring = tuple[tuple[float, float], ...]  # closed, (lng, lat) as in GeoJSON


class GeometryError(ConfigError):
    """The geometry file is wrong; the message names the file, the feature, the problem and a fix."""


def fail(path: Path, where: str, problem: str, fix: str) -> GeometryError:
    return GeometryError(f"{path}: {where}: {problem}; fix: {fix}")


def check_ring(path: Path, where: str, raw) -> Ring:
    if not isinstance(raw, list) or not all(_is_position(p) for p in raw):
        raise fail(path, where, "is not a list of [lng, lat] positions", "use [[lng, lat], ...] in degrees")
    if len(raw) < 2:
        raise fail(path, where, f"has {len(raw)} positions", "a ring needs 3 corners plus the closing position")
    if raw[0][:2] != raw[-1][:2]:
        raise fail(path, where, "is not closed", "repeat the first position at the end of the ring")
    # Repeated consecutive positions carry no shape; dropping them keeps the edge checks simple.
    ring = [(float(p[0]), float(p[1])) for p in raw]
    ring = tuple(p for i, p in enumerate(ring) if i == 0 or p != ring[i - 1])
    if len(ring) < 4:
        raise fail(path, where, f"has {len(ring) - 1} corners", "a ring needs 3 corners plus the closing position")
    if ring_area_m2(ring) < 0.01:
        raise fail(path, where, "has zero area", "spread its corners apart")
    crossing = self_crossing(ring)
    if crossing:
        i, j = crossing
        lng, lat = _meeting_point(ring[i], ring[i + 1], ring[j], ring[j + 1])
        raise fail(
            path,
            where,
            f"is self-intersecting: edges {i} and {j} meet near ({lat:.6f}, {lng:.6f})",
            "reorder or move the corners so that no two edges cross or touch",
        )
    return ring


def _is_position(p) -> bool:
    return (
        isinstance(p, list)
        and len(p) >= 2
        and all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in p[:2])
        and -180 <= p[0] <= 180
        and -90 <= p[1] <= 90
    )


def ring_area_m2(ring: Ring) -> float:
    """Planar area by the shoelace formula, scaled to metres at the ring's latitude."""
    twice = sum(x0 * y1 - x1 * y0 for (x0, y0), (x1, y1) in zip(ring, ring[1:]))
    return abs(twice) / 2 * METRES_PER_DEGREE * metres_per_degree_lng(ring[0][1])


def self_crossing(ring: Ring) -> tuple[int, int] | None:
    """The first pair of edges that cross, touch or fold back onto each other; O(n²) is plenty here."""
    edges = len(ring) - 1
    for i in range(edges):
        a, b = ring[i], ring[i + 1]
        for j in range(i + 1, edges):
            c, d = ring[j], ring[j + 1]
            if j == i + 1:
                bad = _folds_back(a, b, d)
            elif i == 0 and j == edges - 1:
                bad = _folds_back(c, a, b)
            else:
                bad = _segments_meet(a, b, c, d)
            if bad:
                return i, j
    return None


def inside(rings, lng: float, lat: float) -> bool:
    """Whether the point lies inside an area's rings (outer rings and holes alike), by even-odd counting."""
    found = False
    for ring in rings:
        for (x0, y0), (x1, y1) in zip(ring, ring[1:]):
            if (y0 > lat) != (y1 > lat) and lng < x0 + (lat - y0) * (x1 - x0) / (y1 - y0):
                found = not found
    return found


def box(rings) -> tuple[float, float, float, float]:
    """West, south, east and north of the rings."""
    lngs, lats = zip(*(p for ring in rings for p in ring))
    return min(lngs), min(lats), max(lngs), max(lats)


def rings_meet(a, b) -> bool:
    """Whether an edge of rings `a` crosses or touches an edge of rings `b`."""
    west, south, east, north = box(a)
    near = [
        (c, d)
        for ring in b
        for c, d in zip(ring, ring[1:])
        if max(c[0], d[0]) >= west and min(c[0], d[0]) <= east and max(c[1], d[1]) >= south and min(c[1], d[1]) <= north
    ]
    return any(_segments_meet(p, q, c, d) for ring in a for p, q in zip(ring, ring[1:]) for c, d in near)


def clearly_within(inner, outer) -> bool:
    """Whether area `inner` lies inside area `outer` with no edge of one meeting an edge of the other.
    With no edges meeting, a ring lies wholly on one side of the other area: one corner tells which.
    False means touching or crossing somewhere, for an area measure to judge."""
    return (
        not rings_meet(inner, outer)
        and all(inside(outer, *ring[0]) for ring in inner)
        and not any(inside(inner, *ring[0]) for ring in outer)
    )


def clearly_apart(a, b) -> bool:
    """Whether areas `a` and `b` share no point (False: touching or overlapping, for an area measure)."""
    return (
        not rings_meet(a, b)
        and not any(inside(b, *ring[0]) for ring in a)
        and not any(inside(a, *ring[0]) for ring in b)
    )


def _orient(p, q, r) -> int:
    v = (q[0] - p[0]) * (r[1] - p[1]) - (q[1] - p[1]) * (r[0] - p[0])
    return (v > 0) - (v < 0)


def _within_box(p, q, r) -> bool:
    """r lies in the bounding box of p-q (for a collinear r: on the segment)."""
    return min(p[0], q[0]) <= r[0] <= max(p[0], q[0]) and min(p[1], q[1]) <= r[1] <= max(p[1], q[1])


def _folds_back(a, b, c) -> bool:
    """Edges a-b and b-c, sharing b, overlap: collinear with c heading back towards a."""
    return _orient(a, b, c) == 0 and (b[0] - a[0]) * (c[0] - b[0]) + (b[1] - a[1]) * (c[1] - b[1]) < 0


def _segments_meet(a, b, c, d) -> bool:
    if max(a[0], b[0]) < min(c[0], d[0]) or max(c[0], d[0]) < min(a[0], b[0]):
        return False
    if max(a[1], b[1]) < min(c[1], d[1]) or max(c[1], d[1]) < min(a[1], b[1]):
        return False
    o1, o2, o3, o4 = _orient(a, b, c), _orient(a, b, d), _orient(c, d, a), _orient(c, d, b)
    if o1 != o2 and o3 != o4:
        return True
    return (
        (o1 == 0 and _within_box(a, b, c))
        or (o2 == 0 and _within_box(a, b, d))
        or (o3 == 0 and _within_box(c, d, a))
        or (o4 == 0 and _within_box(c, d, b))
    )


def _meeting_point(a, b, c, d) -> tuple[float, float]:
    """Where edges a-b and c-d cross; for parallel edges, the end of c-d that touches a-b."""
    denominator = (b[0] - a[0]) * (d[1] - c[1]) - (b[1] - a[1]) * (d[0] - c[0])
    if denominator == 0:
        return c if _within_box(a, b, c) else d
    t = ((c[0] - a[0]) * (d[1] - c[1]) - (c[1] - a[1]) * (d[0] - c[0])) / denominator
    return a[0] + t * (b[0] - a[0]), a[1] + t * (b[1] - a[1])
