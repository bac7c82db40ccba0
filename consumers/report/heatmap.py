"""Heat maps of the weekly report as inline SVG: H3 cells coloured by count over the community and grid
boundaries, projected equirectangularly (config/crs.py), with no map tiles and no network.
Pure: figures and geometry in, markup out.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from html import escape

import h3

from config.crs import METRES_PER_DEGREE, metres_per_degree_lng
from config.geometry import Area, Geometry

# A sequential scale (ColorBrewer YlOrRd, 5 classes): readable in print and by the colour-blind.
COLOURS = ("#ffffb2", "#fecc5c", "#fd8d3c", "#f03b20", "#bd0026")
MARGIN = 8  # px around the street, so its outline is not cut by the frame
LEGEND_HEIGHT = 28


@dataclass(frozen=True)
class Frame:
    """Where a (lng, lat) lands on a drawing `width` px wide: the street's extent, metres kept square."""

    west: float
    north: float
    scale_x: float  # px per degree of longitude
    scale_y: float  # px per degree of latitude
    width: int
    height: int

    def point(self, lng: float, lat: float) -> tuple[float, float]:
        return MARGIN + (lng - self.west) * self.scale_x, MARGIN + (self.north - lat) * self.scale_y


def whole(geometry: Geometry) -> Area:
    """What a map shows: the street, or the district of a map of several streets."""
    return geometry.district if len(geometry.streets) > 1 else geometry.street


def frame(geometry: Geometry, width: int) -> Frame:
    """The bounding box of the street (or district) scaled to `width`, with one scale in metres on both axes."""
    points = [p for polygon in whole(geometry).polygons for ring in polygon for p in ring]
    west, east = min(p[0] for p in points), max(p[0] for p in points)
    south, north = min(p[1] for p in points), max(p[1] for p in points)
    wide_m = (east - west) * metres_per_degree_lng((north + south) / 2)
    px_per_m = (width - 2 * MARGIN) / wide_m
    scale_x = px_per_m * metres_per_degree_lng((north + south) / 2)
    scale_y = px_per_m * METRES_PER_DEGREE
    height = math.ceil((north - south) * scale_y) + 2 * MARGIN
    return Frame(west, north, scale_x, scale_y, width, height)


def classes(maximum: int) -> list[tuple[int, int]]:
    """Up to five count classes [low, high] covering 1..maximum, split at equal steps of the square root
    (counts are Poisson-like: a square-root scale keeps one hot cell from washing out the rest)."""
    if maximum <= 0:
        return []
    edges = sorted({max(1, round((math.sqrt(maximum) * i / 5) ** 2)) for i in range(1, 6)})
    bounds, low = [], 1
    for high in edges:
        if high >= low:
            bounds.append((low, high))
            low = high + 1
    return bounds


def colour(n: int, bounds: list[tuple[int, int]]) -> str:
    """The colour of a cell counted `n` times; the scale's darkest when there are fewer classes than colours."""
    offset = len(COLOURS) - len(bounds)
    for i, (_, high) in enumerate(bounds):
        if n <= high:
            return COLOURS[offset + i]
    return COLOURS[-1]


def _path(rings, at: Frame) -> str:
    parts = []
    for ring in rings:
        xy = [at.point(lng, lat) for lng, lat in ring]
        parts.append("M" + "L".join(f"{x:.1f},{y:.1f}" for x, y in xy) + "Z")
    return "".join(parts)


def _outline(area: Area, at: Frame, css: str) -> str:
    rings = [ring for polygon in area.polygons for ring in polygon]
    return f'<path class="{css}" d="{_path(rings, at)}"/>'


def _ring(cell: str | int) -> list[tuple[float, float]]:
    name = h3.int_to_str(cell) if isinstance(cell, int) else cell
    return [(lng, lat) for lat, lng in h3.cell_to_boundary(name)]


def _cells(cells: list[dict], bounds, at: Frame) -> list[str]:
    """One path per colour class, lightest first: a district's thousands of cells are five SVG elements, which
    is what keeps the PDF's layout time down (it grows with elements, not with points)."""
    rings: dict[str, list] = defaultdict(list)
    for c in cells:
        rings[colour(c["n"], bounds)].append(_ring(c["cell"]))
    return [f'<path class="cells" fill="{fill}" d="{_path(rings[fill], at)}"/>' for fill in COLOURS if fill in rings]


def _legend(bounds, y: int, width: int) -> str:
    items, x = [], MARGIN
    for (low, high), fill in zip(bounds, COLOURS[len(COLOURS) - len(bounds) :], strict=True):
        text = str(low) if low == high else f"{low}–{high}"
        items.append(f'<rect x="{x}" y="{y}" width="14" height="12" fill="{fill}" stroke="#999" stroke-width="0.5"/>')
        items.append(f'<text x="{x + 18}" y="{y + 10}" class="legend">{text}</text>')
        x += 26 + 7 * len(text)
    items.append(f'<text x="{width - MARGIN}" y="{y + 10}" class="legend" text-anchor="end">每格上报数</text>')
    return "".join(items)


def heat_svg(
    cells: list[dict],
    geometry: Geometry,
    *,
    width: int = 640,
    labels: bool = True,
    title: str = "",
    maximum: int | None = None,
) -> str:
    """One heat map: every counted cell filled by its class, grid boundaries thin, communities thick,
    community names in Chinese (when `labels`), a legend of the classes below; of a district, one level up
    (communities thin, streets thick and named), its grids too small to draw. `maximum`: the top of the
    scale, when several maps share one (small multiples); else this map's largest count."""
    at, outer = frame(geometry, width), whole(geometry)
    thin, thick = (
        (geometry.communities, geometry.streets)
        if outer is geometry.district
        else (geometry.grids, geometry.communities)
    )
    bounds = classes(maximum or max((c["n"] for c in cells), default=0))
    body = _cells(cells, bounds, at)
    body += [_outline(area, at, "grid") for area in thin.values()]
    body += [_outline(area, at, "community") for area in thick.values()]
    body.append(_outline(outer, at, "street"))
    if labels:
        for area in thick.values():
            x, y = at.point(*area.centre)
            body.append(f'<text x="{x:.1f}" y="{y:.1f}" class="label">{escape(area.name)}</text>')
    height = at.height + LEGEND_HEIGHT
    head = f"<title>{escape(title)}</title>" if title else ""
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="heat" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}">{head}<style>{_STYLE}</style>'
        + "".join(body)
        + _legend(bounds, at.height + 8, width)
        + "</svg>"
    )


_STYLE = (
    ".grid{fill:none;stroke:#888;stroke-width:0.4}"
    ".community{fill:none;stroke:#333;stroke-width:1.4}"
    ".street{fill:none;stroke:#000;stroke-width:2}"
    ".label{font-size:10px;text-anchor:middle;fill:#1a3d7a;font-weight:bold}"
    ".legend{font-size:10px;fill:#222}"
)
